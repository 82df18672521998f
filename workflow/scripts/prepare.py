"""Read a task's input, assign splits and report leakage (snakemake rule ``prepare``).

The task's input paths arrive already located relative to the working directory
(see ``prepared_task`` in rules/common.smk), so they are read from ".".
"""

import json
import logging

from lyra.atomic import atomic_path
from lyra.data import load_records
from lyra.errors import LyraInputError, exit_on_input_error
from lyra.splits import assign, leakage_report, n_folds

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input: one line, no traceback

task = snakemake.params.task
records = load_records(task, ".", task["name"])
prepared = assign(records, task)
regions = records[["id", "chrom", "start", "end"]] if "chrom" in records else None  # BED input
if n_folds(prepared) != snakemake.params.n_folds:
    raise LyraInputError(
        "config",
        f"task '{task['name']}', key split.n_folds",
        f"the data hold {n_folds(prepared)} folds but the workflow was planned for "
        f"{snakemake.params.n_folds}; set split.n_folds to {n_folds(prepared)}",
    )
with atomic_path(snakemake.output.prepared) as tmp:
    prepared.to_csv(tmp, sep="\t", index=False, float_format="%.9g")
with atomic_path(snakemake.output.leakage) as tmp:
    tmp.write_text(json.dumps(leakage_report(prepared, task, regions), indent=2))
