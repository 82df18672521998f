"""Test metric of several models on several tasks: table and grouped-bar figure
(rules ``experiment_baselines`` and ``experiment_ablation``)."""

import logging

from lyra.io.atomic import atomic_path
from lyra.errors import exit_on_input_error
from lyra.report.experiments import comparison_plot, results_table

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input or a refused write: one line, no traceback

table = results_table(snakemake.params.entries)
with atomic_path(snakemake.output.table) as tmp:
    table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
comparison_plot(table, snakemake.params.models, snakemake.output.figure, snakemake.params.title)
