"""Train one fold of one model on a prepared task (snakemake rule ``train``)."""

import logging
from pathlib import Path

import torch

from lyra.config import Task
from lyra.results import read_prepared, write_json
from lyra.runner import train_fold

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)

torch.set_num_threads(snakemake.threads)
summary = train_fold(
    read_prepared(snakemake.input.prepared),
    Task.from_dict(snakemake.params.task),
    int(snakemake.wildcards.fold),
    Path(snakemake.output.model).parent,
    model_name=snakemake.wildcards.model,
    progress=False,
    variants=snakemake.params.variants,
)
write_json(summary, snakemake.output.info)
