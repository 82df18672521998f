"""docs/results.md from results/summary.tsv (rule ``results_page``); see lyra.report.results_page."""

import logging
from pathlib import Path

from lyra.report.results_page import write_results_page

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)

write_results_page(snakemake.input.table, snakemake.output[0], Path(snakemake.input.table).parent)
