"""Forward time and peak memory of Lyra and the Transformer per sequence length, measured
by ``lyra.report.scaling`` in a fresh process per point (as ``benchmarks/run.py`` does): table
and log-log figure (rule ``experiment_scaling``)."""

import logging

from lyra.report import scaling
from lyra.io.atomic import atomic_path
from lyra.errors import exit_on_input_error
from lyra.report.experiments import scaling_plot, scaling_table

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input or a refused write: one line, no traceback


def repeats_for(name, length):
    """Timed calls per point; a single one for the slow long Transformer points."""
    return 1 if name == "transformer" and length >= 16_384 else snakemake.params.repeats


rows = scaling.forward_table(snakemake.params.lengths, snakemake.threads, repeats_for)
table = scaling_table(rows)
logging.info("machine: %s\n%s", scaling.machine(), table.to_string(index=False))
with atomic_path(snakemake.output.table) as tmp:
    table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
scaling_plot(table, snakemake.output.figure)
