"""Train one fold of one model on a prepared task (snakemake rules ``train`` and
``train_seed``: an extra seed member has the trainer seed plus ``seed_offset``)."""

import dataclasses
import logging
from pathlib import Path

import torch

from lyra.config import Task
from lyra.results import read_prepared, write_json
from lyra.runner import train_fold

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)

torch.set_num_threads(snakemake.threads)
task = Task.from_dict(snakemake.params.task)
if snakemake.params.seed_offset:
    trainer = task.trainer
    task = task.replace(
        trainer=dataclasses.replace(trainer, seed=trainer.seed + snakemake.params.seed_offset)
    )
summary = train_fold(
    read_prepared(snakemake.input.prepared),
    task,
    snakemake.params.fold,
    Path(snakemake.output.model).parent,
    model_name=snakemake.wildcards.model,
    progress=False,
    variants=snakemake.params.variants,
)
write_json(summary, snakemake.output.info)
