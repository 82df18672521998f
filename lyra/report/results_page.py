"""docs/results.md, generated from a run's results/summary.tsv, never typed by hand.

The page is stamped with what the run's metrics.json files record (git commit, when,
platform and device) and its Snakemake job time (results/benchmarks/). It renders every
model column group of the summary (a column ``<model>`` with ``<model>_headline`` beside
it), so models added to ``models:`` appear without changing this module, and any column
it does not know is shown as it is.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from lyra.io.atomic import atomic_path
from lyra.results import read_json
from lyra.report.summary import select_on_validation

MODEL_NAMES = {"lyra": "Lyra", "ridge": "one-hot ridge", "ridge_pairs": "ridge_pairs (one-hot + pairs)", "cnn": "CNN", "transformer": "Transformer",
               "onehot_linear": "One-Hot linear"}
# the model chosen per task on validation rows (lyra.report.summary.selected_columns)
COLUMN_NAMES = {"selected_model": "selected on validation", "selected": "selected: test",
                "selected_valid": "selected: validation"}
# summary columns shown in fixed places (or left out: folds, provenance of the reference table)
KNOWN = {"task", "set", "metric", "n_test", "n_folds", "published_all", "published_best", "published_best_model",
         "published_best_status", "published_best_source", "published_best_note", "baseline", "baseline_model",
         "baseline_status", "published_version", "test_rows_seen_in_training", "test_duplicates",
         "test_regions_overlapping_training"}


def model_columns(summary: pd.DataFrame) -> list[str]:
    """The models of a summary, in its column order: each ``<model>`` with a ``<model>_headline``."""
    return [c for c in summary.columns if f"{c}_headline" in summary.columns]


def other_columns(summary: pd.DataFrame, models: list[str]) -> list[str]:
    """Summary columns that are neither fixed nor part of a model's group."""
    grouped = {c for c in summary.columns for m in models if c == m or c.startswith(f"{m}_")}
    return [c for c in summary.columns if c not in KNOWN and c not in grouped]


def _number(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def model_cell(row: dict, model: str) -> str:
    """A model's headline with its 95% interval (single split) or aggregate (k-fold)."""
    value = _number(row.get(model))
    if value == "n/a":
        return value
    if row.get(f"{model}_headline") not in (None, "test") and not pd.isna(row.get(f"{model}_headline")):
        return f"{value} ({row[f'{model}_headline']})"
    low, high = row.get(f"{model}_ci_low"), row.get(f"{model}_ci_high")
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return value
    return f"{value} [{low:.3f}, {high:.3f}]"


def _reference(row: dict, value: str, name: str) -> str:
    if pd.isna(row.get(value)):
        return ""
    return f"{_number(row[value])} ({row.get(name)})"


def lyra_behind(summary: pd.DataFrame) -> list[str]:
    """One line per row where the Lyra network's test value is worse than another model's:
    the task, the set, and the best model on that row's test rows (by the metric's own
    direction) with both values."""
    others = [m for m in model_columns(summary) if m != "lyra"]
    if "lyra" not in summary.columns or not others:
        return []
    lines = []
    for row in summary.to_dict("records"):
        scored = {m: row[m] for m in others if not pd.isna(row.get(m))}
        best = select_on_validation(scored, row["metric"])  # here: the best on test, to state where Lyra is behind
        if best is None or pd.isna(row.get("lyra")) or row["lyra"] == scored[best]:
            continue
        if select_on_validation({"lyra": row["lyra"], best: scored[best]}, row["metric"]) == best:
            lines.append(f"- {row['task']} ({row['set']}): Lyra {_number(row['lyra'])}, "
                         f"{MODEL_NAMES.get(best, best)} {_number(scored[best])}")
    return lines


def run_stamp(results_dir: str | Path) -> dict:
    """What the run's metrics.json files and Snakemake benchmark files say about it."""
    results_dir = Path(results_dir)
    provenance = [read_json(p).get("provenance") or {} for p in sorted(results_dir.glob("*/*/metrics.json"))]
    provenance = [p for p in provenance if p]
    commits = sorted({f"{p['git']['commit']}{' (with uncommitted changes)' if p['git'].get('dirty') else ''}"
                      for p in provenance if (p.get("git") or {}).get("commit")})
    created = sorted(p["created_utc"] for p in provenance if p.get("created_utc"))
    benchmarks = [pd.read_csv(p, sep="\t") for p in sorted((results_dir / "benchmarks").rglob("*.tsv"))]
    job_seconds = sum(float(frame["s"].sum()) for frame in benchmarks if "s" in frame)
    return {
        "commits": commits or ["unknown"],
        "first": created[0] if created else "unknown",
        "last": created[-1] if created else "unknown",
        "platforms": sorted({p["platform"] for p in provenance if p.get("platform")}) or ["unknown"],
        "devices": sorted({d.strip() for p in provenance for d in str(p.get("device", "")).split(",") if d.strip()})
        or ["unknown"],
        "job_seconds": job_seconds,
        "n_jobs": len(benchmarks),
    }


def render(summary: pd.DataFrame, stamp: dict, generated: str) -> str:
    """The Markdown page."""
    models = model_columns(summary)
    extra = other_columns(summary, models)
    header = ["task", "set", "metric", "n test", *(MODEL_NAMES.get(m, m) for m in models), *(COLUMN_NAMES.get(c, c) for c in extra),
              "best published", "baseline (published table)"]
    lines = [
        "# Results of the default run",
        "",
        "Generated by `lyra results-page` from `results/summary.tsv`; do not edit by hand (regenerate it",
        "after a run: `.venv/bin/snakemake --cores 1 results_page`).",
        "",
        f"- commit: {', '.join(stamp['commits'])}",
        f"- run: {stamp['first']} to {stamp['last']} (UTC, first and last metrics.json); page generated {generated}",
        f"- machine: {'; '.join(stamp['platforms'])}; devices: {', '.join(stamp['devices'])}",
        f"- run time: {stamp['job_seconds'] / 60:.1f} min of Snakemake jobs ({stamp['n_jobs']} jobs,"
        " results/benchmarks/; jobs run side by side, so the wall time is shorter)",
        "",
        "Each model's headline test metric: a single split with its bootstrap 95% interval in brackets,",
        "a k-fold task with its aggregate in parentheses (`pooled`: ProteinGym's pooled z-scored",
        "Spearman, `fold_mean`: the mean over test folds). n/a: undefined (see `results/summary.tsv`,",
        "columns `<model>_undefined`). Published numbers come from `config/published.yaml`; how to",
        "read these numbers: [results-notes.md](results-notes.md).",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---:" if i >= 3 else "---" for i in range(len(header))) + " |",
    ]
    for row in summary.to_dict("records"):
        cells = [str(row["task"]), str(row["set"]), str(row["metric"]), _number(row.get("n_test")),
                 *(model_cell(row, m) for m in models), *(_number(row.get(c)) for c in extra),
                 _reference(row, "published_best", "published_best_model"),
                 _reference(row, "baseline", "baseline_model")]
        lines.append("| " + " | ".join(cells) + " |")
    behind = lyra_behind(summary)
    if behind:
        lines += ["", "## Where the Lyra network is behind", "",
                  f"On {len(behind)} of {len(summary)} rows another model's test value is better than the Lyra "
                  "network's (the Lyra column is always the trained network):", "", *behind]
    return "\n".join(lines) + "\n"


def write_results_page(summary_path: str | Path, out: str | Path, results_dir: str | Path | None = None) -> str:
    """Write the page for ``summary_path`` (stamped from ``results_dir``, by default the
    summary's folder) to ``out``; returns its text."""
    summary_path = Path(summary_path)
    summary = pd.read_csv(summary_path, sep="\t")
    stamp = run_stamp(results_dir or summary_path.parent)
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    text = render(summary, stamp, generated)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(text)
    return text
