"""A lab's own data: the starter config (config/my_tasks.yaml) through the workflow without
the benchmark, its data_root beside the shipped tasks', and the same task through
``lyra train`` with the same package defaults.

The workflow is copied into a temporary folder laid out as a checkout with its shared
data beside it: ``work/`` (the working directory) and ``shared/data/``.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from lyra.cli import main
from lyra.config import data_roots_by_file
from lyra.data.synthetic import epistasis_landscape

REPO = Path(__file__).resolve().parents[1]
STARTER = yaml.safe_load((REPO / "config" / "my_tasks.yaml").read_text())
TASK = next(iter(STARTER["tasks"]))
EPOCHS = 2  # the one setting the test changes, for time


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config/my_tasks.yaml", *args]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True)


def _planned_tasks(dry_run_output: str) -> set[str]:
    """Task folders a dry run would write (results/<task>/...)."""
    return set(re.findall(r"results/([^/\s,]+)/", dry_run_output)) - {"benchmarks"}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A checkout-like folder: the workflow, a one-task 'benchmark' config reading the shared
    data folder, and the starter config pointed at a lab's generated CSV."""
    root = tmp_path_factory.mktemp("own_data")
    work, lab, shared = root / "work", root / "lab", root / "shared" / "data"
    for folder in (work / "config", lab, shared):
        folder.mkdir(parents=True)
    shutil.copytree(REPO / "workflow", work / "workflow")
    data = epistasis_landscape(150, 10, alphabet="protein", orders=(1, 2), n_terms=(8, 4), noise=0.1, seed=5)
    data.rename(columns={"id": "variant", "target": "fitness"}).to_csv(lab / "example_landscape.csv", index=False)
    data.to_csv(shared / "bench.csv", index=False)
    benchmark = {"tasks": {"bench": {"input": {"format": "csv", "path": "bench.csv"}, "alphabet": "protein",
                                     "task_type": "regression", "split": {"scheme": "random"}}}}
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(benchmark))
    starter = (REPO / "config" / "my_tasks.yaml").read_text()
    starter = starter.replace(f"data_root: {STARTER['data_root']}", f"data_root: {lab}")
    starter += f"    trainer: {{epochs: {EPOCHS}}}\n"
    (work / "config" / "my_tasks.yaml").write_text(starter)
    return work


def test_the_starter_plans_only_its_own_tasks(project):
    result = _snakemake(project, "-n", "--replace-workflow-config")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _planned_tasks(result.stdout) == {TASK}


def test_merged_over_the_benchmark_its_data_root_moves_only_its_own_tasks(project):
    """Without --replace-workflow-config both configs' tasks run, each from its own folder."""
    result = _snakemake(project, "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _planned_tasks(result.stdout) == {TASK, "bench"}
    lab = yaml.safe_load((project / "config" / "my_tasks.yaml").read_text())["data_root"]
    assert f"input: {lab}/example_landscape.csv" in result.stdout
    assert "input: ../shared/data/bench.csv" in result.stdout


def test_data_root_goes_to_the_tasks_of_its_file():
    shipped = {"tasks": {"a": {}, "b": {"data_root": "own"}}}
    lab = {"data_root": "lab", "tasks": {"c": {}}}
    merged = {"data_root": "lab", "tasks": {"a": {}, "b": {"data_root": "own"}, "c": {}}}
    roots = data_roots_by_file(merged, [shipped, lab], {})
    assert "data_root" not in roots  # the package default, for a, stays top-level
    assert [roots["tasks"][t].get("data_root") for t in "abc"] == [None, "own", "lab"]
    # a file without tasks, or the command line, sets the folder of every task without its own
    assert data_roots_by_file(merged, [shipped, {"data_root": "x"}], {})["data_root"] == "x"
    assert data_roots_by_file(merged, [shipped, lab], {"data_root": "y"}) == merged


@pytest.fixture(scope="module")
def runs(project, tmp_path_factory):
    """The starter task run by the workflow, and the same file trained by `lyra train`."""
    result = _snakemake(project, "--replace-workflow-config")
    assert result.returncode == 0, result.stderr[-3000:]
    lab = Path(yaml.safe_load((project / "config" / "my_tasks.yaml").read_text())["data_root"])
    out = tmp_path_factory.mktemp("cli") / "run"
    columns = STARTER["tasks"][TASK]["columns"]
    assert main(["train", "--input", str(lab / "example_landscape.csv"), "--sequence-column", columns["sequence"],
                 "--target-column", columns["target"], "--id-column", columns["id"], "--alphabet", "protein",
                 "--epochs", str(EPOCHS), "--out-dir", str(out), "--quiet"]) == 0
    return project / "results" / TASK / "lyra", out


def test_the_starter_run_completes_with_lyra_and_the_ridge_baseline(project, runs):
    summary = pd.read_csv(project / "results" / "summary.tsv", sep="\t")
    assert summary["task"].tolist() == [TASK]
    for model in ("lyra", "ridge"):
        metrics = json.loads((project / "results" / TASK / model / "metrics.json").read_text())
        assert metrics["metric"] == "spearman" and metrics["splits"]["test"]["n"] == 15


def test_the_lyra_command_and_the_workflow_train_with_the_same_defaults(runs):
    workflow_dir, cli_dir = runs
    configs = [json.loads((d / "metrics.json").read_text())["provenance"]["task_config"] for d in runs]
    for key in ("model", "trainer", "metric", "split", "encoding", "ambiguous", "kfold_aggregate"):
        assert configs[0][key] == configs[1][key], key
    assert configs[0]["model"]["position_aware"] == "auto" and configs[0]["split"]["fractions"] == [0.8, 0.1, 0.1]
    trained = [json.loads(path.read_text()) for path in (workflow_dir / "fold0" / "train.json", cli_dir / "train.json")]
    for key in ("position_aware", "n_pairs", "n_train", "n_valid", "n_test", "n_parameters"):
        assert trained[0][key] == trained[1][key], key
    assert trained[0]["position_aware"] is True  # a fixed-length regression task: the position-aware model
    options = [torch.load(d / "model.pt", weights_only=False)["model_options"]
               for d in (workflow_dir / "fold0", cli_dir)]
    assert options[0] == options[1]


def test_a_config_typo_ends_the_run_with_one_line_naming_the_file(project):
    typo = project / "config" / "typo.yaml"
    typo.write_text((project / "config" / "my_tasks.yaml").read_text().replace("task_type:", "task_typ:"))
    command = [sys.executable, "-m", "snakemake", "-n", "--configfile", "config/typo.yaml", "--replace-workflow-config"]
    result = subprocess.run(command, cwd=project, capture_output=True, text=True)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and 'File "' not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {typo}: key tasks.{TASK}: Additional properties are not allowed ('task_typ' was unexpected)")


def test_the_results_page_is_generated_from_the_runs_summary(project, runs):
    result = _snakemake(project, "--replace-workflow-config", "results_page")
    assert result.returncode == 0, result.stderr[-3000:]
    page = (project / "docs" / "results.md").read_text()
    row = pd.read_csv(project / "results" / "summary.tsv", sep="\t").iloc[0]
    cells = [f"{row[m]:.3f} [{row[f'{m}_ci_low']:.3f}, {row[f'{m}_ci_high']:.3f}]" for m in ("lyra", "ridge")]
    assert f"| {TASK} | test | spearman | 15 | {cells[0]} | {cells[1]} |" in page
    assert "| task | set | metric | n test | Lyra | one-hot ridge |" in page
    commit = json.loads((runs[0] / "metrics.json").read_text())["provenance"]["git"]["commit"]
    assert f"- commit: {commit}" in page
