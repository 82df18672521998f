"""Markdown table of benchmarks/quality_results.jsonl: validation Spearman per landscape x setting.

    .venv/bin/python benchmarks/quality_table.py [benchmarks/quality_results.jsonl]
"""

import json
import sys

import pandas as pd

path = sys.argv[1] if len(sys.argv) > 1 else "benchmarks/quality_results.jsonl"
rows = pd.DataFrame([json.loads(line) for line in open(path) if line.strip()])
rows = rows.drop_duplicates(["data", "setting", "seed"], keep="last")
ridge = rows[rows.setting == "ridge"].set_index(["data", "seed"])["valid_spearman"]
rows["ridge"] = [ridge.get((d, s), float("nan")) for d, s in zip(rows.data, rows.seed)]
rows["delta"] = rows.valid_spearman - rows.ridge
for col in ("best_epoch", "epochs_run"):
    if col not in rows:
        rows[col] = float("nan")
table = (rows.groupby(["data", "setting"])
         .agg(seeds=("seed", "count"), valid=("valid_spearman", "mean"), ridge=("ridge", "mean"),
              delta=("delta", "mean"), train=("train_spearman", "mean"), best_epoch=("best_epoch", "mean"),
              epochs_run=("epochs_run", "mean"), seconds=("seconds", "mean"))
         .reset_index())
print("| landscape | setting | seeds | valid Spearman | ridge valid | Lyra - ridge | train Spearman | best / run epochs | s |")
print("|---|---|---|---|---|---|---|---|---|")
for r in table.itertuples():
    epochs = "" if pd.isna(r.epochs_run) else f"{r.best_epoch:.0f} / {r.epochs_run:.0f}"
    print(f"| {r.data} | {r.setting} | {r.seeds} | {r.valid:.3f} | {r.ridge:.3f} | {r.delta:+.3f} | {r.train:.3f} | "
          f"{epochs} | {r.seconds:.0f} |")
