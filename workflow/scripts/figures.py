"""Draw the figures of one model on one task (rules ``figures_*``): the fold-0 learning
curve, and the scatter (regression) or ROC and confusion matrix (classification)."""

import json
import logging
from pathlib import Path

import pandas as pd

from lyra import plots

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)

out = snakemake.output
plots.learning_curves(pd.read_csv(snakemake.input.history), out.learning_curve)
predictions = pd.concat(
    [
        pd.read_csv(p, sep="\t", dtype={"id": str, "sequence": str, "split": str})
        for p in snakemake.input.predictions
    ],
    ignore_index=True,
)
metrics = json.loads(Path(snakemake.input.metrics).read_text())
if "scatter" in out.keys():
    test_value = metrics["splits"]["test"]["value"]["value"]
    plots.scatter_pred_vs_true(predictions, out.scatter, metrics["metric"], test_value, note=snakemake.params.note)
else:
    plots.roc_curves(predictions, metrics["classes"], out.roc)
    plots.confusion_matrix_plot(predictions, metrics["classes"], out.confusion)
