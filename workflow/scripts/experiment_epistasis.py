"""Test Spearman of each model against the landscape's interaction order: table and
figure (rule ``experiment_epistasis``)."""

import logging

from lyra.io.atomic import atomic_path
from lyra.errors import exit_on_input_error
from lyra.report.experiments import order_plot, results_table

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input or a refused write: one line, no traceback

table = results_table(snakemake.params.entries)
with atomic_path(snakemake.output.table) as tmp:
    table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
order_plot(table, snakemake.output.figure)
