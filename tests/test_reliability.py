"""Interrupted runs resume exactly, reruns are byte-identical, and a config change reruns only its task.

Every test drives the real workflow in a temporary directory through subprocesses; the
interruption is a real SIGKILL of the running training job in the middle of an epoch.
"""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
EPOCHS = 6

CONFIG = {
    "data_root": "resources/synthetic",
    "seed": 0,
    "n_boot": 50,
    "models": ["lyra"],
    "model": {"d_model": 16, "d_state": 16, "dropout": 0.1},
    "trainer": {"epochs": EPOCHS, "batch_size": 32, "patience": EPOCHS},
    "synthetic": {
        name: {"n_sequences": 1000, "length": 30, "alphabet": "dna", "orders": [1, 2], "n_terms": [10, 5],
               "noise": 0.1, "seed": seed}
        for name, seed in (("landscape_a", 1), ("landscape_b", 2))
    },
    "tasks": {
        f"task_{letter}": {
            "input": {"format": "csv", "path": f"landscape_{letter}.csv", "header": True},
            "columns": {"sequence": "sequence", "target": "target", "id": "id"},
            "alphabet": "dna",
            "task_type": "regression",
            "split": {"scheme": "random", "fractions": [0.8, 0.1, 0.1], "seed": 0},
            "metric": "spearman",
        }
        for letter in ("a", "b")
    },
}
FOLD_DIR = Path("results/task_a/lyra/fold0")


def _workdir(root: Path, config: dict = CONFIG) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "workflow", root / "workflow")
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    return root


def _snakemake_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "config.yaml",
            "--replace-workflow-config", *args]


def _run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(_snakemake_command(*args), cwd=workdir, capture_output=True, text=True)


def _checkpoint_epoch(path: Path) -> int:
    try:
        return torch.load(path, weights_only=False)["state"]["epoch"]
    except Exception:  # not written yet, or being replaced at this instant
        return 0


def _training_process(parent: psutil.Process) -> psutil.Process | None:
    for child in parent.children(recursive=True):
        try:
            if any(part.endswith(".train.py") for part in child.cmdline()):
                return child
        except psutil.NoSuchProcess:
            continue
    return None


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory) -> Path:
    """An uninterrupted run of both tasks."""
    workdir = _workdir(tmp_path_factory.mktemp("clean"))
    result = _run(workdir)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


def test_sigkill_mid_epoch_then_rerun_resumes_and_matches(clean_run, tmp_path):
    workdir = _workdir(tmp_path / "killed")
    target = str(FOLD_DIR / "predictions.tsv")
    runner = subprocess.Popen(_snakemake_command(target), cwd=workdir, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    checkpoint = workdir / FOLD_DIR / "checkpoint.pt"
    deadline = time.monotonic() + 300
    killed_after = None
    while time.monotonic() < deadline and runner.poll() is None:
        epoch = _checkpoint_epoch(checkpoint)
        if epoch >= 2:
            job = _training_process(psutil.Process(runner.pid))
            if job is not None:
                job.send_signal(signal.SIGKILL)
                killed_after = epoch
                break
        time.sleep(0.02)
    runner.communicate(timeout=120)
    assert killed_after is not None, "the training job finished or never started before it could be killed"
    assert runner.returncode != 0
    assert not (workdir / FOLD_DIR / "model.pt").exists()
    assert 2 <= _checkpoint_epoch(checkpoint) < EPOCHS

    result = _run(workdir)
    assert result.returncode == 0, result.stderr[-4000:]
    log = (workdir / "logs/task_a/lyra/train_fold0.log").read_text()
    assert "resuming from checkpoint" in log
    assert (workdir / FOLD_DIR / "predictions.tsv").read_bytes() == (clean_run / FOLD_DIR / "predictions.tsv").read_bytes()
    resumed_history = pd.read_csv(workdir / FOLD_DIR / "history.csv").drop(columns="seconds")
    clean_history = pd.read_csv(clean_run / FOLD_DIR / "history.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(resumed_history, clean_history, check_exact=True)
    resumed = json.loads((workdir / "results/task_a/lyra/metrics.json").read_text())
    clean = json.loads((clean_run / "results/task_a/lyra/metrics.json").read_text())
    assert resumed["splits"] == clean["splits"]


def test_two_runs_give_byte_identical_predictions(clean_run, tmp_path):
    again = _workdir(tmp_path / "again")
    assert _run(again).returncode == 0
    for task in ("task_a", "task_b"):
        path = Path(f"results/{task}/lyra/fold0/predictions.tsv")
        assert (again / path).read_bytes() == (clean_run / path).read_bytes(), task


def test_metrics_record_provenance(clean_run):
    provenance = json.loads((clean_run / "results/task_a/lyra/metrics.json").read_text())["provenance"]
    text = json.dumps(provenance)
    for key in ("sha256", "config", "git", "torch", "seed", "device", "wall_time"):
        assert key in text, key


def test_changing_one_task_reruns_only_that_task(clean_run, tmp_path):
    workdir = tmp_path / "changed"
    shutil.copytree(clean_run, workdir, symlinks=True)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["tasks"]["task_b"]["trainer"] = {"lr": 0.002}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    result = _run(workdir, "--dry-run")
    assert result.returncode == 0, result.stderr[-4000:]
    planned = [line.split("wildcards:", 1)[1] for line in result.stdout.splitlines() if "wildcards:" in line]
    assert any("task=task_b" in line for line in planned), result.stdout[-3000:]
    assert not any("task=task_a" in line for line in planned), result.stdout[-3000:]
