"""How much of a landscape's pairwise epistasis can be found from training rows alone (issue 15).

One-hot ridge misses pairwise terms; a generic pairwise model (a polynomial kernel over
all position pairs) dilutes them among hundreds of empty pairs. This measures the screen
of Lyra's pair head without the network: ``lyra.nn.pairs.screen_pairs`` (a one-way ANOVA
F-test of one-hot ridge's training residuals on each pair's letter combinations,
Benjamini-Hochberg at a false discovery rate of 0.05, re-screened in up to 3 rounds on
the residuals of ridge with the pairs kept so far), then RidgeCV on one-hot plus the kept
pairs' indicator features.
Everything is fitted on training rows and scored on validation rows; test rows are not
read.

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
from scipy.stats import spearmanr
from sklearn.linear_model import RidgeCV

from fresh_landscapes import LANDSCAPES, term_design
from lyra.data.alphabets import get_alphabet
from lyra.data.encode import one_hot
from lyra.nn.pairs import letter_codes, screen_pairs
from lyra.data.synthetic import epistasis_landscape

ALPHAS = np.logspace(-2, 4, 7)


def evaluate(name: str, train: pd.DataFrame, valid: pd.DataFrame, target: str, alphabet: str) -> dict:
    """Validation Spearman of one-hot ridge and of ridge on one-hot plus the pairs that
    ``lyra.nn.pairs.screen_pairs`` (the screen of Lyra's pair head) keeps on the training rows."""
    start = time.time()
    letters = get_alphabet(alphabet).letters
    (x, mask), (x_valid, mask_valid) = (one_hot(part.sequence.tolist(), alphabet, "error") for part in (train, valid))
    train_codes, valid_codes = letter_codes(x, mask), letter_codes(x_valid, mask_valid)
    y, y_valid = train[target].to_numpy(), valid[target].to_numpy()
    kept = screen_pairs(x, mask, (y - y.mean()) / y.std())
    scores = []
    for terms in ([], kept):
        ridge = RidgeCV(alphas=ALPHAS).fit(term_design(train_codes, len(letters), terms), y)
        scores.append(round(spearmanr(ridge.predict(term_design(valid_codes, len(letters), terms)), y_valid)[0], 3))
    length = train_codes.shape[1]
    return {"landscape": name, "ridge_valid": scores[0], "pairs_kept": len(kept),
            "pairs_tested": length * (length - 1) // 2, "screened_ridge_valid": scores[1],
            "seconds": round(time.time() - start)}


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
    args = parser.parse_args()
    rows = []
    for name in args.landscapes:
        if name == "synthetic":
            train, valid = synthetic_rows()
            rows.append(evaluate(name, train, valid, "target", "dna"))
        else:
            train, valid = (pd.read_csv(f"{args.fresh}/{name}/{part}.csv") for part in ("train", "valid"))
            rows.append(evaluate(name, train, valid, "fitness", LANDSCAPES[name][1]))
        print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1), flush=True)


if __name__ == "__main__":
    main()
