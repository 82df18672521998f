"""Train one fold of one model on a prepared task (snakemake rules ``train`` and
``train_seed``: an extra seed member has the trainer seed plus ``seed_offset``). With a
``tuned`` input (the task's tune block says use: true) the search's best settings are
laid over the task's and recorded in train.json."""

import dataclasses
import logging
from pathlib import Path

import torch

from lyra.config import Task
from lyra.errors import exit_on_input_error
from lyra.results import read_json, read_prepared_coded, write_json
from lyra.models.fold import train_fold
from lyra.models.tuning import apply_settings

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input or a diverged training: one line, no traceback

torch.set_num_threads(snakemake.threads)
task = Task.from_dict(snakemake.params.task)
if snakemake.params.seed_offset:
    trainer = task.trainer
    task = task.replace(
        trainer=dataclasses.replace(trainer, seed=trainer.seed + snakemake.params.seed_offset)
    )
tuned = read_json(snakemake.input.tuned[0]) if snakemake.input.tuned else None
if tuned:
    task = apply_settings(task, tuned["settings"])
prepared, inputs = read_prepared_coded(snakemake.input.prepared, task.alphabet, task.ambiguous)  # 1 byte per position
summary = train_fold(
    prepared,
    task,
    snakemake.params.fold,
    Path(snakemake.output.model).parent,
    model_name=snakemake.wildcards.model,
    progress=False,
    variants=snakemake.params.variants,
    inputs=inputs,
)
if tuned:
    summary["tuned"] = {"settings": tuned["settings"], "valid_value": tuned["value"], "from": snakemake.input.tuned[0]}
write_json(summary, snakemake.output.info)
