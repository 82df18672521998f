"""The summary table and figure across tasks (rule ``summary``); see lyra.report.summary."""

import logging

from lyra.errors import exit_on_input_error
from lyra.report.summary import write_summary

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input or a refused write: one line, no traceback

write_summary(
    snakemake.params.tasks,
    snakemake.params.models,
    snakemake.input.metrics,
    snakemake.input.external,
    snakemake.input.leakage,
    snakemake.params.published,
    snakemake.output.table,
    snakemake.output.figure,
    snakemake.params.not_applicable,
)
