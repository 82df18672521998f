"""Train one fold of one model on a prepared task (snakemake rule ``train``)."""

import json
import logging
from pathlib import Path

import pandas as pd
import torch

from lyra.atomic import atomic_path
from lyra.runner import train_fold

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)

torch.set_num_threads(snakemake.threads)
summary = train_fold(
    pd.read_csv(
        snakemake.input.prepared,
        sep="\t",
        dtype={"id": str, "sequence": str, "label": str, "group": str, "split": str},
        keep_default_na=False,
    ),
    snakemake.params.task,
    int(snakemake.wildcards.fold),
    Path(snakemake.output.model).parent,
    model_name=snakemake.wildcards.model,
    progress=False,
    variants=snakemake.params.variants,
)
with atomic_path(snakemake.output.info) as tmp:
    tmp.write_text(json.dumps(summary, indent=2))
