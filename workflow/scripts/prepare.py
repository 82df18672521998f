"""Read a task's input, assign splits and report leakage (snakemake rule ``prepare``).

The task's input paths arrive already located relative to the working directory
(see ``prepared_task`` in rules/common.smk), so they are read from ".".
"""

import logging

from lyra.config import Task
from lyra.data.records import load_records
from lyra.errors import LyraInputError, exit_on_input_error
from lyra.results import write_json, write_prepared
from lyra.data.splits import assign, leakage_report, n_folds

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input: one line, no traceback

task = Task.from_dict(snakemake.params.task)
records = load_records(task, ".")
prepared = assign(records, task.split, task.name)
regions = records[["id", "chrom", "start", "end"]] if "chrom" in records else None  # BED input
if n_folds(prepared) != snakemake.params.n_folds:
    raise LyraInputError(
        "config",
        f"task '{task.name}', key split.n_folds",
        f"the data hold {n_folds(prepared)} folds but the workflow was planned for "
        f"{snakemake.params.n_folds}; set split.n_folds to {n_folds(prepared)}",
    )
write_prepared(prepared, snakemake.output.prepared)
write_json(leakage_report(prepared, task.split, regions), snakemake.output.leakage)
