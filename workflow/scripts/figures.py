"""Draw the figures of one model on one task (rules ``figures_*``): the fold-0 learning
curve, and the scatter (regression) or ROC and confusion matrix (classification)."""

import logging

import pandas as pd

from lyra.report import plots
from lyra.errors import exit_on_input_error
from lyra.results import read_json, read_predictions, test_value

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input or a refused write: one line, no traceback

out = snakemake.output
plots.learning_curves(pd.read_csv(snakemake.input.history), out.learning_curve)
predictions = read_predictions(*snakemake.input.predictions)
metrics = read_json(snakemake.input.metrics)
if "scatter" in out.keys():
    plots.scatter_pred_vs_true(predictions, out.scatter, metrics["metric"], test_value(metrics), note=snakemake.params.note)
else:
    plots.roc_curves(predictions, metrics["classes"], out.roc)
    plots.confusion_matrix_plot(predictions, metrics["classes"], out.confusion)
