"""Figures for the report; each function writes one PNG.

Figures are built with matplotlib's object API (``matplotlib.figure.Figure``), which
renders PNGs with the Agg backend and keeps no global pyplot state, so nothing has to
be closed and no display is needed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix, roc_auc_score, roc_curve

from lyra.io.atomic import atomic_path

HEXBIN_ABOVE = 2000  # test rows above which the scatter becomes a hexbin density plot
DPI = 150


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` atomically (``lyra.io.atomic``), in the format its suffix names."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=DPI, bbox_inches="tight")
    return path


def _number(value) -> float:
    """``value`` as a float; NaN for None, NaN or anything non-numeric."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _format_value(value) -> str:
    number = _number(value)
    return "undefined" if math.isnan(number) else f"{number:.3f}"


def _test_rows(pred_df: pd.DataFrame) -> pd.DataFrame:
    return pred_df[pred_df["split"] == "test"] if "split" in pred_df.columns else pred_df


def scatter_pred_vs_true(pred_df: pd.DataFrame, path, metric_name: str, metric_value,
                         target_label: str | None = None, note: str | None = None) -> Path:
    """Predicted vs true values of the test rows (hexbin above HEXBIN_ABOVE rows), y = x
    dashed, the metric in the title and an optional ``note`` (e.g. "lower log_tx =
    stronger promoter") under it. A NaN/None ``metric_value`` reads "undefined"."""
    test = _test_rows(pred_df)
    y_true = test["y_true"].to_numpy(dtype=float)
    y_pred = test["y_pred"].to_numpy(dtype=float)
    finite = np.isfinite(y_true) & np.isfinite(y_pred)
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    if finite.sum() > HEXBIN_ABOVE:
        cells = ax.hexbin(y_true[finite], y_pred[finite], gridsize=60, bins="log", mincnt=1, cmap="viridis")
        fig.colorbar(cells, ax=ax, label="rows (log)")
    else:
        ax.scatter(y_true[finite], y_pred[finite], s=8, alpha=0.6, edgecolors="none")
    if finite.any():
        low = min(y_true[finite].min(), y_pred[finite].min())
        high = max(y_true[finite].max(), y_pred[finite].max())
        ax.plot([low, high], [low, high], "k--", lw=0.8)
    label = target_label or "target"
    ax.set_xlabel(f"true {label}")
    ax.set_ylabel(f"predicted {label}")
    title = f"test {metric_name} = {_format_value(metric_value)} (n = {int(finite.sum())})"
    ax.set_title(title if note is None else f"{title}\n{note}", fontsize=10)
    return save_figure(fig, path)


def calibration_plot(y_true: np.ndarray, mean: np.ndarray, std: np.ndarray, calibration: dict, path) -> Path:
    """How an ensemble's spread tracks its errors on the test rows (``calibration``: the
    ``lyra.metrics.calibration`` entries): left, |error| against the rescaled std (the
    variance scale fitted on validation rows) with y = x and y = 2x; right, the share of
    test rows inside mean +- 1 and 2 rescaled std beside the Gaussian 0.683 and 0.954."""
    scale = calibration["variance_scale"]["value"]
    spread = std * (scale if scale is not None else 1.0)
    error = np.abs(y_true - mean)
    fig = Figure(figsize=(9, 4))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    left.scatter(spread, error, s=6, alpha=0.4, edgecolors="none")
    if len(spread):
        top = float(max(spread.max(), 1e-12))
        left.plot([0, top], [0, top], "k--", lw=0.8, label="|error| = std")
        left.plot([0, top], [0, 2 * top], "k:", lw=0.8, label="|error| = 2 std")
        left.legend(fontsize=7, frameon=False)
    scale_text = f"{scale:.2f}" if scale is not None else "undefined"
    left.set_xlabel(f"ensemble std x {scale_text} (scale fitted on validation)")
    left.set_ylabel("|test error|")
    left.set_title(f"Spearman(|error|, std) = {_format_value(calibration['spearman_abs_error_std']['value'])}"
                   f" (n = {len(error)})", fontsize=9)
    observed = [calibration[f"coverage_{k}sd"]["value"] for k in (1, 2)]
    positions = np.arange(2)
    right.bar(positions - 0.2, [0.683, 0.954], 0.4, color="0.75", label="Gaussian, calibrated")
    right.bar(positions + 0.2, [v if v is not None else 0.0 for v in observed], 0.4, color="C0", label="test rows")
    for x, value in zip(positions, observed):
        right.text(x + 0.2, (value or 0.0) + 0.02, _format_value(value), ha="center", fontsize=8)
    right.set_xticks(positions, ["mean +- 1 std", "mean +- 2 std"])
    right.set_ylim(0, 1.1)
    right.set_ylabel("share of test rows inside")
    right.legend(fontsize=7, frameon=False, loc="upper left")
    fig.tight_layout()
    return save_figure(fig, path)


def _metric_column(history: pd.DataFrame) -> str:
    """The validation metric column: ``valid_metric`` or the one ``valid_<metric>`` column."""
    if "valid_metric" in history.columns:
        return "valid_metric"
    candidates = [c for c in history.columns if str(c).startswith("valid_") and c != "valid_loss"]
    if len(candidates) != 1:
        raise ValueError(f"history needs one valid_<metric> column, found {candidates}")
    return candidates[0]


def _best_epoch(history: pd.DataFrame, column: str) -> int | None:
    """Epoch with the best finite validation metric (lowest for mse, else highest);
    None when the metric is never defined."""
    values = history[column]
    if values.notna().sum() == 0:
        return None
    best = values.idxmin() if column == "valid_mse" else values.idxmax()
    return int(history.loc[best, "epoch"])


def learning_curves(history_df: pd.DataFrame, path) -> Path:
    """Train/valid loss, validation metric (and learning rate when logged) against epoch,
    with the best epoch marked by a vertical line. The metric column is ``valid_metric``
    or the trainer's ``valid_<metric>``."""
    metric_column = _metric_column(history_df)
    has_lr = "lr" in history_df.columns
    fig = Figure(figsize=(12 if has_lr else 8, 3.5))
    axes = fig.subplots(1, 3 if has_lr else 2, sharex=True)
    epoch = history_df["epoch"]
    axes[0].plot(epoch, history_df["train_loss"], label="train")
    axes[0].plot(epoch, history_df["valid_loss"], label="valid")
    axes[0].set_ylabel("loss")
    axes[0].legend()
    axes[1].plot(epoch, history_df[metric_column], color="tab:green", marker=".")
    axes[1].set_ylabel(metric_column.replace("_", " "))
    if has_lr:
        axes[2].plot(epoch, history_df["lr"], color="tab:gray")
        axes[2].set_ylabel("learning rate")
    best = _best_epoch(history_df, metric_column)
    for ax in axes:
        ax.set_xlabel("epoch")
        if best is not None:
            ax.axvline(best, color="tab:red", ls=":", lw=1)
    axes[1].set_title("best epoch: " + ("none (metric never defined)" if best is None else str(best)), fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def tuning_plot(trials: pd.DataFrame, path, metric: str, untuned: float | None) -> Path:
    """Validation metric of every completed trial in order, the best so far, pruned trials
    marked at the bottom, and the untuned settings' value as a dashed line."""
    fig = Figure(figsize=(7, 3.5))
    ax = fig.subplots()
    done = trials[trials["state"] == "complete"]
    ax.plot(done["trial"], done["value"], "o", color="tab:blue", label="trial")
    ax.plot(done["trial"], done["value"].cummax(), color="tab:green", drawstyle="steps-post", label="best so far")
    ax.xaxis.get_major_locator().set_params(integer=True)
    pruned = trials[trials["state"] == "pruned"]
    if len(pruned):
        low = done["value"].min() if len(done) else 0.0
        ax.plot(pruned["trial"], [low] * len(pruned), "x", color="tab:gray", label="pruned")
    if untuned is not None:
        ax.axhline(untuned, color="tab:red", ls="--", lw=1, label="untuned settings")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"validation {metric}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def roc_curves(pred_df: pd.DataFrame, classes: list, path) -> Path:
    """One-vs-rest ROC curve per class on the test rows (binary: the positive class only).
    Classes without both positives and negatives in the test rows are listed as undefined."""
    test = _test_rows(pred_df)
    y_true = test["y_true"].to_numpy()
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    shown = [1] if len(classes) == 2 else range(len(classes))
    for c in shown:
        positive = y_true == c
        scores = test[f"prob_{classes[c]}"].to_numpy(dtype=float)
        if positive.all() or not positive.any() or not np.isfinite(scores).all():
            ax.plot([], [], " ", label=f"{classes[c]}: AUROC undefined")
            continue
        fpr, tpr, _ = roc_curve(positive, scores)
        ax.plot(fpr, tpr, label=f"{classes[c]}: AUROC {roc_auc_score(positive, scores):.3f}")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"ROC, test rows (n = {len(test)})", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    return save_figure(fig, path)


def confusion_matrix_plot(pred_df: pd.DataFrame, classes: list, path) -> Path:
    """Counts of true (rows) vs predicted (columns) classes on the test rows."""
    test = _test_rows(pred_df)
    counts = confusion_matrix(test["y_true"].astype(int), test["y_pred"].astype(int), labels=range(len(classes)))
    fig = Figure(figsize=(1.2 * len(classes) + 2.5, 1.2 * len(classes) + 2))
    ax = fig.subplots()
    ConfusionMatrixDisplay(counts, display_labels=[str(c) for c in classes]).plot(ax=ax, colorbar=False, cmap="Blues")
    ax.set_title(f"test rows (n = {len(test)})", fontsize=10)
    return save_figure(fig, path)


def _family(task: str) -> str:
    """Dataset family of a task label: its name up to the first underscore (pg, flip, ...)."""
    return task.split(":")[0].split("_")[0]


def published_tick(status) -> tuple[dict, str]:
    """Line style and legend label of a best-published tick: dotted for a number quoted
    from a paper, solid for one verified from files (or of unknown status)."""
    if status == "quoted":
        return dict(colors="k", lw=2, linestyles=":"), "best published (quoted)"
    return dict(colors="k", lw=2), f"best published ({status})" if isinstance(status, str) else "best published"


def summary_barplot(summary_df: pd.DataFrame, path) -> Path:
    """Headline metric per task and evaluation set (one row each, grouped by dataset family,
    ``family`` column or the task name's prefix) and model (horizontal bars), with
    bootstrap CI error bars where there is one.

    The best published value is a black tick across the row (dotted where its
    ``published_status`` is "quoted" from a paper, solid where it was verified from files),
    the one-hot baseline (``baseline_value``, when given) a grey dashed one; an undefined
    value reads "undefined" where its bar would be. ``summary_df`` has one row per (task,
    model)."""
    duplicated = summary_df.duplicated(["task", "model"])
    if duplicated.any():
        pairs = summary_df.loc[duplicated, ["task", "model"]].values.tolist()
        raise ValueError(f"summary has repeated (task, model) rows: {pairs}")
    frame = summary_df.copy()
    if "family" not in frame:
        frame["family"] = frame["task"].map(_family)
    families = list(dict.fromkeys(frame["family"]))
    tasks = [t for f in families for t in dict.fromkeys(frame.loc[frame["family"] == f, "task"])]
    models = list(dict.fromkeys(frame["model"]))
    # rows top to bottom, one blank row between families
    y_of, y, family_rows = {}, 0.0, []
    for family in families:
        first = y
        for task in dict.fromkeys(frame.loc[frame["family"] == family, "task"]):
            y_of[task] = y
            y += 1
        family_rows.append((family, first, y - 1))
        y += 0.6
    height = 0.8 / len(models)
    fig = Figure(figsize=(8.0, max(3.0, (0.12 * len(models) + 0.12) * len(tasks) + 0.1 * len(families) + 1.2)))
    ax = fig.subplots()
    labelled = set()
    for row in frame.to_dict("records"):
        m = models.index(row["model"])
        centre = y_of[row["task"]]
        yb = centre - 0.4 + height * (m + 0.5)
        value = _number(row["value"])
        if math.isnan(value):
            ax.text(0.005, yb, "undefined", ha="left", va="center", fontsize=6, color=f"C{m}", style="italic")
        else:
            ax.barh(yb, value, height * 0.9, color=f"C{m}", label=None if row["model"] in labelled else row["model"])
            labelled.add(row["model"])
            low, high = _number(row.get("ci_low")), _number(row.get("ci_high"))
            if not (math.isnan(low) or math.isnan(high)):
                xerr = [[max(0.0, value - low)], [max(0.0, high - value)]]  # a percentile CI may miss the point
                ax.errorbar(value, yb, xerr=xerr, color="k", capsize=1.5, lw=0.7)
        for column, style, name in (("published_value", *published_tick(row.get("published_status"))),
                                    ("baseline_value", dict(colors="0.45", lw=1.5, linestyles="--"), "one-hot baseline")):
            reference = _number(row.get(column))
            if not math.isnan(reference):
                ax.vlines(reference, centre - 0.45, centre + 0.45, label=None if name in labelled else name, **style)
                labelled.add(name)
    metric_of = frame.drop_duplicates("task").set_index("task")["metric"]
    ax.set_yticks([y_of[t] for t in tasks], [f"{t} ({metric_of[t]})" for t in tasks], fontsize=7)
    for family, first, last in family_rows:
        ax.text(1.01, (first + last) / 2, family, transform=ax.get_yaxis_transform(), va="center", fontsize=8,
                fontweight="bold")
        if first > 0:
            ax.axhline(first - 0.8, color="0.8", lw=0.6)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("headline test metric (k-fold: the task's kfold_aggregate)")
    ax.grid(axis="x", color="0.92", lw=0.6)
    ax.set_axisbelow(True)
    ax.set_ylim(y - 0.4, -0.6)
    if labelled:
        ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


def mutagenesis_heatmap(effects: np.ndarray, reference: str, letters: str, path, title: str = "",
                        row_length: int = 100) -> Path:
    """Saturation-mutagenesis effects (``effects``: letters x positions, NaN where not
    scored) as a heatmap: a diverging colour map centred at 0 (red above the reference,
    blue below), the wild-type letter of each position marked with a dot and written
    above its column; sequences longer than ``row_length`` wrap onto several rows."""
    return _position_maps([(effects, 0.0, "effect (mutant - reference)")], reference, letters, path, title,
                          row_length)


def mutagenesis_comparison(predicted: np.ndarray, measured: np.ndarray, reference: str, letters: str, path,
                           title: str = "", row_length: int = 100) -> Path:
    """A predicted effect map (centred at 0) above the measured scores of the same
    substitutions (centred at their median; grey where not measured), block by block, laid
    out as ``mutagenesis_heatmap``."""
    centre = float(np.nanmedian(measured)) if np.isfinite(measured).any() else 0.0
    return _position_maps([(predicted, 0.0, "predicted effect"), (measured, centre, "measured score")],
                          reference, letters, path, title, row_length)


def _position_maps(panels: list[tuple[np.ndarray, float, str]], reference: str, letters: str, path, title: str,
                   row_length: int) -> Path:
    """Letters x positions maps (matrix, colour centre, label), each with its own diverging
    colour scale, drawn one under the other for every block of ``row_length`` positions."""
    length = panels[0][0].shape[1]
    n_blocks = max(1, math.ceil(length / row_length))
    n_rows = n_blocks * len(panels)
    width = min(row_length, length)
    cell, gap = 0.14, 0.6  # inches per cell; between rows, room for the letters and the positions
    height = len(letters) * cell
    fig = Figure(figsize=(max(4.0, width * cell + 2.0), n_rows * height + (n_rows - 1) * gap + 1.0))
    axes = fig.subplots(n_rows, 1, squeeze=False, gridspec_kw={"hspace": gap / height})[:, 0]
    cmap = colormaps["RdBu_r"].with_extremes(bad="0.85")
    for index, (matrix, centre, label) in enumerate(panels):
        finite = np.abs(matrix[np.isfinite(matrix)] - centre)
        limit = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        norm = TwoSlopeNorm(vcenter=centre, vmin=centre - limit, vmax=centre + limit)
        panel_axes = [axes[block * len(panels) + index] for block in range(n_blocks)]
        image = None
        for block, ax in enumerate(panel_axes):
            start, end = block * row_length, min(length, (block + 1) * row_length)
            image = ax.imshow(matrix[:, start:end], aspect="auto", cmap=cmap, norm=norm, interpolation="nearest",
                              extent=(start + 0.5, end + 0.5, len(letters) - 0.5, -0.5))
            wild = [(p, letters.index(reference[p - 1])) for p in range(start + 1, end + 1)
                    if reference[p - 1] in letters]
            ax.scatter([p for p, _ in wild], [i for _, i in wild], s=4, c="k", marker="o", linewidths=0)
            ax.set_yticks(range(len(letters)), list(letters), fontsize=5)
            ax.set_ylabel(label if len(panels) > 1 else "", fontsize=6)
            ax.set_xlim(start + 0.5, start + width + 0.5)
            ticks = [p for p in range(start + 1, end + 1) if p % 10 == 0 or p == start + 1]
            ax.set_xticks(ticks, [str(p) for p in ticks], fontsize=6)
            top = ax.secondary_xaxis("top")
            top.set_xticks(range(start + 1, end + 1), list(reference[start:end]), fontsize=5)
            top.tick_params(length=0, pad=1)
            ax.tick_params(length=2)
        bar = fig.colorbar(image, cax=panel_axes[0].inset_axes((1.01, 0.0, 0.012, 1.0)))
        bar.set_label(label, fontsize=7)
        bar.ax.tick_params(labelsize=6)
    axes[-1].set_xlabel("position (dots: wild type)", fontsize=7)
    axes[0].set_title(title, fontsize=8, pad=10)
    return save_figure(fig, path)
