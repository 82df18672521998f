"""The next batch of variants to measure for a task with a ``design:`` block (rule
``design``): the block's models' members as one ensemble score the candidate space around
the task's reference and ``lyra.analysis.design.design_batch`` chooses the batch."""

import logging

import torch

from lyra.config import Task
from lyra.analysis.design import (
    design_batch,
    measured_variants,
    parse_sites,
    singles_and_combinations,
    site_combinations,
)
from lyra.analysis.ensemble import load_ensemble
from lyra.errors import LyraInputError, exit_on_input_error
from lyra.analysis.mutagenesis import resolve_reference
from lyra.results import read_prepared, write_table
from lyra.analysis.variants import read_variants

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input: one line, no traceback
torch.set_num_threads(snakemake.threads)

task = Task.from_dict(snakemake.params.task)
design = task.design
where = f"task '{task.name}' key design"
ensemble = load_ensemble(list(snakemake.input.models))
records = read_prepared(snakemake.input.prepared)
reference = resolve_reference(task.reference, records, task.alphabet, task.t_as_u)[1]
reason = ensemble.unscorable_reason([reference])
if reason:
    raise LyraInputError("config", f"task '{task.name}' key reference", reason)
if design.get("sites"):
    sites = parse_sites(design["sites"], reference, task.alphabet, f"config {where}.sites")
    candidates = site_combinations(sites, task.alphabet)
elif design.get("candidates"):
    candidates = read_variants(snakemake.input.candidates, reference, task.alphabet)
else:
    candidates = singles_and_combinations(
        ensemble, reference, design["max_order"], design["pool"]
    )
measured = (
    measured_variants(records["sequence"], reference)
    if design["exclude_measured"]
    else set()
)
try:
    batch = design_batch(
        ensemble,
        reference,
        candidates,
        measured,
        design["batch_size"],
        design["acquisition"],
        design["beta"],
        design["seed"],
        design["max_per_mutation"],
    )
except LyraInputError:
    raise
except ValueError as error:  # an empty candidate space, a batch larger than it
    raise LyraInputError("config", where, str(error)) from None
write_table(batch, snakemake.output.batch)
logging.info(
    "%d proposals (%s) among %d candidates, %d measured variants excluded, %d members",
    len(batch),
    design["acquisition"],
    len(candidates),
    len(measured),
    len(ensemble),
)
