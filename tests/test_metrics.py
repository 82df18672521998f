"""Metrics against independent computations, undefined cases, bootstrap and metrics.json."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from lyra import metrics
from lyra.errors import LyraInputError


def _ranks(x):
    """Ranks 1..n by argsort (inputs here have no ties)."""
    ranks = np.empty(len(x))
    ranks[np.argsort(x)] = np.arange(1, len(x) + 1)
    return ranks


def _pearson_by_hand(a, b):
    a = a - a.mean()
    b = b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def _auroc_mann_whitney(y, score):
    """P(score of a positive > score of a negative), ties counted 1/2, by pair counting."""
    pos, neg = score[y == 1], score[y == 0]
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


@pytest.fixture
def regression_data():
    rng = np.random.default_rng(1)
    y = rng.normal(size=200)
    return y, y + rng.normal(scale=0.8, size=200)


def test_spearman_is_pearson_of_ranks(regression_data):
    y, p = regression_data
    got = metrics.spearman(y, p)
    assert not got.undefined
    assert got.value == pytest.approx(_pearson_by_hand(_ranks(y), _ranks(p)), abs=1e-12)


def test_pearson_r2_mse_by_hand(regression_data):
    y, p = regression_data
    assert metrics.pearson(y, p).value == pytest.approx(_pearson_by_hand(y, p), abs=1e-12)
    resid = ((y - p) ** 2).sum()
    assert metrics.r2(y, p).value == pytest.approx(1 - resid / ((y - y.mean()) ** 2).sum())
    assert metrics.mse(y, p).value == pytest.approx(resid / len(y))


def test_binary_auroc_matches_mann_whitney():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 150)
    score = np.round(rng.random(150) + 0.3 * y, 1)  # rounding creates ties
    assert metrics.auroc(y, score).value == pytest.approx(_auroc_mann_whitney(y, score))


def test_multiclass_auroc_is_macro_one_vs_rest():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 120)
    probs = rng.dirichlet(np.ones(3), 120)
    probs[np.arange(120), y] += 0.3
    expected = np.mean([_auroc_mann_whitney((y == c).astype(int), probs[:, c]) for c in range(3)])
    assert metrics.auroc(y, probs).value == pytest.approx(expected)


def test_accuracy_and_mcc_by_hand():
    y = np.array([0, 0, 1, 1, 1, 0, 1, 0])
    p = np.array([0, 1, 1, 1, 0, 0, 1, 0])
    tp, tn, fp, fn = 3, 3, 1, 1
    mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert metrics.accuracy(y, p).value == pytest.approx(6 / 8)
    assert metrics.mcc(y, p).value == pytest.approx(mcc)


@pytest.mark.parametrize("name", ["spearman", "pearson"])
def test_constant_predictions_are_undefined(name, regression_data):
    y, _ = regression_data
    exact = np.full(len(y), 0.5)
    # float32 outputs differing only in the last bits: spread ~1e-7 relative
    noisy = (np.float32(0.5) + np.arange(len(y)) % 3 * np.finfo(np.float32).eps).astype(float)
    for pred in (exact, noisy):
        got = metrics.METRICS[name](y, pred)
        assert got.undefined and math.isnan(got.value)
        assert "constant" in got.reason
        assert got.to_json() == {"value": None, "undefined": True, "reason": got.reason}
    assert metrics.METRICS[name](exact, y).undefined  # constant truths too


def test_small_but_real_spread_is_defined():
    y = np.arange(10.0)
    got = metrics.spearman(y, 1000.0 + y * 1e-2)
    assert not got.undefined and got.value == pytest.approx(1.0)


def test_other_undefined_cases():
    assert metrics.r2(np.ones(5), np.arange(5.0)).undefined
    assert metrics.mcc([0, 1, 0, 1], [1, 1, 1, 1]).undefined
    assert metrics.auroc([1, 1, 1], [0.1, 0.5, 0.9]).undefined
    assert metrics.auroc([0, 1, 1], np.eye(3)).undefined  # class 2 absent
    assert metrics.pearson([1.0], [2.0]).undefined
    assert metrics.spearman([1.0, 2.0, 3.0], [1.0, np.nan, 2.0]).undefined
    assert not metrics.r2(np.arange(5.0), np.ones(5)).undefined  # constant predictions: defined


def test_bootstrap_ci_contains_estimate_and_narrows(regression_data):
    rng = np.random.default_rng(4)
    widths = []
    for n in (50, 800):
        y = rng.normal(size=n)
        p = y + rng.normal(size=n)
        ci = metrics.bootstrap_ci(y, p, metrics.spearman, n_boot=400, seed=0)
        assert ci.low <= metrics.spearman(y, p).value <= ci.high
        assert ci.n_undefined == 0
        widths.append(ci.high - ci.low)
    assert widths[1] < widths[0] / 2


def test_vectorised_bootstrap_matches_per_resample_loop(regression_data):
    y, p = regression_data
    for fn in (metrics.spearman, metrics.pearson, metrics.r2, metrics.mse):
        fast = metrics.bootstrap_ci(y, p, fn, n_boot=200, seed=7)
        slow = metrics.bootstrap_ci(y, p, lambda a, b, fn=fn: fn(a, b).value, n_boot=200, seed=7)
        assert fast.low == pytest.approx(slow.low, abs=1e-10)
        assert fast.high == pytest.approx(slow.high, abs=1e-10)


def test_bootstrap_counts_undefined_resamples():
    y = np.array([0.0] * 9 + [1.0])  # many resamples miss the single 1.0: constant truths
    p = np.arange(10.0)
    ci = metrics.bootstrap_ci(y, p, metrics.spearman, n_boot=300, seed=0)
    assert 0 < ci.n_undefined < 300
    assert 0 < ci.low <= ci.high


def _prediction_frame(n_folds=1, task="regression", n=60):
    rng = np.random.default_rng(5)
    frames = []
    for fold in range(n_folds):
        y = rng.normal(size=n) if task == "regression" else rng.integers(0, 3, n)
        split = np.array(["train"] * (n // 2) + ["valid"] * (n // 6) + ["test"] * (n - n // 2 - n // 6))
        frame = pd.DataFrame({"id": [f"s{fold}_{i}" for i in range(n)], "sequence": "ACGT", "split": split,
                              "fold": fold, "y_true": y})
        if task == "regression":
            frame["y_pred"] = y + rng.normal(size=n)
        else:
            probs = rng.dirichlet(np.ones(3), n)
            probs[np.arange(n), y] += 1.0
            probs /= probs.sum(axis=1, keepdims=True)
            for c, name in enumerate(["a", "b", "c"]):
                frame[f"prob_{name}"] = probs[:, c]
            frame["y_pred"] = probs.argmax(axis=1)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_evaluate_regression_single_split():
    frame = _prediction_frame()
    out = metrics.evaluate_predictions(frame, "regression", "spearman", n_boot=200)
    json.dumps(out, allow_nan=False)
    test = frame[frame.split == "test"]
    assert set(out["splits"]) == {"train", "valid", "test"}
    assert out["splits"]["test"]["n"] == len(test)
    expected = _pearson_by_hand(_ranks(test.y_true.to_numpy()), _ranks(test.y_pred.to_numpy()))
    assert out["splits"]["test"]["value"]["value"] == pytest.approx(expected)
    assert set(out["splits"]["valid"]["metrics"]) == {"spearman", "pearson", "r2", "mse"}
    ci = out["splits"]["test"]["ci"]
    assert ci["low"] <= expected <= ci["high"]
    assert "kfold" not in out


def test_evaluate_multiclass_kfold():
    frame = _prediction_frame(n_folds=3, task="multiclass")
    out = metrics.evaluate_predictions(frame, "multiclass", "accuracy", classes=["a", "b", "c"], n_boot=100)
    json.dumps(out, allow_nan=False)
    test = frame[frame.split == "test"]
    per_fold = [float((g.y_true == g.y_pred).mean()) for _, g in test.groupby("fold")]
    kfold = out["kfold"]
    assert [f["value"]["value"] for f in kfold["per_fold"]] == pytest.approx(per_fold)
    assert kfold["mean"] == pytest.approx(np.mean(per_fold))
    assert kfold["std"] == pytest.approx(np.std(per_fold, ddof=1))
    assert out["splits"]["test"]["value"]["value"] == pytest.approx((test.y_true == test.y_pred).mean())
    assert set(out["splits"]["test"]["metrics"]) == {"accuracy", "mcc", "auroc"}
    assert out["classes"] == ["a", "b", "c"]


def test_evaluate_constant_predictions_written_as_null():
    frame = _prediction_frame()
    frame["y_pred"] = 1.0
    out = metrics.evaluate_predictions(frame, "regression", "pearson", n_boot=50)
    text = json.dumps(out, allow_nan=False)
    assert out["splits"]["test"]["value"]["value"] is None
    assert out["splits"]["test"]["value"]["undefined"] is True
    assert out["splits"]["test"]["ci"]["low"] is None
    assert out["splits"]["test"]["ci"]["n_undefined"] == 50
    assert "NaN" not in text


def test_evaluate_rejects_bad_tables():
    frame = _prediction_frame()
    with pytest.raises(LyraInputError, match="y_pred"):
        metrics.evaluate_predictions(frame.drop(columns="y_pred"), "regression", "spearman")
    bad = frame.assign(split="holdout")
    with pytest.raises(LyraInputError, match="holdout"):
        metrics.evaluate_predictions(bad, "regression", "spearman")
    with pytest.raises(ValueError, match="does not apply"):
        metrics.evaluate_predictions(frame, "regression", "auroc")


def _kfold_regression_frame(n_folds=5, n=60, seed=0):
    """Predictions of every fold's train and test rows; each fold on its own scale and
    offset, as fold models trained on standardised targets give."""
    rng = np.random.default_rng(seed)
    frames = []
    for fold in range(n_folds):
        for split, m in (("train", 3 * n), ("test", n)):
            y = rng.normal(loc=fold, scale=1 + fold, size=m)
            frames.append(pd.DataFrame({"id": [f"f{fold}{split}{i}" for i in range(m)], "split": split,
                                        "fold": fold, "y_true": y, "y_pred": y + rng.normal(scale=2, size=m)}))
    return pd.concat(frames, ignore_index=True)


def test_pooled_zscored_matches_scipy_on_per_fold_zscores():
    from scipy.stats import spearmanr

    frame = _kfold_regression_frame()
    truths, preds = [], []
    for fold in range(5):
        train = frame[(frame.fold == fold) & (frame.split == "train")].y_true
        test = frame[(frame.fold == fold) & (frame.split == "test")]
        mean, std = train.mean(), train.std(ddof=0)  # np.nanstd, as ProteinNPT
        truths += list((test.y_true - mean) / std)
        preds += list((test.y_pred - mean) / std)
    expected = spearmanr(truths, preds).statistic
    out = metrics.evaluate_predictions(frame, "regression", "spearman", n_boot=10, kfold_aggregate="pooled")
    kfold = out["kfold"]
    assert kfold["pooled_zscored"]["value"]["value"] == pytest.approx(expected)
    assert kfold["pooled_zscored"]["n"] == 5 * 60
    assert kfold["aggregate"] == "pooled" and kfold["headline"] == pytest.approx(expected)
    # the z-scoring matters: pooling raw values gives another number, and so does the fold mean
    assert out["splits"]["test"]["value"]["value"] != pytest.approx(expected, abs=1e-3)
    assert kfold["mean"] != pytest.approx(expected, abs=1e-3)
    fold_mean = metrics.evaluate_predictions(frame, "regression", "spearman", n_boot=10)["kfold"]
    assert fold_mean["aggregate"] == "fold_mean" and fold_mean["headline"] == fold_mean["mean"]


def test_pooled_zscored_undefined_without_training_rows():
    frame = _kfold_regression_frame()
    value, n = metrics.pooled_zscored(frame[frame.split == "test"])
    assert value.undefined and "no training targets" in value.reason and n == 0


def test_pooled_zscored_undefined_when_a_fold_predicts_a_constant():
    """A model predicting each fold's training mean ranks nothing within a fold, yet pooled
    over folds it would get a number from the folds' levels alone: undefined instead."""
    frame = _kfold_regression_frame()
    for fold in range(5):
        rows = frame["fold"] == fold
        frame.loc[rows, "y_pred"] = frame.loc[rows & (frame.split == "train"), "y_true"].mean() + 0.01 * fold
    value, _ = metrics.pooled_zscored(frame)
    assert value.undefined and "constant within test fold(s) [0, 1, 2, 3, 4]" in value.reason
    frame.loc[(frame.fold == 2) & (frame.split == "test"), "y_pred"] += np.arange(60) * 0.1
    value, _ = metrics.pooled_zscored(frame)
    assert value.undefined and "[0, 1, 3, 4]" in value.reason
