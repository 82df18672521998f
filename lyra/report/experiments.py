"""The paper's comparisons as workflow pieces: result tables and figures for baselines and
ablations, synthetic landscapes by interaction order, and long-sequence scaling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lyra.report.plots import save_figure
from lyra.results import read_json, test_value


def metrics_row(path: str | Path) -> dict:
    """Test metric with its 95% CI, parameter count and training time of one metrics.json."""
    metrics = read_json(path)
    test = metrics["splits"]["test"]
    folds = metrics.get("folds") or []
    parameters = {fold.get("n_parameters") for fold in folds}
    return {
        "task": metrics["task"],
        "metric": metrics["metric"],
        "value": test_value(metrics),
        "ci_low": test["ci"]["low"],
        "ci_high": test["ci"]["high"],
        "n_test": test["n"],
        "n_parameters": parameters.pop() if len(parameters) == 1 else None,
        "train_seconds": sum(fold.get("train_seconds", 0.0) for fold in folds),
    }


def results_table(entries: list[dict]) -> pd.DataFrame:
    """One row per ``{"model": label, "metrics": path, ...}`` entry: the entry's own keys
    (without ``metrics``) followed by ``metrics_row`` of its file."""
    rows = []
    for entry in entries:
        extra = {k: v for k, v in entry.items() if k != "metrics"}
        row = metrics_row(entry["metrics"])
        rows.append({**extra, **row, "task": extra.get("task", row["task"])})
    return pd.DataFrame(rows)


def _error_bars(table: pd.DataFrame) -> np.ndarray:
    """(2, n) distances from each value to its CI ends; zero where the CI is undefined."""
    value = table["value"].to_numpy(dtype=float)
    low = np.nan_to_num(value - table["ci_low"].to_numpy(dtype=float), nan=0.0)
    high = np.nan_to_num(table["ci_high"].to_numpy(dtype=float) - value, nan=0.0)
    return np.vstack([np.clip(low, 0, None), np.clip(high, 0, None)])


def comparison_plot(table: pd.DataFrame, models: list[str], path, title: str) -> Path:
    """Grouped bars: one group per task, one bar per model (in ``models`` order), test
    metric with its bootstrap 95% CI. Undefined metrics are left as gaps, labelled."""
    tasks = list(dict.fromkeys(table["task"]))
    fig = Figure(figsize=(max(5.0, 1.6 * len(tasks) * max(1, len(models)) / 2), 4))
    ax = fig.subplots()
    width = 0.8 / max(1, len(models))
    for i, model in enumerate(models):
        rows = table[table["model"] == model].set_index("task").reindex(tasks)
        x = np.arange(len(tasks)) + (i - (len(models) - 1) / 2) * width
        ax.bar(x, rows["value"].to_numpy(dtype=float), width, yerr=_error_bars(rows.reset_index()), capsize=3,
               label=model)
        for xi, value in zip(x, rows["value"]):
            if pd.isna(value):
                ax.text(xi, 0, "undefined", rotation=90, ha="center", va="bottom", fontsize=7)
    metrics = table.drop_duplicates("task").set_index("task").reindex(tasks)["metric"]
    ax.set_xticks(np.arange(len(tasks)), [f"{t}\n({m})" for t, m in zip(tasks, metrics)], fontsize=8)
    ax.set_ylabel("test metric (95% CI)")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def order_plot(table: pd.DataFrame, path) -> Path:
    """Test Spearman against the landscape's interaction order, one line per model,
    with the bootstrap 95% CI as a band."""
    fig = Figure(figsize=(5.5, 4))
    ax = fig.subplots()
    for model, rows in table.sort_values("order").groupby("model", sort=False):
        ax.plot(rows["order"], rows["value"], marker="o", label=model)
        ax.fill_between(rows["order"], rows["ci_low"].astype(float), rows["ci_high"].astype(float), alpha=0.2)
    ax.set_xticks(sorted(table["order"].unique()))
    ax.set_xlabel("interaction order of the landscape")
    ax.set_ylabel("test Spearman (95% CI)")
    ax.axhline(0, color="k", lw=0.6)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def scaling_table(rows: list[dict]) -> pd.DataFrame:
    """Rows of ``benchmarks/run.py``'s forward table as model, length, seconds,
    peak_extra_mb and status: ``ok``, ``OOM (estimated X GB)`` or ``failed: ...``;
    points that did not run keep their row with empty measurements."""
    out = []
    for row in rows:
        if "oom_estimated_gb" in row:
            status = f"OOM (estimated {row['oom_estimated_gb']:.1f} GB)"
        elif "error" in row:
            status = f"failed: {' '.join(row['error'])}"
        else:
            status = "ok"
        out.append({"model": row["model"], "length": row["length"], "seconds": row.get("seconds"),
                    "peak_extra_mb": row.get("peak_extra_mb"), "status": status})
    return pd.DataFrame(out, columns=["model", "length", "seconds", "peak_extra_mb", "status"])


def guide_lines(lengths: np.ndarray, anchor_length: float, anchor_value: float) -> dict[str, np.ndarray]:
    """N log N and N^2 curves through (``anchor_length``, ``anchor_value``)."""
    lengths = np.asarray(lengths, dtype=float)
    n_log_n = lengths * np.log2(lengths) / (anchor_length * np.log2(anchor_length))
    return {"N log N": anchor_value * n_log_n, "N^2": anchor_value * (lengths / anchor_length) ** 2}


def scaling_plot(table: pd.DataFrame, path) -> Path:
    """Log-log forward time and peak extra memory against L per model, with N log N and
    N^2 guide lines through each quantity's smallest measured point; points that ran out
    of memory (or failed) are marked with an x at the top edge and labelled."""
    fig = Figure(figsize=(11, 4))
    axes = fig.subplots(1, 2)
    lengths = np.array(sorted(table["length"].unique()), dtype=float)
    for ax, column, label in ((axes[0], "seconds", "forward time (s)"),
                              (axes[1], "peak_extra_mb", "peak extra memory (MB)")):
        measured = table[table["status"] == "ok"].dropna(subset=[column])
        measured = measured[measured[column] > 0]
        for model, rows in measured.groupby("model", sort=False):
            ax.plot(rows["length"], rows[column], marker="o", label=model)
        if len(measured):
            first = measured.sort_values(["length", column]).iloc[0]
            for name, values in guide_lines(lengths, first["length"], first[column]).items():
                ax.plot(lengths, values, ls="--" if name == "N^2" else ":", color="gray", lw=1, label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        if len(measured):
            top = measured[column].max() * 3
            ax.set_ylim(measured[column].min() / 3, top * 3)
            for row in table[table["status"] != "ok"].itertuples():
                ax.plot(row.length, top, marker="x", color="tab:red", ms=9)
                note = row.status.replace(" (estimated ", "\n~").rstrip(")")
                ax.annotate(f"{row.model}\n{note}", (row.length, top), textcoords="offset points",
                            xytext=(0, -10), ha="center", va="top", fontsize=7, color="tab:red")
        ax.set_xlabel("sequence length L")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    fig.suptitle("One sequence, eval mode: Lyra against a Transformer encoder", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)

