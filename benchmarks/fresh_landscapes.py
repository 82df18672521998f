"""Fresh fitness landscapes added to the workflow by config only (issue 15).

Writes, for each landscape below, train/valid/test CSV files (like a user's three files)
under ``--out`` and a config overlay ``fresh.yaml`` whose tasks name only the files,
columns, alphabet and split: no model or trainer settings, so each task trains with the
default config. Then run, from the repository root:

    .venv/bin/python benchmarks/fresh_landscapes.py --out /tmp/fresh
    .venv/bin/snakemake --cores all --configfile /tmp/fresh/fresh.yaml \\
        $(.venv/bin/python benchmarks/fresh_landscapes.py --out /tmp/fresh --targets)
    .venv/bin/python benchmarks/fresh_landscapes.py --out /tmp/fresh --table

Each landscape trains ``MODELS``: Lyra, one-hot ridge, ridge on one-hot plus the screened
pairs (``ridge_pairs``) and Lyra's heads without its backbone (``lyra_heads_only``, the
variant of config/experiments.yaml, added to the overlay). ``--table`` prints each
model's validation and test Spearman from the finished run's metrics.json files.

``ceiling.tsv`` gives, per landscape, what is learnable from its training rows when the
positions of every term are known: RidgeCV on the indicator features of each term's
letter combination (plus one-hot), fitted on train and scored on valid. It bounds what a
model that must find the terms itself can reach, and one-hot ridge's validation score
beside it shows how much non-additive signal there is to find.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import sparse
from scipy.stats import spearmanr
from sklearn.linear_model import RidgeCV

from lyra.data.alphabets import get_alphabet
from lyra.data.synthetic import epistasis_landscape

# name: (length, alphabet, terms per order 1/2/3, landscape seed); 8,000 / 1,000 / 2,000 rows;
# the fitness saturates (a sigmoid of the standardised signal) and carries noise (sd 0.05)
LANDSCAPES = {
    "fresh_dna30": (30, "dna", (30, 20, 5), 21),
    "fresh_dna60": (60, "dna", (40, 20, 5), 22),
    "fresh_dna100": (100, "dna", (60, 30, 5), 23),
    "fresh_protein30": (30, "protein", (30, 15, 3), 24),
    "fresh_protein40": (40, "protein", (40, 20, 5), 25),
    "fresh_protein80": (80, "protein", (60, 30, 5), 26),
}
ROWS = {"train": 8000, "valid": 1000, "test": 2000}
MODELS = ("lyra", "ridge", "ridge_pairs", "lyra_heads_only")
EXPERIMENTS = Path(__file__).resolve().parents[1] / "config" / "experiments.yaml"


def landscape(length: int, alphabet: str, n_terms: tuple[int, ...], seed: int) -> tuple[pd.DataFrame, list]:
    """Rows (id, sequence, fitness) and the positions of every term, drawn as
    ``lyra.data.synthetic.epistasis_landscape`` draws them (same generator calls)."""
    n = sum(ROWS.values())
    frame = epistasis_landscape(n, length, alphabet, (1, 2, 3), n_terms, noise=0.0, seed=seed)
    rng = np.random.default_rng(seed)
    n_letters = len(get_alphabet(alphabet).letters)
    rng.integers(0, n_letters, size=(n, length))  # the sequences, as in epistasis_landscape
    terms = []
    for order, count in zip((1, 2, 3), n_terms):
        for _ in range(count):
            terms.append(np.sort(rng.choice(length, size=order, replace=False)))
            rng.standard_normal((n_letters,) * order)
    noise = np.random.default_rng(seed + 1000).standard_normal(n)
    frame["fitness"] = 1.0 / (1.0 + np.exp(-1.5 * frame["target"])) + 0.05 * noise
    return frame.drop(columns="target"), terms


def term_design(codes: np.ndarray, n_letters: int, terms: list) -> sparse.csr_matrix:
    """One-hot of every position of ``codes`` (rows x length letter indices), then one
    indicator block of ``n_letters ** k`` columns per term (a tuple of k positions)."""
    n, length = codes.shape

    def indicators(key: np.ndarray, width: int) -> sparse.csr_matrix:
        return sparse.csr_matrix((np.ones(n), (np.arange(n), key)), shape=(n, width))

    blocks = [indicators(codes[:, p], n_letters) for p in range(length)]
    for positions in terms:
        key = np.zeros(n, dtype=int)
        for p in positions:
            key = key * n_letters + codes[:, p]
        blocks.append(indicators(key, n_letters ** len(positions)))
    return sparse.hstack(blocks).tocsr()


def ceiling(frame: pd.DataFrame, terms: list, alphabet: str, parts: dict) -> tuple[float, float]:
    """Validation Spearman of one-hot ridge and of ridge on the true terms' indicators."""
    letters = get_alphabet(alphabet).letters
    codes = np.array([[letters.index(c) for c in s] for s in frame["sequence"]])
    y = frame["fitness"].to_numpy()
    scores = []
    for features in (term_design(codes, len(letters), []), term_design(codes, len(letters), terms)):
        model = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(features[parts["train"]], y[parts["train"]])
        scores.append(float(spearmanr(model.predict(features[parts["valid"]]), y[parts["valid"]])[0]))
    return scores[0], scores[1]


def results_table() -> pd.DataFrame:
    """Validation and test Spearman of every model on every landscape (results/ of the run)."""
    rows = []
    for name in LANDSCAPES:
        for model in MODELS:
            metrics = json.loads(Path(f"results/{name}/{model}/metrics.json").read_text())
            rows.append({"task": name, "model": model,
                         "valid": round(metrics["splits"]["valid"]["value"]["value"], 3),
                         "test": round(metrics["splits"]["test"]["value"]["value"], 3),
                         "best_epoch": metrics["folds"][0].get("best_epoch")})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--targets", action="store_true", help="print the workflow targets and exit")
    ap.add_argument("--table", action="store_true", help="print validation and test Spearman per model and exit")
    args = ap.parse_args()
    if args.targets:
        print(" ".join(f"results/{name}/{model}/metrics.json" for name in LANDSCAPES for model in MODELS))
        return
    if args.table:
        print(results_table().to_string(index=False))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    tasks, rows = {}, []
    for name, (length, alphabet, n_terms, seed) in LANDSCAPES.items():
        frame, terms = landscape(length, alphabet, n_terms, seed)
        bounds = np.cumsum([0, *ROWS.values()])
        parts = {split: np.arange(lo, hi) for split, lo, hi in zip(ROWS, bounds[:-1], bounds[1:])}
        files = {}
        for split, index in parts.items():
            path = args.out / name / f"{split}.csv"
            path.parent.mkdir(exist_ok=True)
            frame.iloc[index].to_csv(path, index=False)
            files[split] = f"{name}/{split}.csv"
        tasks[name] = {"description": f"fresh landscape: {alphabet}, length {length}, terms {list(n_terms)}",
                       "data_root": str(args.out.resolve()), "input": {"format": "csv", "files": files},
                       "columns": {"sequence": "sequence", "target": "fitness", "id": "id"},
                       "alphabet": alphabet, "task_type": "regression", "split": {"scheme": "files"},
                       "metric": "spearman"}
        ridge, oracle = ceiling(frame, terms, alphabet, parts)
        rows.append({"task": name, "length": length, "alphabet": alphabet, "ridge_valid": round(ridge, 3),
                     "true_terms_valid": round(oracle, 3)})
    variants = yaml.safe_load(EXPERIMENTS.read_text())["model_variants"]
    overlay = {"model_variants": {"lyra_heads_only": variants["lyra_heads_only"]}, "tasks": tasks}
    (args.out / "fresh.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))
    table = pd.DataFrame(rows)
    table.to_csv(args.out / "ceiling.tsv", sep="\t", index=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
