"""Forward time and peak memory of Lyra and the Transformer per sequence length, measured
by ``benchmarks/run.py`` in a fresh process per point: table and log-log figure (rule
``experiment_scaling``)."""

import importlib.util
import logging

from lyra.atomic import atomic_path
from lyra.experiments import scaling_plot, scaling_table

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)

spec = importlib.util.spec_from_file_location("lyra_benchmark", snakemake.input.benchmark)
benchmark = importlib.util.module_from_spec(spec)
spec.loader.exec_module(benchmark)


def repeats_for(name, length):
    """Timed calls per point; a single one for the slow long Transformer points."""
    return 1 if name == "transformer" and length >= 16_384 else snakemake.params.repeats


rows = benchmark.forward_table(snakemake.params.lengths, snakemake.threads, repeats_for)
table = scaling_table(rows)
logging.info("machine: %s\n%s", benchmark.machine(), table.to_string(index=False))
with atomic_path(snakemake.output.table) as tmp:
    table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
scaling_plot(table, snakemake.output.figure)
