"""The Snakemake workflow end to end on the tiny .test configuration (about a minute).

The workflow and .test config are copied into a temporary directory and run there with
``--replace-workflow-config`` (so config/config.yaml is not merged in) and data_root
pointing at the shared data. Outputs are checked against independent computations from
the input files, not against stored numbers.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import spearmanr
from conftest import write_test_data

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SPLICE_CSV = DATA / "rna_splice_junction_uci" / "splice_junction_uci.csv"
TEST_CONFIG = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())
TASKS = list(TEST_CONFIG["tasks"])

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data folder {DATA} is absent")


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """Run snakemake with the .test config in ``workdir``."""
    command = [
        sys.executable, "-m", "snakemake", "--cores", "2",
        "--configfile", ".test/config/config.yaml", "--replace-workflow-config",
        "--config", f"data_root={DATA}", *args,
    ]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A finished run of the .test workflow; the GB1 slice is cut from the shared files here."""
    workdir = tmp_path_factory.mktemp("workflow")
    shutil.copytree(REPO / "workflow", workdir / "workflow")
    shutil.copytree(REPO / ".test", workdir / ".test")
    write_test_data(workdir)
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


def _predictions(run_dir: Path, task: str) -> pd.DataFrame:
    return pd.read_csv(run_dir / f"results/{task}/lyra/fold0/predictions.tsv", sep="\t", dtype={"id": str})


def _metrics(run_dir: Path, task: str) -> dict:
    return json.loads((run_dir / f"results/{task}/lyra/metrics.json").read_text())


@pytest.mark.parametrize("task", TASKS)
def test_prepared_table_and_leakage_report(run_dir, task):
    prepared = pd.read_csv(run_dir / f"results/{task}/prepared.tsv", sep="\t", keep_default_na=False)
    spec = TEST_CONFIG["tasks"][task]
    if spec["task_type"] == "regression":
        assert list(prepared.columns) == ["id", "sequence", "target", "group", "fold", "split"]
    else:  # the class index and its name
        assert list(prepared.columns) == ["id", "sequence", "target", "label", "group", "fold", "split"]
        assert (prepared["label"] == [str(spec["classes"][i]) for i in prepared["target"]]).all()
    assert set(prepared["split"]) == {"train", "valid", "test"}
    assert prepared["id"].is_unique
    leakage = json.loads((run_dir / f"results/{task}/leakage.json").read_text())
    rows = leakage["folds"]["0"]["rows"]
    assert rows == prepared["split"].value_counts().to_dict()


def test_splice_rows_follow_the_configured_ranges(run_dir):
    raw = pd.read_csv(SPLICE_CSV)
    prepared = pd.read_csv(run_dir / "results/splice_uci/prepared.tsv", sep="\t").set_index("id")
    ranges = TEST_CONFIG["tasks"]["splice_uci"]["split"]["ranges"]
    test_ids = raw["id"].iloc[ranges["test"][0] : ranges["test"][1]]
    train_ids = raw["id"].iloc[ranges["train"][0] : ranges["train"][1]]
    assert set(prepared.index) == set(test_ids) | set(train_ids)
    assert (prepared.loc[test_ids, "split"] == "test").all()
    assert prepared.loc[train_ids, "split"].isin(["train", "valid"]).all()


@pytest.mark.parametrize("task", TASKS)
def test_predictions_cover_every_prepared_row(run_dir, task):
    prepared = pd.read_csv(run_dir / f"results/{task}/prepared.tsv", sep="\t", keep_default_na=False)
    predictions = _predictions(run_dir, task)
    assert {"id", "sequence", "split", "fold", "y_true", "y_pred"} <= set(predictions.columns)
    merged = prepared.merge(predictions, on="id", suffixes=("", "_pred"), validate="one_to_one")
    assert len(merged) == len(prepared)
    assert (merged["split"] == merged["split_pred"]).all()
    assert np.allclose(merged["target"], merged["y_true"])
    assert np.isfinite(predictions["y_pred"]).all()


def test_splice_truth_and_probabilities_match_the_input(run_dir):
    labels = pd.read_csv(SPLICE_CSV).set_index("id")["label"]
    classes = TEST_CONFIG["tasks"]["splice_uci"]["classes"]
    predictions = _predictions(run_dir, "splice_uci").set_index("id")
    expected = labels.loc[predictions.index].map(classes.index)
    assert (predictions["y_true"] == expected).all()
    probs = predictions[[f"prob_{c}" for c in classes]].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert (predictions["y_pred"] == probs.argmax(axis=1)).all()


def test_regression_metrics_agree_with_scipy(run_dir):
    for task in ("synthetic_epistasis", "gb1_relso"):
        test = _predictions(run_dir, task).query("split == 'test'")
        metrics = _metrics(run_dir, task)
        assert metrics["metric"] == "spearman"
        assert metrics["splits"]["test"]["n"] == len(test)
        expected = spearmanr(test["y_true"], test["y_pred"]).statistic
        assert metrics["splits"]["test"]["value"]["value"] == pytest.approx(expected)
        ci = metrics["splits"]["test"]["ci"]
        assert ci["low"] <= ci["high"]
        assert metrics["provenance"]["inputs"]


def test_gb1_truth_is_the_raw_fitness(run_dir):
    raw = pd.read_csv(run_dir / "resources/test_data/gb1/test.csv", header=None, names=["sequence", "fitness"])
    test = _predictions(run_dir, "gb1_relso").query("split == 'test'")
    assert sorted(test["y_true"]) == pytest.approx(sorted(raw["fitness"]))


def test_classification_accuracy_agrees(run_dir):
    test = _predictions(run_dir, "splice_uci").query("split == 'test'")
    metrics = _metrics(run_dir, "splice_uci")
    assert metrics["splits"]["test"]["value"]["value"] == pytest.approx((test["y_true"] == test["y_pred"]).mean())


@pytest.mark.parametrize(
    "task, figures",
    [
        ("synthetic_epistasis", ["learning_curve_fold0", "scatter"]),
        ("gb1_relso", ["learning_curve_fold0", "scatter"]),
        ("splice_uci", ["learning_curve_fold0", "roc", "confusion"]),
    ],
)
def test_figures_are_png_files(run_dir, task, figures):
    for name in figures:
        data = (run_dir / f"results/{task}/lyra/figures/{name}.png").read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")


def test_external_set_is_scored_by_lyra_and_left_undefined_for_ridge(run_dir):
    """Lyra scores sequences longer than its training ones, as the ensemble of its two
    members (fold0, seed1); the ridge model's positional features cannot, so its metric
    is undefined with the reason, and the run goes on."""
    scored = json.loads((run_dir / "results/gb1_relso/lyra/external_longer.json").read_text())
    predictions = pd.read_csv(run_dir / "results/gb1_relso/lyra/external_longer.tsv", sep="\t")
    assert len(predictions) == 40 and (predictions["sequence"].str.len() == 58).all()
    from lyra.models.saved import load_model, predict_sequences  # the ensemble of both members, recomputed

    members = []
    for member in ("fold0", "seed1"):
        model, meta = load_model(run_dir / f"results/gb1_relso/lyra/{member}/model.pt")
        members.append(predict_sequences(model, meta, predictions["sequence"].tolist())["y_pred"].to_numpy())
    assert np.allclose(predictions["y_pred"], np.mean(members, axis=0), rtol=1e-5, atol=1e-6)
    assert np.allclose(predictions["y_std"], np.std(members, axis=0), rtol=1e-4, atol=1e-6)
    expected = spearmanr(predictions["y_true"], predictions["y_pred"]).statistic
    assert scored["splits"]["test"]["value"]["value"] == pytest.approx(expected, abs=1e-6)
    ridge = json.loads((run_dir / "results/gb1_relso/ridge/external_longer.json").read_text())
    value = ridge["splits"]["test"]["value"]
    assert value["undefined"] and "up to 56 long; 40 of 40 sequences" in value["reason"]
    summary = pd.read_csv(run_dir / "results/summary.tsv", sep="\t")
    row = summary[(summary["task"] == "gb1_relso") & (summary["set"] == "longer")].iloc[0]
    assert row["lyra"] == pytest.approx(expected, abs=1e-6) and np.isnan(row["ridge"])


def test_mutagenesis_scores_every_substitution_of_the_reference(run_dir):
    """The task's reference, mutated at every position, scored by its members (Lyra: fold0
    and seed1, trainer.n_seeds 2; ridge: fold0); one mutant rescored here member by member
    through lyra.models.fold agrees."""
    from lyra.models.saved import load_model, predict_sequences

    reference = TEST_CONFIG["tasks"]["gb1_relso"]["reference"]
    for model_name, members in (("lyra", ["fold0", "seed1"]), ("ridge", ["fold0"])):
        ism = pd.read_csv(run_dir / f"results/gb1_relso/{model_name}/mutagenesis.tsv", sep="\t")
        assert len(ism) == 19 * len(reference) and (ism["reference_id"] == "reference").all()
        assert (ism["wt"] == [reference[p - 1] for p in ism["position"]]).all()
        row = ism.iloc[123]
        mutant = reference[: row["position"] - 1] + row["mut"] + reference[row["position"]:]
        scores = []
        for member in members:
            model, meta = load_model(run_dir / f"results/gb1_relso/{model_name}/{member}/model.pt")
            scores.append(predict_sequences(model, meta, [reference, mutant])["y_pred"].to_numpy())
        scores = np.array(scores)
        assert row["score"] == pytest.approx(scores[:, 1].mean(), rel=1e-5)
        assert row["std"] == pytest.approx(scores[:, 1].std(), rel=1e-4, abs=1e-9)
        assert row["effect"] == pytest.approx((scores[:, 1] - scores[:, 0]).mean(), rel=1e-4, abs=1e-6)
        assert (ism["std"] > 0).all() if len(members) > 1 else (ism["std"] == 0).all()
        png = run_dir / f"results/gb1_relso/{model_name}/mutagenesis.png"
        assert png.read_bytes().startswith(b"\x89PNG")


def test_design_block_proposes_the_ucb_batch_of_the_unmeasured_combinations(run_dir):
    """gb1_relso's design block (UCB, beta 2, 8 proposals at V40 and D41, each site-letter
    at most 3 times): the batch recomputed here from the two Lyra members scored one by
    one over all 399 combinations, less the sequences of the task's data."""
    from lyra.models.saved import load_model, predict_sequences

    reference = TEST_CONFIG["tasks"]["gb1_relso"]["reference"]
    letters = "ACDEFGHIKLMNPQRSTVWY"
    names, sequences = [], []
    for a in letters:
        for b in letters:
            if (a, b) != ("V", "D"):
                names.append(":".join(f"{w}{p}{m}" for w, p, m in (("V", 40, a), ("D", 41, b)) if m != w))
                sequences.append(reference[:39] + a + b + reference[41:])
    prepared = pd.read_csv(run_dir / "results/gb1_relso/prepared.tsv", sep="\t")
    open_ = [i for i, s in enumerate(sequences) if s not in set(prepared["sequence"])]
    assert len(open_) < len(sequences)  # the slice measures some: exclusion is exercised
    scores = np.array([predict_sequences(*load_model(run_dir / f"results/gb1_relso/lyra/{m}/model.pt"),
                                         [sequences[i] for i in open_])["y_pred"].to_numpy()
                       for m in ("fold0", "seed1")])
    ucb = scores.mean(0) + 2.0 * scores.std(0)
    expected, counts = [], {}
    for k in np.argsort(-ucb, kind="stable"):
        mutations = names[open_[k]].split(":")
        if all(counts.get(m, 0) < 3 for m in mutations):
            expected.append(k)
            counts.update({m: counts.get(m, 0) + 1 for m in mutations})
        if len(expected) == 8:
            break
    batch = pd.read_csv(run_dir / "results/gb1_relso/design/next_batch.tsv", sep="\t")
    assert list(batch["rank"]) == list(range(1, 9))
    assert list(batch["variant"]) == [names[open_[k]] for k in expected]
    assert batch["mean"].to_numpy() == pytest.approx(scores.mean(0)[expected], rel=1e-5)
    assert batch["std"].to_numpy() == pytest.approx(scores.std(0)[expected], rel=1e-3, abs=1e-8)
    assert batch["acquisition"].to_numpy() == pytest.approx(ucb[expected], rel=1e-5)


def test_seed_ensemble_metrics_and_calibration(run_dir):
    """trainer.n_seeds 2: metrics.json's ensemble block is the mean of the two members'
    predictions; its calibration's Spearman is recomputed here."""
    members = [pd.read_csv(run_dir / f"results/gb1_relso/lyra/{m}/predictions.tsv", sep="\t")
               for m in ("fold0", "seed1")]
    assert list(members[0]["id"]) == list(members[1]["id"])
    values = np.stack([m["y_pred"].to_numpy() for m in members])
    test = (members[0]["split"] == "test").to_numpy()
    ensemble = _metrics(run_dir, "gb1_relso")["ensemble"]
    assert ensemble["n_members"] == 2
    mean, std = values.mean(axis=0), values.std(axis=0)
    y = members[0]["y_true"].to_numpy()
    assert ensemble["splits"]["test"]["value"]["value"] == pytest.approx(spearmanr(y[test], mean[test]).statistic)
    expected = spearmanr(np.abs(y[test] - mean[test]), std[test]).statistic
    assert ensemble["calibration"]["spearman_abs_error_std"]["value"] == pytest.approx(expected)
    assert 0 <= ensemble["calibration"]["coverage_1sd"]["value"] <= ensemble["calibration"]["coverage_2sd"]["value"]
    assert "ensemble" not in json.loads((run_dir / "results/gb1_relso/ridge/metrics.json").read_text())
    figure = run_dir / "results/gb1_relso/lyra/figures/calibration.png"
    assert figure.read_bytes().startswith(b"\x89PNG")
    assert not (run_dir / "results/gb1_relso/ridge/figures/calibration.png").exists()  # one member: no spread


def test_summary_has_one_row_per_task_with_the_metrics_values(run_dir):
    summary = pd.read_csv(run_dir / "results/summary.tsv", sep="\t")
    summary = summary[summary["set"] == "test"]
    assert sorted(summary["task"]) == sorted(TASKS)
    for row in summary.itertuples():
        assert row.lyra == pytest.approx(_metrics(run_dir, row.task)["splits"]["test"]["value"]["value"], abs=1e-5)
    assert (run_dir / "results/summary.png").read_bytes().startswith(b"\x89PNG")


def test_summary_selects_on_validation_rows_and_marks_ridge_pairs_not_applicable(run_dir):
    """selected_model is the model with the best task metric on its own validation rows of
    predictions.tsv (recomputed here with scipy); ridge_pairs, regression only, is NA on
    splice_uci with the reason and trains nothing there."""
    summary = pd.read_csv(run_dir / "results/summary.tsv", sep="\t").query("set == 'test'").set_index("task")
    for task in ("synthetic_epistasis", "gb1_relso"):
        valid = {}
        for model in ("lyra", "ridge", "ridge_pairs"):
            rows = pd.read_csv(run_dir / f"results/{task}/{model}/fold0/predictions.tsv", sep="\t").query(
                "split == 'valid'")
            valid[model] = spearmanr(rows["y_true"], rows["y_pred"]).statistic
            assert summary.loc[task, f"{model}_valid"] == pytest.approx(valid[model], abs=1e-5)
        chosen = max(valid, key=valid.get)
        assert summary.loc[task, "selected_model"] == chosen
        assert summary.loc[task, "selected"] == pytest.approx(summary.loc[task, chosen])
    splice = summary.loc["splice_uci"]
    assert np.isnan(splice["ridge_pairs"]) and splice["ridge_pairs_undefined"].startswith("n/a: ")
    assert not (run_dir / "results/splice_uci/ridge_pairs").exists()
    assert splice["selected_model"] in ("lyra", "ridge")


def test_report_is_written(run_dir):
    result = snakemake(run_dir, "--report", "report.html")
    assert result.returncode == 0, result.stderr[-5000:]
    html = (run_dir / "report.html").read_text()
    assert "splice_uci" in html and "summary" in html and "mutagenesis.png" in html and "calibration.png" in html


def test_lint_finds_nothing():
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-5000:]
    assert "Lints for" not in result.stdout + result.stderr


def test_snakefmt_leaves_the_workflow_unchanged():
    result = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", "workflow"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
