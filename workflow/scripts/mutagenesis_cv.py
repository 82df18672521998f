"""The cross-validated mutagenesis map of a k-fold task's ``reference`` (rule
``mutagenesis_cross_validated``): each substitution scored by the fold model that held it
out, compared with the measured single mutants (lyra.analysis.mutagenesis.cross_validated_map)."""

import logging

import torch

from lyra.config import Task
from lyra.analysis.ensemble import load_ensemble
from lyra.errors import LyraInputError, exit_on_input_error
from lyra.analysis.mutagenesis import resolve_reference, write_cross_validated_map
from lyra.results import read_prepared

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input: one line, no traceback
torch.set_num_threads(snakemake.threads)

task = Task.from_dict(snakemake.params.task)
prepared = read_prepared(snakemake.input.prepared)
ensemble = load_ensemble(list(snakemake.input.models))  # fold0 .. fold{k-1}, in order
reference = resolve_reference(task.reference, prepared, task.alphabet, task.t_as_u)
reason = ensemble.unscorable_reason([reference[1]])
if reason:
    raise LyraInputError("config", f"task '{task.name}' key reference", reason)
check = write_cross_validated_map(
    ensemble,
    reference,
    prepared,
    snakemake.output.table,
    snakemake.output.heatmap,
    snakemake.output.comparison,
    snakemake.output.check,
)
logging.info("cross-validated map of %s against the measured singles: %s", reference[0], check)
