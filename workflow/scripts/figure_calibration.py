"""The calibration figure of a seed ensemble (rule ``figure_calibration``): the test rows'
|error| against the ensemble std, and the coverage of mean +- 1 / 2 std, with the variance
scale fitted on validation rows (metrics.json's ``ensemble.calibration``)."""

import logging

import numpy as np

from lyra.report import plots
from lyra.errors import exit_on_input_error
from lyra.results import read_json, read_predictions

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input or a refused write: one line, no traceback

members = [read_predictions(p) for p in snakemake.input.predictions]
values = np.stack([m["y_pred"].to_numpy(dtype=float) for m in members])
test = (members[0]["split"] == "test").to_numpy()
calibration = read_json(snakemake.input.metrics)["ensemble"]["calibration"]
plots.calibration_plot(
    members[0]["y_true"].to_numpy(dtype=float)[test],
    values.mean(axis=0)[test],
    values.std(axis=0)[test],
    calibration,
    snakemake.output[0],
)
