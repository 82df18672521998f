"""One row per task and model with the test metric, next to published values (rule ``summary``)."""

import json
import logging
from pathlib import Path

import pandas as pd

from lyra.atomic import atomic_path
from lyra.plots import summary_barplot

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)


def summary_row(path: str, published: dict) -> dict:
    """The summary fields of one metrics.json; ``published`` is the task's config entry
    (metric name -> value, or -> {value, source})."""
    metrics = json.loads(Path(path).read_text())
    test = metrics["splits"]["test"]
    kfold = metrics.get("kfold") or {}
    reference = published.get(metrics["metric"])
    if not isinstance(reference, dict):
        reference = {"value": reference}
    return {
        "task": metrics["task"],
        "model": metrics["model"],
        "metric": metrics["metric"],
        "value": test["value"]["value"],
        "ci_low": test["ci"]["low"],
        "ci_high": test["ci"]["high"],
        "n_test": test["n"],
        "n_folds": len(metrics["folds"]),
        "fold_mean": kfold.get("mean"),
        "fold_std": kfold.get("std"),
        "published_value": reference.get("value"),
        "published_source": reference.get("source"),
    }


published = snakemake.params.published
summary = pd.DataFrame(
    [summary_row(path, published[json.loads(Path(path).read_text())["task"]]) for path in snakemake.input.metrics]
)
with atomic_path(snakemake.output.table) as tmp:
    summary.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
summary_barplot(summary, snakemake.output.figure)
