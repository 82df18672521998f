"""Ensemble calibration (lyra.metrics.calibration, lyra.analysis.ensemble.evaluate_members) against
direct computations, and trainer.n_seeds in the config."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from lyra.config import task_from_config
from lyra.analysis.ensemble import evaluate_members
from lyra.errors import LyraInputError
from lyra.metrics import calibration


def _members(n_rows=300, n_members=4, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n_rows)
    noise = rng.uniform(0.2, 2.0, size=n_rows)
    split = np.array(["train", "valid", "test"])[rng.integers(0, 3, size=n_rows)]
    base = pd.DataFrame({"id": [f"r{i}" for i in range(n_rows)], "sequence": "ACGT", "split": split, "fold": 0,
                         "y_true": y})
    return [base.assign(y_pred=y + rng.normal(size=n_rows) * noise) for _ in range(n_members)]


def _task():
    return task_from_config({"tasks": {"t": {"input": {"format": "csv", "path": "x.csv"}, "alphabet": "dna",
                                             "task_type": "regression", "split": {"scheme": "random"},
                                             "trainer": {"n_seeds": 4}}}}, "t")


def test_calibration_equals_a_direct_computation():
    members = _members()
    result = evaluate_members(members, _task(), n_boot=50)
    predictions = np.stack([m["y_pred"].to_numpy() for m in members])
    mean, std = predictions.mean(axis=0), np.sqrt(((predictions - predictions.mean(axis=0)) ** 2).mean(axis=0))
    y, split = members[0]["y_true"].to_numpy(), members[0]["split"].to_numpy()
    valid, test = split == "valid", split == "test"
    scale = np.sqrt(np.mean(((y[valid] - mean[valid]) / std[valid]) ** 2))
    got = result["calibration"]
    assert got["variance_scale"]["value"] == pytest.approx(scale)
    assert got["spearman_abs_error_std"]["value"] == pytest.approx(
        spearmanr(np.abs(y[test] - mean[test]), std[test]).statistic)
    for k in (1, 2):
        expected = np.mean(np.abs(y[test] - mean[test]) <= k * scale * std[test])
        assert got[f"coverage_{k}sd"]["value"] == pytest.approx(expected)
    assert got["spearman_abs_error_std"]["value"] > 0.2  # the spread here does track the error
    assert result["n_members"] == 4
    assert result["splits"]["test"]["value"]["value"] == pytest.approx(
        spearmanr(y[test], mean[test]).statistic)


def test_identical_members_leave_calibration_undefined():
    members = _members(n_members=1) * 3
    result = calibration(*[(m["y_true"], m["y_pred"], np.zeros(len(m))) for m in (members[0], members[0])])
    assert result["variance_scale"]["undefined"] and result["coverage_1sd"]["undefined"]


def test_members_equal_up_to_float_noise_leave_calibration_undefined():
    # e.g. every seed keeping the same ridge model: predictions differ only in the last bits
    members = _members(n_members=1)
    y, mean = members[0]["y_true"].to_numpy(), members[0]["y_pred"].to_numpy()
    noise_std = np.full(len(y), 3e-8) * np.maximum(1.0, np.abs(mean))
    result = calibration((y, mean, noise_std), (y, mean, noise_std))
    assert result["variance_scale"]["undefined"] and "identical members" in result["variance_scale"]["reason"]
    assert result["coverage_1sd"]["undefined"] and result["coverage_2sd"]["undefined"]
    real_std = noise_std + 0.5  # a spread well above float noise gives a number
    assert not calibration((y, mean, real_std), (y, mean, real_std))["variance_scale"]["undefined"]


def test_n_seeds_on_a_kfold_task_is_a_config_error():
    config = {"tasks": {"k": {"input": {"format": "csv", "path": "x.csv"}, "alphabet": "dna",
                              "task_type": "regression", "split": {"scheme": "group_kfold", "n_folds": 3},
                              "columns": {"group": "g"}, "trainer": {"n_seeds": 2}}}}
    with pytest.raises(LyraInputError, match="n_seeds applies to single-split tasks"):
        task_from_config(config, "k")
    assert _task().trainer.n_seeds == 4
