"""Metrics over all folds of one model on one task, with provenance (rule ``evaluate``)."""

import json
import logging
from pathlib import Path

import pandas as pd

from lyra.atomic import atomic_path
from lyra.errors import exit_on_input_error
from lyra.metrics import evaluate_task_predictions
from lyra.provenance import collect

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input: one line, no traceback

task = snakemake.params.task
predictions = pd.concat(
    [pd.read_csv(p, sep="\t", dtype={"id": str, "sequence": str, "split": str}) for p in snakemake.input.predictions],
    ignore_index=True,
)
runs = [json.loads(Path(p).read_text()) for p in snakemake.input.info]
result = {"task": task["name"], "model": snakemake.wildcards.model}
result.update(
    evaluate_task_predictions(
        predictions,
        task,
        n_boot=snakemake.params.n_boot,
        seed=snakemake.params.seed,
        source=", ".join(snakemake.input.predictions),
    )
)
result["folds"] = runs
result["provenance"] = collect(
    [Path(p) for p in [*snakemake.input.data, snakemake.input.prepared]],
    task,
    seed=task["seed"],
    device=", ".join(sorted({str(run["device"]) for run in runs})),
    wall_time_s=sum(run["train_seconds"] for run in runs),
)
with atomic_path(snakemake.output[0]) as tmp:
    tmp.write_text(json.dumps(result, indent=2, allow_nan=False))
