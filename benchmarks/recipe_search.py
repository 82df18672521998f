"""Recipe search for the position-aware Lyra network (issue 29, item 5).

Draws small landscapes with ``lyra.data.synthetic.epistasis_landscape`` (DNA and protein,
lengths 30-80, terms up to order 4, several seeds), trains every recipe in ``RECIPES``
on each with ``lyra.models.fold.train_fold`` (the workflow's own training path: pair screen,
early stopping on validation) and appends one JSON line per (landscape, recipe) to
``--out``: validation and test Spearman and the kept epoch. Recipes are compared on
validation only; test is printed beside it, scored once per trained model.

    .venv/bin/python benchmarks/recipe_search.py --out /tmp/recipes.jsonl [--only NAME ...]
    .venv/bin/python benchmarks/recipe_search.py --out /tmp/recipes.jsonl --table

Sizes are kept small (4,000 / 500 / 1,000 rows, d_model 32, 20 epochs) for a shared
2-core CPU; one thread per run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from lyra.config import Task
from lyra.models.fold import train_fold
from lyra.data.synthetic import epistasis_landscape

ROWS = {"train": 4000, "valid": 500, "test": 1000}
# name: (length, alphabet, orders, terms per order, seed)
LANDSCAPES = {
    "rs_dna30_o4": (30, "dna", (1, 2, 3, 4), (30, 15, 8, 4), 31),
    "rs_protein40_o3": (40, "protein", (1, 2, 3), (30, 15, 6), 32),
    "rs_dna80_o4": (80, "dna", (1, 2, 3, 4), (40, 20, 10, 5), 33),
    "rs_dna50_o3": (50, "dna", (1, 2, 3), (30, 15, 15), 34),
}
SMALL = {"d_model": 32, "d_state": 32}
TRAINER = {"epochs": 20, "patience": 6, "batch_size": 128}
# name: (base model, model options over the default position-aware Lyra, trainer options)
RECIPES = {
    "ridge_pairs": ("ridge_pairs", {}, {}),
    "lyra_heads_only": ("lyra", {**SMALL, "position_aware": True, "backbone": False}, {}),
    "lyra": ("lyra", {**SMALL, "position_aware": True}, {}),
    "lyra_resid": ("lyra", {**SMALL, "position_aware": True}, {"ridge_init": True, "freeze_ridge": True}),
    "lyra_resid_nohidden": ("lyra", {**SMALL, "position_aware": True, "hidden_head": None},
                            {"ridge_init": True, "freeze_ridge": True}),
    "lyra_resid_lr3e-4": ("lyra", {**SMALL, "position_aware": True, "hidden_head": None},
                          {"ridge_init": True, "freeze_ridge": True, "lr": 3e-4, "patience": 10}),
    "lyra_resid_wide_nodrop": ("lyra", {"d_model": 64, "d_state": 32, "position_aware": True, "hidden_head": None,
                                        "dropout": 0.0}, {"ridge_init": True, "freeze_ridge": True}),
    "lyra_heads_only_resid_lr3e-4": ("lyra", {**SMALL, "position_aware": True, "backbone": False},
                                     {"ridge_init": True, "freeze_ridge": True, "lr": 3e-4, "patience": 10}),
    "lyra_resid_cosine": ("lyra", {**SMALL, "position_aware": True},
                          {"ridge_init": True, "freeze_ridge": True, "scheduler": "cosine", "epochs": 30,
                           "patience": 30}),
}


def landscape_rows(length: int, alphabet: str, orders, n_terms, seed: int) -> pd.DataFrame:
    """The prepared table train_fold reads: id, sequence, target, split, fold."""
    frame = epistasis_landscape(sum(ROWS.values()), length, alphabet, orders, n_terms, noise=0.1, seed=seed)
    frame["split"] = np.repeat(list(ROWS), list(ROWS.values()))
    frame["fold"] = 0
    return frame


def run_one(name: str, recipe: str) -> dict:
    length, alphabet, orders, n_terms, seed = LANDSCAPES[name]
    prepared = landscape_rows(length, alphabet, orders, n_terms, seed)
    base, options, trainer = RECIPES[recipe]
    task = Task.from_dict({"name": name, "input": {}, "alphabet": alphabet, "task_type": "regression",
                           "split": {"scheme": "files"}, "model": {"dropout": 0.2},
                           "trainer": {**TRAINER, **trainer}})
    variants = {recipe: {"base": base, "options": options}}
    with tempfile.TemporaryDirectory() as out:
        summary = train_fold(prepared, task, 0, out, recipe, progress=False, variants=variants)
        predictions = pd.read_csv(Path(out) / "predictions.tsv", sep="\t")
    row = {"landscape": name, "recipe": recipe, "best_epoch": summary.get("best_epoch"),
           "seconds": round(summary["train_seconds"], 1)}
    for split in ("valid", "test"):
        part = predictions[predictions["split"] == split]
        row[split] = round(float(spearmanr(part["y_pred"], part["y_true"])[0]), 4)
    return row


def table(path: Path) -> pd.DataFrame:
    rows = pd.DataFrame([json.loads(line) for line in path.read_text().splitlines() if line.strip()])
    return rows.drop_duplicates(["landscape", "recipe"], keep="last")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--only", nargs="*", help="recipes to run (default: all)")
    ap.add_argument("--landscapes", nargs="*", help="landscapes to run (default: all)")
    ap.add_argument("--table", action="store_true")
    args = ap.parse_args()
    if args.table:
        rows = table(args.out)
        print(rows.pivot(index="recipe", columns="landscape", values=["valid", "test"]).round(3).to_string())
        return
    torch.set_num_threads(1)
    for name in args.landscapes or LANDSCAPES:
        for recipe in args.only or RECIPES:
            row = run_one(name, recipe)
            print(json.dumps(row), flush=True)
            with args.out.open("a") as handle:
                handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
