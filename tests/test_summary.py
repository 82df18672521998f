"""The summary's model selected on validation and the columns of a model a task does not train."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from lyra.report import summary
from lyra.metrics import evaluate_predictions

LEAKAGE = {"n_folds": 1, "folds": {"0": {"test_rows_seen_in_training": 0, "duplicates_within": {"test": 0}}}}
PUBLISHED = {"version": 1, "tasks": {}}


def _metrics(model: str, valid_pred: np.ndarray, test_pred: np.ndarray, y: np.ndarray, metric: str) -> dict:
    """metrics.json of ``model`` from a predictions table: the first half of ``y`` valid, the rest test."""
    n = len(y) // 2
    predictions = pd.DataFrame({"split": ["valid"] * n + ["test"] * n, "fold": 0, "y_true": y,
                                "y_pred": np.concatenate([valid_pred, test_pred])})
    metrics = evaluate_predictions(predictions, "regression", metric, n_boot=20)
    return {"task": "t", "model": model, **metrics, "folds": [{"n_parameters": 1, "train_seconds": 1.0}]}


def test_selected_model_is_chosen_on_validation_where_test_disagrees():
    """``a`` is better on test, ``b`` on validation: ``b`` is selected and the selected
    value is ``b``'s test value; the validation values are the metric on the valid rows."""
    rng = np.random.default_rng(0)
    y = rng.normal(size=80)
    valid, test = y[:40], y[40:]
    noise = rng.normal(size=40)
    a = _metrics("a", valid + 3 * noise, test + 0.1 * noise, y, "spearman")
    b = _metrics("b", valid + 0.1 * noise, test + 3 * noise, y, "spearman")
    table = summary.summary_table(["t"], ["a", "b"], {("t", "a"): a, ("t", "b"): b}, {}, {"t": LEAKAGE}, PUBLISHED)
    row = table.iloc[0]
    assert row["a"] > row["b"]  # test says a
    assert row["a_valid"] == pytest.approx(spearmanr(valid, valid + 3 * noise).statistic)
    assert row["b_valid"] == pytest.approx(spearmanr(valid, valid + 0.1 * noise).statistic)
    assert row["selected_model"] == "b"
    assert row["selected"] == row["b"] and row["selected_valid"] == row["b_valid"]


def test_selection_takes_the_lowest_validation_mse():
    rng = np.random.default_rng(1)
    y = rng.normal(size=40)
    near, far = _metrics("near", y[:20] + 0.1, y[20:] + 5, y, "mse"), _metrics("far", y[:20] + 2, y[20:], y, "mse")
    table = summary.summary_table(["t"], ["far", "near"], {("t", "near"): near, ("t", "far"): far}, {},
                                  {"t": LEAKAGE}, PUBLISHED)
    assert table.iloc[0]["selected_model"] == "near"


def test_a_model_that_does_not_apply_is_na_with_its_reason_and_never_selected():
    rng = np.random.default_rng(2)
    y = rng.normal(size=40)
    lyra = _metrics("lyra", y[:20], y[20:] + rng.normal(size=20), y, "spearman")
    table = summary.summary_table(["t"], ["lyra", "ridge_pairs"], {("t", "lyra"): lyra}, {}, {"t": LEAKAGE},
                                  PUBLISHED, {"t": {"ridge_pairs": "regression tasks only"}})
    row = table.iloc[0]
    assert pd.isna(row["ridge_pairs"]) and pd.isna(row["ridge_pairs_valid"])
    assert row["ridge_pairs_undefined"] == "n/a: regression tasks only"
    assert row["selected_model"] == "lyra"
    assert summary.plot_frame(table, ["lyra", "ridge_pairs"])["model"].tolist() == ["lyra", "ridge_pairs"]
