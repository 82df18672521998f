"""docs/results.md is rendered from whatever model columns a summary has, and stamped from the run."""

import json

import pandas as pd

from lyra.cli import main
from lyra.report.results_page import lyra_behind, model_columns, other_columns, run_stamp


def _summary() -> pd.DataFrame:
    """Two rows in lyra.report.summary's layout with a third model and a column this module does not know."""
    rows = [{"task": "gb1", "set": "test", "metric": "spearman", "n_test": 100, "n_folds": 1},
            {"task": "pg", "set": "test", "metric": "spearman", "n_test": 900, "n_folds": 5}]
    for row, kfold in zip(rows, (False, True)):
        for i, model in enumerate(("lyra", "ridge", "ridge_pairs")):
            value = None if (kfold and model == "ridge") else 0.5 + 0.1 * i
            row.update({model: value, f"{model}_headline": "pooled" if kfold else "test",
                        f"{model}_ci_low": 0.4 + 0.1 * i, f"{model}_ci_high": 0.6 + 0.1 * i,
                        f"{model}_undefined": "constant predictions" if value is None else ""})
        row.update({"selected_model": "ridge_pairs", "selected": 0.5 + 0.2, "selected_valid": 0.72,
                    "lab_note": "x", "published_best": 0.7, "published_best_model": "Kermut",
                    "baseline": None, "baseline_model": None, "test_duplicates": 0})
    return pd.DataFrame(rows)


def test_every_model_group_and_unknown_column_is_found():
    summary = _summary()
    models = model_columns(summary)
    assert models == ["lyra", "ridge", "ridge_pairs"]
    assert other_columns(summary, models) == ["selected_model", "selected", "selected_valid", "lab_note"]


def test_the_page_renders_the_summary_and_the_runs_stamp(tmp_path):
    results = tmp_path / "results"
    (results / "gb1" / "lyra").mkdir(parents=True)
    (results / "benchmarks" / "gb1").mkdir(parents=True)
    provenance = {"created_utc": "2031-01-02T03:04:05+00:00", "git": {"commit": "abc123", "dirty": False},
                  "platform": "Linux-x86_64", "device": "cpu"}
    (results / "gb1" / "lyra" / "metrics.json").write_text(json.dumps({"provenance": provenance}))
    for name, seconds in (("train", 90.0), ("prepare", 30.0)):
        (results / "benchmarks" / "gb1" / f"{name}.tsv").write_text(f"s\th:m:s\n{seconds}\t0:00:00\n")
    _summary().to_csv(results / "summary.tsv", sep="\t", index=False, na_rep="NA")
    out = tmp_path / "docs" / "results.md"
    assert main(["results-page", "--summary", str(results / "summary.tsv"), "--out", str(out)]) == 0
    page = out.read_text()
    assert ("| task | set | metric | n test | Lyra | one-hot ridge | ridge_pairs (one-hot + pairs) "
            "| selected on validation | selected: test | selected: validation | lab_note |") in page
    assert "| gb1 | test | spearman | 100 | 0.500 [0.400, 0.600] | 0.600 [0.500, 0.700] | 0.700 [0.600, 0.800] " \
           "| ridge_pairs | 0.700 | 0.720 | x | 0.700 (Kermut) |  |" in page
    assert "| pg | test | spearman | 900 | 0.500 (pooled) | n/a | 0.700 (pooled) |" in page
    assert "- commit: abc123" in page and "2031-01-02T03:04:05+00:00" in page and "Linux-x86_64" in page
    assert "2.0 min of Snakemake jobs (2 jobs" in page
    assert run_stamp(results)["job_seconds"] == 120.0


def test_rows_where_lyra_is_behind_are_listed_by_the_metrics_direction():
    summary = pd.DataFrame([
        {"task": "a", "set": "test", "metric": "spearman", "lyra": 0.6, "lyra_headline": "test",
         "ridge": 0.7, "ridge_headline": "test", "ridge_pairs": 0.65, "ridge_pairs_headline": "test"},
        {"task": "b", "set": "test", "metric": "spearman", "lyra": 0.8, "lyra_headline": "test",
         "ridge": 0.7, "ridge_headline": "test", "ridge_pairs": None, "ridge_pairs_headline": "test"},
        {"task": "c", "set": "test", "metric": "mse", "lyra": 2.0, "lyra_headline": "test",
         "ridge": 1.0, "ridge_headline": "test", "ridge_pairs": 3.0, "ridge_pairs_headline": "test"},
        {"task": "d", "set": "test", "metric": "mse", "lyra": 0.5, "lyra_headline": "test",
         "ridge": 1.0, "ridge_headline": "test", "ridge_pairs": 3.0, "ridge_pairs_headline": "test"},
    ])
    assert lyra_behind(summary) == ["- a (test): Lyra 0.600, one-hot ridge 0.700",
                                    "- c (test): Lyra 2.000, one-hot ridge 1.000"]
