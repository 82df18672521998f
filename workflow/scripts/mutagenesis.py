"""In-silico saturation mutagenesis of a task's ``reference`` (rule ``mutagenesis``): every
single substitution scored by the task's fold models as an ensemble (lyra.analysis.mutagenesis)."""

import logging

import torch

from lyra.config import Task
from lyra.analysis.ensemble import load_ensemble
from lyra.errors import LyraInputError, exit_on_input_error
from lyra.analysis.mutagenesis import resolve_reference, write_mutagenesis
from lyra.results import read_prepared

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input: one line, no traceback
torch.set_num_threads(snakemake.threads)

task = Task.from_dict(snakemake.params.task)
ensemble = load_ensemble(list(snakemake.input.models))
reference = resolve_reference(
    task.reference, read_prepared(snakemake.input.prepared), task.alphabet, task.t_as_u
)
reason = ensemble.unscorable_reason([reference[1]])
if reason:  # e.g. ridge and a reference longer than its training sequences
    raise LyraInputError("config", f"task '{task.name}' key reference", reason)
table = write_mutagenesis(
    ensemble, [reference], snakemake.output.table, snakemake.output.heatmap
)
logging.info(
    "%d substitutions of %s (%d positions) scored by %d models",
    len(table),
    reference[0],
    len(reference[1]),
    len(ensemble),
)
