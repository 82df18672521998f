"""Choose a model's settings on validation rows with Optuna (rule ``tune``): the trials
table, a figure and the best settings (see lyra.models.tuning)."""

import logging

import torch

from lyra.config import Task
from lyra.errors import exit_on_input_error
from lyra.report.plots import tuning_plot
from lyra.results import read_prepared, write_json, write_table
from lyra.models.tuning import tune

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input or a refused write: one line, no traceback

torch.set_num_threads(snakemake.threads)
task = Task.from_dict(snakemake.params.task)
trials, best = tune(read_prepared(snakemake.input.prepared), task, snakemake.wildcards.model,
                    snakemake.params.variants)
write_table(trials, snakemake.output.table)
tuning_plot(trials, snakemake.output.figure, best["metric"], best["untuned_value"])
write_json(best, snakemake.output.best)
