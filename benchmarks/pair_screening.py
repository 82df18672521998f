"""How much of a landscape's pairwise epistasis can be found from training rows alone (issue 15).

One-hot ridge misses pairwise terms; a generic pairwise model (a polynomial kernel over
all position pairs) dilutes them among hundreds of empty pairs. This measures a third
route, a candidate for a future Lyra pair head: screen every position pair with a one-way
ANOVA F-test of one-hot ridge's training residuals on the pair's letter combinations, keep
the pairs with Bonferroni p < ``--alpha``, and refit RidgeCV on one-hot plus the kept
pairs' indicator features. Everything is fitted on training rows and scored on validation
rows; test rows are not read.

    .venv/bin/python benchmarks/fresh_landscapes.py --out /tmp/fresh
    .venv/bin/python benchmarks/pair_screening.py --fresh /tmp/fresh synthetic fresh_dna30

``synthetic`` is the default config's synthetic_epistasis landscape (its random 80/10 split
drawn with numpy, not the workflow's split); other names are folders of
``fresh_landscapes.py``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import yaml
from scipy import stats
from scipy.stats import spearmanr
from sklearn.linear_model import RidgeCV

from fresh_landscapes import term_design
from lyra.synthetic import epistasis_landscape

ALPHAS = np.logspace(-2, 4, 7)


def letter_codes(sequences: pd.Series, letters: np.ndarray) -> np.ndarray:
    """(rows, length) integer codes of equal-length sequences."""
    return np.searchsorted(letters, np.array([list(s) for s in sequences]))


def pair_p_values(codes: np.ndarray, n_letters: int, residual: np.ndarray) -> dict[tuple[int, int], float]:
    """One-way ANOVA p-value of the residual over each pair's observed letter combinations."""
    n, length = codes.shape
    total = residual.sum() ** 2 / n
    out = {}
    for p in range(length):
        for q in range(p + 1, length):
            cell = codes[:, p] * n_letters + codes[:, q]
            count = np.bincount(cell, minlength=n_letters**2)
            sums = np.bincount(cell, residual, minlength=n_letters**2)
            seen = count > 0
            k = int(seen.sum())
            between = (sums[seen] ** 2 / count[seen]).sum() - total
            within = (residual**2).sum() - between
            out[(p, q)] = stats.f.sf((between / (k - 1)) / (within / (n - k)), k - 1, n - k)
    return out


def evaluate(name: str, train: pd.DataFrame, valid: pd.DataFrame, target: str, alpha: float) -> dict:
    """Validation Spearman of one-hot ridge and of ridge on one-hot plus screened pairs."""
    start = time.time()
    letters = np.unique(np.array([list(s) for s in pd.concat([train.sequence, valid.sequence])]))
    train_codes, valid_codes = letter_codes(train.sequence, letters), letter_codes(valid.sequence, letters)
    y, y_valid = train[target].to_numpy(), valid[target].to_numpy()
    ridge = RidgeCV(alphas=ALPHAS).fit(term_design(train_codes, len(letters), []), y)
    residual = y - ridge.predict(term_design(train_codes, len(letters), []))
    p_values = pair_p_values(train_codes, len(letters), residual)
    kept = [pair for pair, p in p_values.items() if p < alpha / len(p_values)]
    screened = RidgeCV(alphas=ALPHAS).fit(term_design(train_codes, len(letters), kept), y)
    return {
        "landscape": name,
        "ridge_valid": round(spearmanr(ridge.predict(term_design(valid_codes, len(letters), [])), y_valid)[0], 3),
        "pairs_kept": len(kept),
        "pairs_tested": len(p_values),
        "screened_ridge_valid": round(spearmanr(screened.predict(term_design(valid_codes, len(letters), kept)), y_valid)[0], 3),
        "seconds": round(time.time() - start),
    }


def synthetic_rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The default config's synthetic landscape, 80% train / 10% valid rows."""
    with open("config/config.yaml") as handle:
        spec = yaml.safe_load(handle)["synthetic"]["epistasis"]
    frame = epistasis_landscape(**spec)
    order = np.random.default_rng(0).permutation(len(frame))
    n_train, n_valid = int(0.8 * len(frame)), int(0.1 * len(frame))
    return frame.iloc[order[:n_train]], frame.iloc[order[n_train:n_train + n_valid]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("landscapes", nargs="+", help="'synthetic' or folder names under --fresh")
    parser.add_argument("--fresh", default="/tmp/fresh", help="output folder of fresh_landscapes.py")
    parser.add_argument("--alpha", type=float, default=0.01, help="family-wise p-value threshold")
    args = parser.parse_args()
    rows = []
    for name in args.landscapes:
        if name == "synthetic":
            train, valid = synthetic_rows()
            rows.append(evaluate(name, train, valid, "target", args.alpha))
        else:
            train, valid = (pd.read_csv(f"{args.fresh}/{name}/{part}.csv") for part in ("train", "valid"))
            rows.append(evaluate(name, train, valid, "fitness", args.alpha))
        print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1), flush=True)


if __name__ == "__main__":
    main()
