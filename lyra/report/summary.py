"""The summary table across tasks: one row per task and evaluation set (``test``, or an
external test set), one group of columns per model, the model selected on validation,
then the published reference numbers and the leakage counts (rule ``summary``).

Every number is in the columns of the model that produced it: ``<model>`` is its
headline, ``<model>_valid`` the task's metric on its validation rows. ``selected_model``
is, per task, the model with the best ``<model>_valid`` (validation only; test rows play
no part), ``selected`` its headline. A model that does not apply to a task
(``Task.not_applicable``) has NA values and the reason in ``<model>_undefined``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lyra.io.atomic import atomic_path
from lyra.metrics import higher_is_better
from lyra.results import read_json, test_value

SPLIT_SET = "test"


def main_value(metrics: dict) -> float | None:
    """The headline number: for k-fold tasks the task's ``kfold_aggregate`` (fold mean, or
    ProteinGym's pooled z-scored value), else the test value."""
    if metrics.get("kfold"):
        return metrics["kfold"].get("headline", metrics["kfold"]["mean"])
    return test_value(metrics)


def undefined_note(metrics: dict) -> str:
    """Why (part of) the headline number is undefined, or ''."""
    kfold = metrics.get("kfold")
    if kfold and kfold.get("aggregate") == "pooled":
        value = kfold["pooled_zscored"]["value"]
        return value.get("reason", "undefined") if value["undefined"] else ""
    if kfold:
        bad = [f for f in kfold["per_fold"] if f["value"]["undefined"]]
        if not bad:
            return ""
        return f"{len(bad)}/{kfold['n_folds']} folds: {bad[0]['value'].get('reason', 'undefined')}"
    value = metrics["splits"]["test"]["value"]
    return value.get("reason", "undefined") if value["undefined"] else ""


def valid_value(metrics: dict) -> float | None:
    """The task's metric on the model's validation rows (pooled over folds); None when
    undefined or there are none."""
    valid = metrics["splits"].get("valid")
    return valid["value"]["value"] if valid else None


def select_on_validation(valid: dict, metric: str) -> str | None:
    """The model with the best validation value in ``valid`` ({model: value or None}, in
    the order models are listed; the first wins a tie), lowest for ``mse``, highest
    otherwise; None when no model has one."""
    scored = [(higher_is_better(value, metric), -i, model) for i, (model, value) in enumerate(valid.items()) if value is not None]
    return max(scored)[2] if scored else None


def model_columns(model: str, metrics: dict, runs: list[dict] | None) -> dict:
    """The summary columns of one model on one evaluation set; ``runs`` are the per-fold
    training summaries (None for external sets, which train nothing)."""
    test = metrics["splits"]["test"]
    kfold = metrics.get("kfold")
    pooled_z = (kfold.get("pooled_zscored") or {}).get("value", {}) if kfold else {}
    columns = {
        model: main_value(metrics),
        f"{model}_headline": (kfold.get("aggregate", "fold_mean") if kfold else "test"),
        f"{model}_ci_low": test["ci"]["low"],
        f"{model}_ci_high": test["ci"]["high"],
        f"{model}_pooled_z": pooled_z.get("value"),
        f"{model}_fold_mean": kfold["mean"] if kfold else None,
        f"{model}_fold_std": kfold["std"] if kfold else None,
        f"{model}_per_fold": (";".join("NA" if f["value"]["undefined"] else f"{f['value']['value']:.3f}"
                                       for f in kfold["per_fold"]) if kfold else None),
        f"{model}_pooled": test_value(metrics) if kfold else None,
        f"{model}_undefined": undefined_note(metrics),
        f"{model}_valid": valid_value(metrics),
    }
    if runs is not None:
        columns[f"{model}_n_parameters"] = runs[0].get("n_parameters")
        columns[f"{model}_train_s"] = sum(run["train_seconds"] for run in runs)
    return columns


def not_applicable_columns(model: str, reason: str, runs: bool) -> dict:
    """The columns of ``model_columns`` for a model not trained on this task: NA, with
    ``reason`` in ``<model>_undefined``."""
    keys = ["headline", "ci_low", "ci_high", "pooled_z", "fold_mean", "fold_std", "per_fold", "pooled"]
    columns = {model: None, **{f"{model}_{key}": None for key in keys}, f"{model}_undefined": f"n/a: {reason}",
               f"{model}_valid": None}
    if runs:
        columns.update({f"{model}_n_parameters": None, f"{model}_train_s": None})
    return columns


def selected_columns(row: dict, models: list[str], metric: str) -> dict:
    """``selected_model`` (chosen on validation by ``select_on_validation``), its
    validation value and its value on this evaluation set (``selected``)."""
    chosen = select_on_validation({m: row[f"{m}_valid"] for m in models}, metric)
    return {"selected_model": chosen, "selected": row[chosen] if chosen else None,
            "selected_valid": row[f"{chosen}_valid"] if chosen else None}


def reference_columns(entries: list[dict], metric: str, evaluation_set: str) -> dict:
    """Best published number (highest value of kind ``published``) and the first
    baseline entry for this metric and evaluation set."""
    matching = [
        e for e in entries
        if e.get("metric", metric) == metric and e.get("set", SPLIT_SET) == evaluation_set
    ]
    published = [e for e in matching if e["kind"] == "published" and e.get("value") is not None]
    best = max(published, key=lambda e: e["value"]) if published else {}
    baseline = next((e for e in matching if e["kind"] == "baseline"), {})
    listed = "; ".join(f"{e['model']} {'NA' if e.get('value') is None else e['value']}" for e in matching)
    return {
        "published_all": listed or None,
        "published_best": best.get("value"),
        "published_best_model": best.get("model"),
        "published_best_status": best.get("status"),
        "published_best_source": best.get("source"),
        "published_best_note": best.get("note"),
        "baseline": baseline.get("value"),
        "baseline_model": baseline.get("model"),
        "baseline_status": baseline.get("status"),
    }


def leakage_columns(leakage: dict) -> dict:
    """Leakage counts summed over folds."""
    folds = leakage["folds"].values()
    columns = {
        "test_rows_seen_in_training": sum(f["test_rows_seen_in_training"] for f in folds),
        "test_duplicates": sum(f["duplicates_within"]["test"] for f in folds),
    }
    if any("test_regions_overlapping_training" in f for f in folds):
        columns["test_regions_overlapping_training"] = sum(f.get("test_regions_overlapping_training", 0) for f in folds)
    return columns


def summary_table(
    tasks: list[str],
    models: list[str],
    metrics: dict,
    external: dict,
    leakage: dict,
    published: dict,
    not_applicable: dict | None = None,
) -> pd.DataFrame:
    """The wide summary. ``metrics[(task, model)]`` and ``external[(task, model, name)]``
    are parsed metrics JSONs, ``leakage[task]`` parsed leakage.json, ``published`` the
    rule's ``{"version", "tasks": {task: [entries]}}``, ``not_applicable[task][model]``
    why a model was not trained on a task (it then has no metrics)."""
    not_applicable = not_applicable or {}
    rows = []
    for task in tasks:
        names = sorted({name for (t, _, name) in external if t == task})
        skipped = not_applicable.get(task, {})
        trained = [m for m in models if m not in skipped]
        for evaluation_set in [SPLIT_SET, *names]:
            first = metrics[(task, trained[0])] if evaluation_set == SPLIT_SET else external[(task, trained[0], evaluation_set)]
            row = {
                "task": task,
                "set": evaluation_set,
                "metric": first["metric"],
                "n_test": first["splits"]["test"]["n"],
                "n_folds": len(metrics[(task, trained[0])]["folds"]),
            }
            for model in models:
                if model in skipped:
                    row.update(not_applicable_columns(model, skipped[model], True))
                    continue
                own = metrics[(task, model)]
                if evaluation_set == SPLIT_SET:
                    row.update(model_columns(model, own, own["folds"]))
                else:
                    row.update(model_columns(model, external[(task, model, evaluation_set)], None))
                    row[f"{model}_n_parameters"] = own["folds"][0].get("n_parameters")
                    row[f"{model}_valid"] = valid_value(own)  # selection is the task's, on its own validation rows
            row.update(selected_columns(row, models, row["metric"]))
            row.update(reference_columns(published["tasks"].get(task, []), row["metric"], evaluation_set))
            row["published_version"] = published.get("version")
            if evaluation_set == SPLIT_SET:
                row.update(leakage_columns(leakage[task]))
            rows.append(row)
    return pd.DataFrame(rows)


def plot_frame(summary: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Long (task, model) rows for ``lyra.report.plots.summary_barplot``; external sets appear
    as ``task:set``; k-fold tasks (fold mean or ProteinGym pooled) carry no interval
    (``ci`` is the raw pool's); ``baseline_value`` is the one-hot baseline entry."""
    rows = []
    for row in summary.to_dict("records"):
        label = row["task"] if row["set"] == SPLIT_SET else f"{row['task']}:{row['set']}"
        kfold = row["n_folds"] > 1 and row["set"] == SPLIT_SET
        for model in models:
            rows.append({
                "task": label,
                "model": model,
                "metric": row["metric"],
                "value": row[model],
                "ci_low": None if kfold else row[f"{model}_ci_low"],
                "ci_high": None if kfold else row[f"{model}_ci_high"],
                "published_value": row["published_best"],
                "published_status": row["published_best_status"],
                "baseline_value": row["baseline"],
            })
    return pd.DataFrame(rows)


def write_summary(tasks: list[str], models: list[str], metrics_files: list[str], external_files: list[str],
                  leakage_files: list[str], published: dict, table_path, figure_path,
                  not_applicable: dict | None = None) -> pd.DataFrame:
    """Read every metrics, external and leakage file, write the summary TSV and figure;
    ``not_applicable`` is ``{task: {model: reason}}`` for the models a task does not train."""
    from lyra.report.plots import summary_barplot

    metrics = {(m["task"], m["model"]): m for m in map(read_json, metrics_files)}
    external = {(m["task"], m["model"], m["external"]): m for m in map(read_json, external_files)}
    leakage = {Path(p).parent.name: read_json(p) for p in leakage_files}
    table = summary_table(tasks, models, metrics, external, leakage, published, not_applicable)
    with atomic_path(table_path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g", na_rep="NA")
    summary_barplot(plot_frame(table, models), figure_path)
    return table
