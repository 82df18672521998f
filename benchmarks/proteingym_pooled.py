"""A model's ProteinGym-style pooled Spearman on the pg_* tasks, beside the published value.

    python benchmarks/proteingym_pooled.py --model onehot_linear --valid none --out /tmp/pg
    python benchmarks/proteingym_pooled.py --model lyra --tasks pg_RASH_contiguous --encoding onehot blosum62

Trains every fold of each task with ``lyra.models.fold.train_fold`` (one CPU thread), scores
the fold predictions with ``lyra.results.evaluate_task`` (``kfold_aggregate: pooled``, so
the headline is ProteinGym's number: per-fold training-set z-scoring, all folds' test rows
pooled, one Spearman) and prints a Markdown table next to the config/published.yaml entry
named by ``--published`` (default: One-Hot Encodings). ``--valid`` overrides
``split.valid`` (ProteinGym trains its baselines on all four other folds: ``none``).
Writes ``<out>/<task>/<model>/fold<k>/`` and ``<out>/pooled_<model>.json`` (with each
fold's validation score, for choosing between settings on validation only).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch
import yaml

from lyra.data import splits
from lyra.models import fold as runner
from lyra.config import load_workflow_config
from lyra.data.records import load_records
from lyra.results import evaluate_task, read_predictions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="onehot_linear")
    parser.add_argument("--tasks", nargs="*", default=None, help="default: every pg_* task")
    parser.add_argument("--valid", choices=["fold", "random", "none"], default=None)
    parser.add_argument("--encoding", nargs="*", default=None, help="override Task.encoding (onehot, blosum62)")
    parser.add_argument("--seed", type=int, default=None, help="override the trainer seed (initialisation, batch order)")
    parser.add_argument("--no-crop", action="store_true", help="full-length sequences, as ProteinGym encodes them")
    parser.add_argument("--published", default="One-Hot Encodings")
    parser.add_argument("--out", default="/tmp/proteingym_pooled")
    args = parser.parse_args()
    torch.set_num_threads(1)

    config = load_workflow_config(yaml.safe_load(Path("config/config.yaml").read_text()))
    published = yaml.safe_load(Path(config.raw["published_table"]).read_text())["tasks"]
    names = args.tasks or [t for t in config.default_tasks if t.startswith("pg_")]
    rows = []
    for name in names:
        task = config.tasks[name]
        task = task.replace(kfold_aggregate="pooled",
                            split={**task.split, **({"valid": args.valid} if args.valid else {})},
                            **({"encoding": list(args.encoding)} if args.encoding else {}))
        if args.no_crop:
            task = task.replace(crop=None)
        if args.seed is not None:
            task = task.replace(trainer=dataclasses.replace(task.trainer, seed=args.seed))
        records = load_records(task, task.data_root or config.raw["data_root"])
        prepared = splits.assign(records, task.split, name)
        started, files, valid_scores = time.perf_counter(), [], []
        for fold in range(task.n_folds):
            out = Path(args.out) / name / args.model / f"fold{fold}"
            run = runner.train_fold(prepared, task, fold, out, model_name=args.model, progress=False,
                                    variants=config.variants)
            files.append(out / "predictions.tsv")
            valid_scores.append(run["best_valid_score"])
        metrics = evaluate_task(read_predictions(*files), task, n_boot=1)
        reference = next((e["value"] for e in published.get(name, []) if e["model"] == args.published), None)
        kfold = metrics["kfold"]
        rows.append({"task": name, "pooled_z": kfold["pooled_zscored"]["value"]["value"],
                     "fold_mean": kfold["mean"], "pooled_raw": metrics["splits"]["test"]["value"]["value"],
                     "per_fold": [f["value"]["value"] for f in kfold["per_fold"]], "published": reference,
                     "valid_scores": valid_scores,  # per fold: the validation score the model kept
                     "seconds": time.perf_counter() - started, "split_valid": task.split["valid"],
                     "encoding": task.encoding, "seed": task.trainer.seed,
                     "crop": task.crop})
        print(json.dumps(rows[-1]), flush=True)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / f"pooled_{args.model}.json").write_text(json.dumps(rows, indent=2) + "\n")
    fmt = lambda v: "NA" if v is None else f"{v:.3f}"  # noqa: E731
    print(f"\n| task | {args.model} pooled z | fold mean | {args.published} | diff |\n| --- | --- | --- | --- | --- |")
    for row in rows:
        diff = None if None in (row["pooled_z"], row["published"]) else row["pooled_z"] - row["published"]
        print(f"| {row['task']} | {fmt(row['pooled_z'])} | {fmt(row['fold_mean'])} | {fmt(row['published'])} | {fmt(diff)} |")


if __name__ == "__main__":
    main()
