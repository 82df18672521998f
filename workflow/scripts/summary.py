"""The summary table and figure across tasks (rule ``summary``); see lyra.summary."""

import logging

from lyra.summary import write_summary

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)

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
