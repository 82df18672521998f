"""Metrics over all folds of one model on one task, with provenance (rule ``evaluate``);
with extra seed members (``trainer.n_seeds``) also the ensemble's metrics and calibration."""

import logging
from pathlib import Path

from lyra.config import Task
from lyra.analysis.ensemble import evaluate_members
from lyra.errors import exit_on_input_error
from lyra.io.provenance import collect
from lyra.results import evaluate_task, read_json, read_predictions, write_json

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input: one line, no traceback

task = Task.from_dict(snakemake.params.task)
runs = [read_json(p) for p in snakemake.input.info]
result = {"task": task.name, "model": snakemake.wildcards.model}
result.update(
    evaluate_task(
        read_predictions(*snakemake.input.predictions),
        task,
        n_boot=snakemake.params.n_boot,
        seed=snakemake.params.seed,
        source=", ".join(snakemake.input.predictions),
    )
)
if snakemake.input.seed_predictions:
    members = [read_predictions(*snakemake.input.predictions)]
    members += [read_predictions(p) for p in snakemake.input.seed_predictions]
    result["ensemble"] = evaluate_members(
        members, task, n_boot=snakemake.params.n_boot, seed=snakemake.params.seed
    )
result["folds"] = runs
result["provenance"] = collect(
    [Path(p) for p in [*snakemake.input.data, snakemake.input.prepared]],
    task.to_dict(),
    seed=task.seed,
    device=", ".join(sorted({str(run["device"]) for run in runs})),
    wall_time_s=sum(run["train_seconds"] for run in runs),
)
result["provenance"]["tuned_settings"] = runs[0].get("tuned")  # None: the task's own settings
write_json(result, snakemake.output[0])
