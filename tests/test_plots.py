"""Plots: each function writes a valid, non-empty PNG, also with NaN metrics."""

import struct

import numpy as np
import pandas as pd
import pytest

from lyra.report import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _assert_png(path, min_pixels=100):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= min_pixels and height >= min_pixels
    assert len(data) > 2000  # more than a blank canvas header


def _regression_frame(n_test, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n_test + 20)
    return pd.DataFrame({"split": ["train"] * 20 + ["test"] * n_test, "fold": 0, "y_true": y,
                         "y_pred": y + rng.normal(size=len(y))})


def _classification_frame(classes, n=90, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(classes), n)
    probs = rng.dirichlet(np.ones(len(classes)), n)
    probs[np.arange(n), y] += 0.5
    probs /= probs.sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"split": "test", "fold": 0, "y_true": y, "y_pred": probs.argmax(axis=1)})
    for c, name in enumerate(classes):
        frame[f"prob_{name}"] = probs[:, c]
    return frame


@pytest.mark.parametrize("n_test", [50, plots.HEXBIN_ABOVE + 100])
@pytest.mark.parametrize("value", [0.71, float("nan"), None])
def test_scatter(tmp_path, n_test, value):
    out = plots.scatter_pred_vs_true(_regression_frame(n_test), tmp_path / "sub" / "s.png", "spearman", value,
                                     target_label="log_tx", note="lower log_tx = stronger promoter")
    _assert_png(out)


def test_scatter_with_constant_predictions(tmp_path):
    frame = _regression_frame(30).assign(y_pred=0.0)
    _assert_png(plots.scatter_pred_vs_true(frame, tmp_path / "s.png", "pearson", float("nan")))


def test_learning_curves_with_and_without_lr(tmp_path):
    history = pd.DataFrame({"epoch": range(1, 11), "train_loss": np.linspace(1, 0.2, 10),
                            "valid_loss": np.linspace(1, 0.5, 10), "valid_metric": np.linspace(0, 0.6, 10)})
    _assert_png(plots.learning_curves(history, tmp_path / "a.png"))
    history["lr"] = 1e-3
    history.loc[:4, "valid_metric"] = np.nan  # undefined early epochs
    _assert_png(plots.learning_curves(history, tmp_path / "b.png"))
    # the trainer's naming (valid_<metric>, seconds) and a never-defined metric
    trainer_style = history.rename(columns={"valid_metric": "valid_spearman"}).assign(seconds=1.0, valid_spearman=np.nan)
    _assert_png(plots.learning_curves(trainer_style, tmp_path / "c.png"))


def test_best_epoch_follows_metric_direction():
    history = pd.DataFrame({"epoch": [1, 2, 3], "valid_loss": [3.0, 1.0, 2.0], "valid_spearman": [0.1, np.nan, 0.9],
                            "valid_mse": [0.5, 0.2, 0.9]})
    assert plots._best_epoch(history, "valid_spearman") == 3
    assert plots._best_epoch(history, "valid_mse") == 2
    assert plots._best_epoch(history.assign(valid_spearman=np.nan), "valid_spearman") is None
    with pytest.raises(ValueError, match="valid_<metric>"):
        plots.learning_curves(history, "unused.png")


@pytest.mark.parametrize("classes", [["neg", "pos"], ["n", "ei", "ie"]])
def test_roc_and_confusion(tmp_path, classes):
    frame = _classification_frame(classes)
    _assert_png(plots.roc_curves(frame, classes, tmp_path / "roc.png"))
    _assert_png(plots.confusion_matrix_plot(frame, classes, tmp_path / "cm.png"))


def test_roc_with_a_class_missing_from_test(tmp_path):
    frame = _classification_frame(["n", "ei", "ie"])
    frame = frame[frame.y_true != 2]
    _assert_png(plots.roc_curves(frame, ["n", "ei", "ie"], tmp_path / "roc.png"))


def test_summary_barplot_with_nan_and_published(tmp_path):
    summary = pd.DataFrame({
        "task": ["gb1", "gb1", "splice", "splice"], "model": ["lyra", "cnn", "lyra", "cnn"],
        "metric": ["spearman", "spearman", "accuracy", "accuracy"], "value": [0.8, float("nan"), 0.93, 0.9],
        "ci_low": [0.75, None, 0.9, 0.88], "ci_high": [0.85, None, 0.95, 0.92],
        "published_value": [0.85, None, 0.95, float("nan")]})
    _assert_png(plots.summary_barplot(summary, tmp_path / "summary.png"))
    _assert_png(plots.summary_barplot(summary.drop(columns="published_value"), tmp_path / "nopub.png"))
    shared = summary.assign(published_value=[0.85, 0.85, None, None], ci_low=[0.81, None, 0.9, 0.88])  # CI misses 0.8
    _assert_png(plots.summary_barplot(shared, tmp_path / "shared.png"))
    with pytest.raises(ValueError, match="repeated"):
        plots.summary_barplot(pd.concat([summary, summary]), tmp_path / "dup.png")


def test_summary_barplot_groups_families_and_marks_the_baseline(tmp_path):
    summary = pd.DataFrame({
        "task": ["pg_A_modulo", "pg_A_modulo", "flip_x", "flip_x", "lafleur:ext", "lafleur:ext"],
        "model": ["lyra", "onehot_linear"] * 3, "metric": "spearman",
        "value": [0.3, float("nan"), 0.5, 0.4, -0.1, 0.2], "ci_low": None, "ci_high": None,
        "published_value": [0.8, 0.8, 0.6, 0.6, None, None], "baseline_value": [-0.04, -0.04, None, None, 0.1, 0.1]})
    assert [plots._family(t) for t in summary["task"]] == ["pg", "pg", "flip", "flip", "lafleur", "lafleur"]
    _assert_png(plots.summary_barplot(summary, tmp_path / "families.png"))


def test_summary_marks_quoted_and_verified_published_values_differently(tmp_path):
    quoted, verified, unknown = (plots.published_tick(s) for s in ("quoted", "verified", float("nan")))
    assert quoted[1] == "best published (quoted)" and quoted[0]["linestyles"] == ":"
    assert verified[1] == "best published (verified)" and "linestyles" not in verified[0]
    assert unknown[1] == "best published"
    summary = pd.DataFrame({"task": ["a", "b"], "model": "lyra", "metric": "spearman", "value": [0.3, 0.4],
                            "ci_low": None, "ci_high": None, "published_value": [0.5, 0.6],
                            "published_status": ["quoted", "verified"]})
    _assert_png(plots.summary_barplot(summary, tmp_path / "status.png"))
