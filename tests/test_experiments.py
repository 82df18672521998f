"""Experiments: baselines and variants as workflow models, result tables and figures, and
target `experiments` end to end on a tiny configuration (about a minute)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from scipy.stats import spearmanr

from lyra.data import splits
from lyra.config import epistasis_tasks, task_from_config
from lyra.data.records import load_records
from lyra.report.experiments import guide_lines, metrics_row, results_table, scaling_plot, scaling_table
from lyra.models.fold import train_fold
from lyra.models.saved import load_model, predict_sequences
from lyra.data.synthetic import epistasis_landscape

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


def _task(**overrides):
    entry = {"input": {"format": "csv", "path": "x.csv"}, "alphabet": "dna", "task_type": "regression",
             "split": {"scheme": "random", "fractions": [0.7, 0.15, 0.15], "seed": 0}, **overrides}
    config = {"model": {"d_model": 8, "d_state": 8}, "trainer": {"epochs": 1, "batch_size": 32}, "tasks": {"t": entry}}
    return task_from_config(config, "t")


def _prepared(task, n: int = 160, length: int = 12) -> pd.DataFrame:
    records = epistasis_landscape(n, length, "dna", orders=[1], n_terms=[8], noise=0.1, seed=1).assign(group="")
    return splits.assign(records, task.split, task.name)


# ---------------------------------------------------------------- runner: variants and baselines
def test_variant_options_override_the_task_options_of_its_base():
    task = _task(model={"d_state": 32})
    variants = {"small": {"base": "lyra", "options": {"d_state": 16, "gating": "additive"}}}
    base, options = task.model_options("small", variants)
    assert base == "lyra"
    assert options == {**task.model, "d_state": 16, "gating": "additive"}
    assert task.model_options("lyra", variants) == ("lyra", task.model)


@pytest.mark.parametrize("name, variants, problem", [
    ("nope", {}, "unknown model 'nope'"),
    ("bad", {"bad": {"base": "svm"}}, "unknown base model 'svm'"),
])
def test_unknown_models_are_named(name, variants, problem):
    with pytest.raises(ValueError, match=problem):
        _task().model_options(name, variants)


def test_ridge_writes_a_reloadable_model_and_a_one_row_history(tmp_path):
    task = _task()
    prepared = _prepared(task)
    summary = train_fold(prepared, task, 0, tmp_path, "ridge", progress=False)
    history = pd.read_csv(tmp_path / "history.csv")
    predictions = pd.read_csv(tmp_path / "predictions.tsv", sep="\t")
    valid = predictions[predictions["split"] == "valid"]
    assert len(history) == 1
    # the history's validation Spearman is that of the predictions (the target scaling is monotone)
    assert history["valid_spearman"].iloc[0] == pytest.approx(spearmanr(valid["y_true"], valid["y_pred"]).statistic)
    assert summary["n_parameters"] == 12 * 4 + 1  # one coefficient per one-hot feature + intercept
    model, meta = load_model(tmp_path / "model.pt")
    again = predict_sequences(model, meta, predictions["sequence"].tolist())
    assert np.allclose(again["y_pred"], predictions["y_pred"], rtol=1e-6, atol=1e-6)


def test_inferred_class_names_survive_the_prepared_table(tmp_path):
    """Without ``classes:`` the sorted labels of the data name the probability columns,
    also after the prepared table went through a TSV file as between workflow rules."""
    rng = np.random.default_rng(0)
    sequences = ["".join(rng.choice(list("ACGT"), 10)) for _ in range(120)]
    labels = ["strong" if s.count("G") > 2 else "weak" for s in sequences]
    pd.DataFrame({"seq": sequences, "class": labels}).to_csv(tmp_path / "x.csv", index=False)
    task = _task(task_type="binary", metric="auroc", columns={"sequence": "seq", "target": "class"})
    prepared = splits.assign(load_records(task, tmp_path), task.split, task.name)
    prepared.to_csv(tmp_path / "prepared.tsv", sep="\t", index=False)
    prepared = pd.read_csv(tmp_path / "prepared.tsv", sep="\t", keep_default_na=False)
    train_fold(prepared, task, 0, tmp_path / "ridge", "ridge", progress=False)
    predictions = pd.read_csv(tmp_path / "ridge" / "predictions.tsv", sep="\t")
    assert [c for c in predictions if c.startswith("prob_")] == ["prob_strong", "prob_weak"]
    truth = np.array(labels)[[sequences.index(s) for s in predictions["sequence"]]]
    assert (np.array(["strong", "weak"])[predictions["y_true"]] == truth).all()


@pytest.mark.parametrize("model", ["ridge", "cnn"])
def test_undefined_validation_score_is_none_in_the_summary(tmp_path, model):
    """A validation set with a constant target (FLIP one_vs_rest has 3 validation rows)
    has no Spearman; the summary must still be strict JSON."""
    task = _task()
    prepared = _prepared(task)
    prepared.loc[prepared["split"] == "valid", "target"] = 1.0
    summary = train_fold(prepared, task, 0, tmp_path, model, progress=False)
    assert summary["best_valid_score"] is None
    json.dumps(summary, allow_nan=False)


def test_ridge_is_fitted_on_the_train_rows_only(tmp_path):
    task = _task()
    prepared = _prepared(task)
    view = splits.view(prepared, 0, task.split)
    # poison the valid and test targets: a fit on train rows only does not change
    poisoned = prepared.copy()
    poisoned.loc[view["split"].to_numpy() != "train", "target"] = 1e3
    train_fold(prepared, task, 0, tmp_path / "a", "ridge", progress=False)
    train_fold(poisoned, task, 0, tmp_path / "b", "ridge", progress=False)
    a = pd.read_csv(tmp_path / "a" / "predictions.tsv", sep="\t")
    b = pd.read_csv(tmp_path / "b" / "predictions.tsv", sep="\t")
    assert np.allclose(a["y_pred"], b["y_pred"])


def test_transformer_positions_cover_the_longest_sequence(tmp_path):
    task = _task()
    prepared = _prepared(task, n=60, length=9)
    train_fold(prepared, task, 0, tmp_path, "transformer", progress=False)
    saved = torch.load(tmp_path / "model.pt", weights_only=False)
    assert saved["model_options"]["max_len"] == 9
    assert saved["state_dict"]["positions.weight"].shape[0] == 9
    # an external set with longer sequences is reported as unscorable, not a crash
    model, meta = load_model(tmp_path / "model.pt")
    assert model.unscorable_reason(["ACGTACGTA"]) is None
    assert "2 of 3 sequences here are longer (up to 12)" in model.unscorable_reason(["ACG", "ACGTACGTAC", "A" * 12])
    with pytest.raises(ValueError, match="max_len=9"):
        predict_sequences(model, meta, ["A" * 12])


# ---------------------------------------------------------------- tables and figures
def test_epistasis_tasks_have_one_order_each_and_are_valid_tasks():
    spec = {"orders": [1, 3], "landscape": {"n_sequences": 50, "length": 8, "alphabet": "dna", "n_terms": 4},
            "task": {"split": {"scheme": "random", "fractions": [0.8, 0.1, 0.1]}, "metric": "spearman"}}
    synthetic, tasks = epistasis_tasks(spec)
    assert synthetic == {f"epistasis_order{k}": {"n_sequences": 50, "length": 8, "alphabet": "dna", "orders": [k],
                                                 "n_terms": [4]} for k in (1, 3)}
    for name, entry in tasks.items():
        resolved = task_from_config({"tasks": tasks}, name)
        assert resolved.input["path"] == f"{name}.csv"
        assert resolved.alphabet == "dna"


def _metrics_json(path: Path, value, low, high, folds) -> Path:
    path.write_text(json.dumps({
        "task": "t", "model": "lyra", "metric": "spearman",
        "splits": {"test": {"value": {"value": value}, "ci": {"low": low, "high": high}, "n": 10}},
        "folds": folds,
    }))
    return path


def test_results_table_reads_metric_ci_parameters_and_time(tmp_path):
    folds = [{"n_parameters": 100, "train_seconds": 1.5}, {"n_parameters": 100, "train_seconds": 2.0}]
    path = _metrics_json(tmp_path / "m.json", 0.5, 0.4, 0.6, folds)
    row = metrics_row(path)
    assert (row["value"], row["ci_low"], row["ci_high"], row["n_parameters"]) == (0.5, 0.4, 0.6, 100)
    assert row["train_seconds"] == pytest.approx(3.5)
    table = results_table([{"task": "t", "model": "lyra_dstate16", "metrics": path}])
    assert table.loc[0, "model"] == "lyra_dstate16"  # the entry's label, not the file's model
    assert "metrics" not in table.columns


def test_scaling_table_keeps_oom_and_failed_points():
    rows = [
        {"model": "lyra", "length": 1024, "seconds": 0.01, "peak_extra_mb": 5.0},
        {"model": "transformer", "length": 65536, "oom_estimated_gb": 137.4},
        {"model": "transformer", "length": 32768, "error": ["MemoryError"]},
    ]
    table = scaling_table(rows)
    assert list(table["status"]) == ["ok", "OOM (estimated 137.4 GB)", "failed: MemoryError"]
    assert table["seconds"].isna().tolist() == [False, True, True]


def test_guide_lines_pass_through_the_anchor_and_scale():
    lengths = np.array([1024, 2048, 4096])
    guides = guide_lines(lengths, 1024, 3.0)
    assert guides["N^2"] == pytest.approx([3.0, 12.0, 48.0])
    assert guides["N log N"] == pytest.approx(3.0 * lengths * np.log2(lengths) / (1024 * 10))


def test_scaling_plot_is_written_with_oom_rows(tmp_path):
    table = scaling_table([
        {"model": "lyra", "length": 1024, "seconds": 0.01, "peak_extra_mb": 5.0},
        {"model": "lyra", "length": 4096, "seconds": 0.03, "peak_extra_mb": 20.0},
        {"model": "transformer", "length": 1024, "seconds": 0.02, "peak_extra_mb": 40.0},
        {"model": "transformer", "length": 4096, "oom_estimated_gb": 99.0},
    ])
    assert scaling_plot(table, tmp_path / "s.png").read_bytes().startswith(PNG)


# ---------------------------------------------------------------- target `experiments` end to end
TINY_CONFIG = {
    "data_root": ".",
    "n_boot": 50,
    "models": ["lyra", "ridge"],  # ridge: the baseline of this tiny run
    "model": {"d_model": 8, "d_state": 8, "dropout": 0.0},
    "trainer": {"epochs": 1, "batch_size": 64},
    "synthetic": {"small": {"n_sequences": 200, "length": 10, "alphabet": "dna", "orders": [1, 2],
                            "n_terms": [6, 3], "seed": 0}},
    "tasks": {"small": {"data_root": "resources/synthetic", "input": {"format": "csv", "path": "small.csv"},
                        "columns": {"id": "id"}, "alphabet": "dna", "task_type": "regression",
                        "split": {"scheme": "random", "fractions": [0.7, 0.15, 0.15]}}},
    "model_variants": {"same_as_lyra": {"base": "lyra", "options": {"d_state": 8}},
                       "lyra_s4d_only": {"base": "lyra", "options": {"pgc_expansions": []}}},
    "experiments": {
        "ablations": {"tasks": ["small"], "comparisons": {"no_pgc": ["lyra", "same_as_lyra", "lyra_s4d_only"]}},
        "epistasis": {"orders": [1, 2], "models": ["ridge"],
                      "landscape": {"n_sequences": 300, "length": 8, "alphabet": "dna", "n_terms": 4, "noise": 0.05},
                      "task": {"split": {"scheme": "random", "fractions": [0.7, 0.15, 0.15]}}},
        "scaling": {"lengths": [64, 128], "repeats": 1},
    },
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("experiments")
    shutil.copytree(REPO / "workflow", workdir / "workflow")
    shutil.copytree(REPO / "benchmarks", workdir / "benchmarks", ignore=shutil.ignore_patterns("results"))
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(TINY_CONFIG))
    command = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "tiny.yaml",
               "--replace-workflow-config", "experiments"]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


def _test_spearman(run_dir: Path, folder: str) -> float:
    predictions = pd.read_csv(run_dir / folder / "fold0" / "predictions.tsv", sep="\t").query("split == 'test'")
    return spearmanr(predictions["y_true"], predictions["y_pred"]).statistic


def test_baseline_table_matches_the_predictions(run_dir):
    table = pd.read_csv(run_dir / "results/experiments/baselines.tsv", sep="\t")
    assert sorted(table["model"]) == ["lyra", "ridge"]
    for row in table.itertuples():
        assert row.value == pytest.approx(_test_spearman(run_dir, f"results/small/{row.model}"), abs=1e-5)
    summary = pd.read_csv(run_dir / "results/summary.tsv", sep="\t").set_index("task")
    assert list(summary.index) == ["small"]
    for row in table.itertuples():  # each model, baseline included, is a column group of the summary
        assert summary.loc["small", row.model] == pytest.approx(row.value, abs=1e-5)
        assert summary.loc["small", f"{row.model}_n_parameters"] == row.n_parameters
    assert (run_dir / "results/small/ridge/figures/learning_curve_fold0.png").read_bytes().startswith(PNG)


def test_ablation_variants_train_once_and_equal_ones_share_lyra(run_dir):
    table = pd.read_csv(run_dir / "results/experiments/ablation_no_pgc.tsv", sep="\t").set_index("model")
    assert not (run_dir / "results/small/same_as_lyra").exists()
    assert table.loc["same_as_lyra", "value"] == table.loc["lyra", "value"]
    assert table.loc["lyra_s4d_only", "value"] == pytest.approx(
        _test_spearman(run_dir, "results/small/lyra_s4d_only"), abs=1e-5)
    assert table.loc["lyra_s4d_only", "n_parameters"] < table.loc["lyra", "n_parameters"]
    assert (run_dir / "results/experiments/ablation_no_pgc.png").read_bytes().startswith(PNG)


def test_epistasis_sweep_scores_each_order(run_dir):
    table = pd.read_csv(run_dir / "results/experiments/epistasis.tsv", sep="\t").set_index("order")
    assert sorted(table.index) == [1, 2]
    for order in (1, 2):
        assert table.loc[order, "value"] == pytest.approx(
            _test_spearman(run_dir, f"results/epistasis_order{order}/ridge"), abs=1e-5)
    assert table.loc[1, "value"] > 0.9  # a linear model fits a purely additive landscape


def test_scaling_rows_for_both_models(run_dir):
    table = pd.read_csv(run_dir / "results/experiments/scaling.tsv", sep="\t")
    assert sorted(zip(table["model"], table["length"])) == [
        ("lyra", 64), ("lyra", 128), ("transformer", 64), ("transformer", 128)]
    assert (table["status"] == "ok").all() and (table["seconds"] > 0).all()


def test_report_has_the_experiments(run_dir):
    command = [sys.executable, "-m", "snakemake", "--configfile", "tiny.yaml", "--replace-workflow-config",
               "--report", "report.html", "experiments"]
    result = subprocess.run(command, cwd=run_dir, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-5000:]
    html = (run_dir / "report.html").read_text()
    assert "Experiments" in html and "ablation_no_pgc.png" in html


def test_target_experiments_without_its_config_names_the_overlay(run_dir):
    config = {key: value for key, value in TINY_CONFIG.items() if key not in ("experiments", "model_variants")}
    (run_dir / "no_experiments.yaml").write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "snakemake", "-n", "--configfile", "no_experiments.yaml",
               "--replace-workflow-config", "experiments"]
    result = subprocess.run(command, cwd=run_dir, capture_output=True, text=True)
    assert result.returncode != 0
    assert "--configfile config/experiments.yaml" in result.stdout + result.stderr
    # the default target of the same config is unaffected
    command.remove("experiments")
    assert subprocess.run(command, cwd=run_dir, capture_output=True, text=True).returncode == 0


def test_position_aware_lyra_takes_the_fold_length_and_reports_longer_sequences(tmp_path):
    task = _task(model={"d_model": 8, "d_state": 8, "position_embedding": "learned", "linear_skip": True,
                        "position_aware": False},
                 trainer={"epochs": 2, "batch_size": 32, "ridge_init": True})
    prepared = _prepared(task, n=80, length=9)
    summary = train_fold(prepared, task, 0, tmp_path, "lyra", progress=False)
    saved = torch.load(tmp_path / "model.pt", weights_only=False)
    assert saved["model_options"]["max_len"] == 9
    # the paper model plus one skip weight per position and letter and a learned position per position
    from lyra.nn.lyra import Lyra

    plain = sum(p.numel() for p in Lyra(4, 1, d_model=8, d_state=8).parameters())
    assert summary["n_parameters"] == plain + 9 * 4 * 1 + 9 * 8
    model, meta = load_model(tmp_path / "model.pt")
    assert model.unscorable_reason(["ACGTACGTA"]) is None
    assert "position-specific" in model.unscorable_reason(["ACGTACGTAC"])
    predictions = pd.read_csv(tmp_path / "predictions.tsv", sep="\t")
    again = predict_sequences(model, meta, predictions["sequence"].tolist())
    assert np.allclose(again["y_pred"], predictions["y_pred"], rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- position_aware: auto
@pytest.mark.parametrize("value, lengths, task_type, on", [
    ("auto", [12, 12, 12], "regression", True),
    ("auto", [10, 12, 12], "regression", False),  # variable length: the paper model
    ("auto", [12, 12], "binary", False),  # classification: not measured, left off
    (True, [10, 12], "regression", True),
    (False, [12, 12], "regression", False),
])
def test_position_aware_resolves_to_the_documented_options(value, lengths, task_type, on):
    from lyra.models.estimators import POSITION_AWARE_OPTIONS, resolve_position_aware
    options, came_on = resolve_position_aware({"d_model": 8, "position_aware": value}, np.array(lengths), task_type)
    assert came_on == on
    assert "position_aware" not in options
    pair_head = {"pair_head": True} if on and task_type == "regression" else {}
    expected = {"d_model": 8, **(POSITION_AWARE_OPTIONS if on else {}), **pair_head}
    assert options == expected


def test_position_aware_keeps_the_tasks_own_options_and_names_bad_values():
    from lyra.models.estimators import resolve_position_aware
    options, _ = resolve_position_aware({"position_aware": True, "hidden_head": 16}, np.array([5]), "regression")
    assert options["hidden_head"] == 16
    with pytest.raises(ValueError, match="model.position_aware must be one of"):
        resolve_position_aware({"position_aware": "yes"}, np.array([5]), "regression")
    for number in (1, 0):  # 1 == True in Python, but a number is not a documented value
        with pytest.raises(ValueError, match="model.position_aware must be one of"):
            resolve_position_aware({"position_aware": number}, np.array([5]), "regression")


def _pair_landscape(task, n: int = 600, length: int = 8, seed: int = 0) -> pd.DataFrame:
    """Prepared rows: additive DNA fitness plus a strong coupling of positions 1 and 5."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, length))
    target = rng.normal(size=(length, 4))[np.arange(length), codes].sum(1)
    target += 2 * rng.normal(size=(4, 4))[codes[:, 1], codes[:, 5]] + 0.2 * rng.normal(size=n)
    records = pd.DataFrame({"id": [f"s{i}" for i in range(n)], "sequence": ["".join("ACGT"[c] for c in row) for row in codes],
                            "target": target, "group": ""})
    return splits.assign(records, task.split, task.name)


def test_pair_screen_sees_the_training_rows_only(tmp_path):
    """A coupling planted in the validation and test rows alone is not found; the one in
    every row is, and the model keeps its pairs in model.pt."""
    task = _task(model={"d_model": 8, "d_state": 8, "position_aware": "auto"}, trainer={"lr": 0.0})
    prepared = _pair_landscape(task)
    held_out = prepared["split"] != "train"
    codes = np.array([["ACGT".index(c) for c in s] for s in prepared.loc[held_out, "sequence"]])
    planted = prepared.copy()
    planted.loc[held_out, "target"] += 5 * np.random.default_rng(1).normal(size=(4, 4))[codes[:, 2], codes[:, 6]]
    kept = []
    for i, rows in enumerate((prepared, planted)):
        summary = train_fold(rows, task, 0, tmp_path / str(i), progress=False)
        _, meta = load_model(tmp_path / str(i) / "model.pt")
        kept.append(meta["model_options"]["pair_sites"])
        assert summary["n_pairs"] == len(kept[-1])
        assert "pair_head" not in meta["model_options"]
    assert kept[0] == kept[1] and [1, 5] in kept[0] and [2, 6] not in kept[1]


def test_pair_head_option_errors_are_named():
    from lyra.models.estimators import resolve_pair_head
    x, mask = torch.zeros(4, 3, 4), torch.ones(4, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match="model.pair_head must be true or false"):
        resolve_pair_head({"pair_head": "yes"}, x, mask, np.zeros(4), "regression")
    with pytest.raises(ValueError, match="regression tasks only"):
        resolve_pair_head({"pair_head": True}, x, mask, np.zeros(4), "binary")
    with pytest.raises(ValueError, match="not both"):
        resolve_pair_head({"pair_head": True, "pair_sites": [[0, 1]]}, x, mask, np.zeros(4), "regression")
    assert resolve_pair_head({"pair_head": False, "d_model": 8}, x, mask, np.zeros(4), "regression") == {"d_model": 8}


@pytest.mark.parametrize("cut, on", [(False, True), (True, False)])
def test_auto_position_aware_lyra_on_fixed_length_regression_only(tmp_path, cut, on):
    """A fixed-length landscape trains the position-aware Lyra; cutting some sequences
    shorter gives the paper model. train.json records the options the network ran with."""
    task = _task(model={"d_model": 8, "d_state": 8, "position_aware": "auto"}, trainer={"lr": 0.0})
    prepared = _prepared(task)
    if cut:
        prepared.loc[prepared.index[::7], "sequence"] = prepared["sequence"].str[:9]
    summary = train_fold(prepared, task, 0, tmp_path, progress=False)
    assert summary["position_aware"] is on
    _, meta = load_model(tmp_path / "model.pt")
    assert ("hidden_head" in meta["model_options"]) is on
    assert meta["model_options"].get("max_len") == (12 if on else None)
    assert "position_aware" not in meta["model_options"]
    assert summary["model_options"] == meta["model_options"] and summary["trainer"]["lr"] == 0.0


@pytest.mark.parametrize("ridge_init", [False, True])
def test_position_aware_training_never_ends_at_epoch_0(tmp_path, ridge_init):
    """With lr 0 the network stays at its start, which the ridge model (alone or as the
    ridge_init start) beats on validation: the kept state is still a trained epoch of
    the network (epoch >= 1), whose predictions differ from ridge_pairs'."""
    task = _task(model={"d_model": 8, "d_state": 8, "position_aware": True},
                 trainer={"lr": 0.0, "epochs": 2, "ridge_init": ridge_init})
    prepared = _pair_landscape(task)
    summary = train_fold(prepared, task, 0, tmp_path / "lyra", progress=False)
    assert summary["best_epoch"] >= 1 and summary["position_aware"] is True
    history = pd.read_csv(tmp_path / "lyra" / "history.csv")
    assert history["epoch"].min() == 1  # no epoch-0 row: the start is never scored as a candidate
    train_fold(prepared, task, 0, tmp_path / "ridge_pairs", "ridge_pairs", progress=False)
    network = pd.read_csv(tmp_path / "lyra" / "predictions.tsv", sep="\t")["y_pred"]
    ridge = pd.read_csv(tmp_path / "ridge_pairs" / "predictions.tsv", sep="\t")["y_pred"]
    assert not np.allclose(network, ridge, atol=1e-3)


# ---------------------------------------------------------------- ridge_pairs
def test_ridge_pairs_equals_ridge_on_the_explicit_one_hot_plus_pair_design(tmp_path):
    """ridge_pairs' predictions are scikit-learn Ridge (same alpha) on one-hot plus one
    indicator per letter combination of each kept pair, built here in numpy; its alpha is
    RidgeCV's leave-one-out choice on that design; model.pt reloads (tensors and plain
    values only) and predicts the same."""
    from sklearn.linear_model import Ridge, RidgeCV

    from lyra.nn.baselines import RIDGE_ALPHAS

    task = _task()
    prepared = _pair_landscape(task)
    summary = train_fold(prepared, task, 0, tmp_path, "ridge_pairs", progress=False)
    saved = torch.load(tmp_path / "model.pt", weights_only=True)
    sites = saved["pair_sites"]
    assert [1, 5] in sites and summary["n_pairs"] == len(sites)
    codes = np.array([["ACGT".index(c) for c in s] for s in prepared["sequence"]])
    design = np.hstack([np.eye(4)[codes].reshape(len(codes), -1),
                        *[np.eye(16)[codes[:, p] * 4 + codes[:, q]] for p, q in sites]])
    train = (prepared["split"] == "train").to_numpy()
    y = prepared["target"].to_numpy()
    alpha = pd.read_csv(tmp_path / "history.csv")["alpha"].iloc[0]
    assert alpha == RidgeCV(alphas=RIDGE_ALPHAS).fit(design[train], y[train]).alpha_
    expected = Ridge(alpha=alpha).fit(design[train], y[train]).predict(design)
    predictions = pd.read_csv(tmp_path / "predictions.tsv", sep="\t").set_index("id").loc[prepared["id"]]
    np.testing.assert_allclose(predictions["y_pred"], expected, rtol=1e-6, atol=1e-6)
    model, meta = load_model(tmp_path / "model.pt")
    again = predict_sequences(model, meta, prepared["sequence"].tolist())
    np.testing.assert_allclose(again["y_pred"], expected, rtol=1e-6, atol=1e-6)
    assert "position-specific" in model.unscorable_reason(["ACGTACGTA"])


def test_ridge_pairs_is_for_regression_tasks_only():
    classification = _task(task_type="binary", classes=["0", "1"])
    assert "regression tasks only" in classification.not_applicable("ridge_pairs")
    assert classification.not_applicable("ridge") is None and _task().not_applicable("ridge_pairs") is None


# ---------------------------------------------------------------- lyra_heads_only
def test_heads_only_lyra_has_no_path_through_a_backbone():
    """backbone=False: the output is the decoder bias plus the skip, hidden and pair
    heads; a model with the same head weights and any backbone weights differs only by
    the backbone's contribution, which is zero here."""
    from lyra.nn.lyra import Lyra

    torch.manual_seed(0)
    heads = Lyra(4, 1, d_model=8, d_state=8, linear_skip=True, hidden_head=6, pair_sites=[[0, 3]],
                 position_embedding="learned", max_len=10, backbone=False).eval()
    for param in heads.parameters():
        torch.nn.init.normal_(param)
    assert not any(name.startswith(("encoder", "pgc", "s4d", "positions")) for name, _ in heads.named_parameters())
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (5, 10)), 4).float()
    skip = torch.einsum("bla,la->b", x, heads.skip[..., 0])
    hidden = torch.einsum("bla,lah->bh", x, heads.head_input) + heads.head_features.bias
    pair = torch.einsum("ba,bc,ac->b", x[:, 0], x[:, 3], heads.pair_table[0, ..., 0])
    expected = heads.decoder.bias + skip + heads.head_output(torch.nn.functional.gelu(hidden))[:, 0] + pair
    with torch.no_grad():
        torch.testing.assert_close(heads(x)[:, 0], expected)
