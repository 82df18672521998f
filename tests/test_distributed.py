"""Data-parallel training: sharding arithmetic, and 2 gloo processes against 1 process."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr

from lyra.data import splits
from lyra.config import task_from_config
from lyra.data.records import load_records
from lyra.training.distributed import local_batch_size, shard
from lyra.models.fold import train_fold
from lyra.data.synthetic import epistasis_landscape


@pytest.mark.parametrize("n, world", [(10, 2), (11, 2), (7, 3), (2, 4), (1, 3)])
def test_shards_cover_every_row_with_equal_lengths(n, world):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(n))
    parts = [shard(order, rank, world) for rank in range(world)]
    assert len({len(p) for p in parts}) == 1  # every rank runs the same number of steps
    assert len(parts[0]) == -(-n // world)
    assert set(torch.cat(parts).tolist()) == set(order.tolist())


def test_local_batches_of_all_ranks_make_up_the_single_process_batch():
    order = torch.randperm(96, generator=torch.Generator().manual_seed(0))
    world, batch_size = 4, 32
    local = local_batch_size(batch_size, world)
    parts = [shard(order, rank, world) for rank in range(world)]
    for step, start in enumerate(range(0, len(order), batch_size)):
        together = torch.cat([p[step * local : (step + 1) * local] for p in parts])
        assert sorted(together.tolist()) == sorted(order[start : start + batch_size].tolist())


def _prepared(tmp_path):
    landscape = epistasis_landscape(400, 12, alphabet="dna", orders=(1, 2), n_terms=(12, 2), noise=0.1, seed=0)
    landscape.to_csv(tmp_path / "landscape.csv", index=False)
    config = {
        "data_root": str(tmp_path),
        "seed": 0,
        "model": {"d_model": 16, "d_state": 8, "dropout": 0.0},
        "trainer": {"epochs": 8, "batch_size": 32, "patience": 10, "lr": 1e-2},
        "tasks": {"syn": {"input": {"format": "csv", "path": "landscape.csv", "header": True},
                          "columns": {"sequence": "sequence", "target": "target", "id": "id"},
                          "alphabet": "dna", "task_type": "regression", "metric": "spearman",
                          "split": {"scheme": "random", "fractions": [0.8, 0.1, 0.1], "seed": 0}}},
    }
    task = task_from_config(config, "syn")
    return splits.assign(load_records(task, tmp_path), task.split, task.name), task


def test_two_gloo_processes_train_like_one_process(tmp_path):
    prepared, task = _prepared(tmp_path)
    n_train = int((prepared["split"] == "train").sum())
    assert n_train % 2 == 0 and task.trainer.batch_size % 2 == 0  # no padding: the runs are equivalent
    runs = {}
    for n_gpus in (1, 2):
        task = task.replace(trainer=dataclasses.replace(task.trainer, n_gpus=n_gpus))
        summary = train_fold(prepared, task, 0, tmp_path / f"ranks{n_gpus}", progress=False)
        assert summary["device"] == ",".join(["cpu"] * n_gpus)
        runs[n_gpus] = pd.read_csv(tmp_path / f"ranks{n_gpus}" / "predictions.tsv", sep="\t")

    one, two = runs[1], runs[2]
    assert (one["id"] == two["id"]).all()
    train = (one["split"] == "train").to_numpy()
    assert spearmanr(one["y_true"][train], one["y_pred"][train]).statistic > 0.3  # it learned, so agreement means something
    for split in ("valid", "test"):
        rows = (one["split"] == split).to_numpy()
        rho_one = spearmanr(one["y_true"][rows], one["y_pred"][rows]).statistic
        rho_two = spearmanr(two["y_true"][rows], two["y_pred"][rows]).statistic
        assert abs(rho_one - rho_two) < 0.02, split
    # Same global batches and averaged gradients: predictions agree up to float summation order.
    scale = one["y_pred"].std()
    np.testing.assert_allclose(two["y_pred"], one["y_pred"], atol=1e-3 * scale)
    history_one = pd.read_csv(tmp_path / "ranks1" / "history.csv")
    history_two = pd.read_csv(tmp_path / "ranks2" / "history.csv")
    np.testing.assert_allclose(history_two["train_loss"], history_one["train_loss"], rtol=1e-3)
