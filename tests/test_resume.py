"""A run of the .test config killed as a whole (SIGKILL to snakemake's process group, as
when a terminal closes, a session is killed or a node dies) resumes with the documented
steps (docs/running.md "If a run was killed"): the same command stops at Snakemake's lock, which
keeps two runs from sharing a folder; ``--unlock`` with the same arguments removes the
stale lock; the same command then finishes. Finished jobs are kept (their outputs are
not rewritten) and the predictions equal those of an uninterrupted run.
"""

import base64
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml
from conftest import write_test_data

from lyra.config import task_from_config

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data folder {DATA} is absent"),
]

COMMAND = [
    sys.executable, "-m", "snakemake", "--cores", "2",
    "--configfile", ".test/config/config.yaml", "--replace-workflow-config",
    "--config", f"data_root={DATA}",
]
LOCK_MESSAGE = "Directory cannot be locked"
TEST_CONFIG = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())
PREDICTIONS = [  # every model a task trains (ridge_pairs is regression only)
    f"results/{task}/{model}/fold0/predictions.tsv" for task in TEST_CONFIG["tasks"] for model in TEST_CONFIG["models"]
    if task_from_config(TEST_CONFIG, task).not_applicable(model) is None
]


def _workdir(root: Path) -> Path:
    """The workflow and the .test config, with the GB1 slice the .test config reads."""
    shutil.copytree(REPO / "workflow", root / "workflow")
    shutil.copytree(REPO / ".test", root / ".test")
    write_test_data(root)
    return root


def _run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """COMMAND with ``args`` (targets, flags) before its ``--config``, which takes every
    name=value argument after it."""
    at = COMMAND.index("--config")
    return subprocess.run([*COMMAND[:at], *args, *COMMAND[at:]], cwd=workdir, capture_output=True, text=True)


def _lyra_training_running(workdir: Path) -> str | None:
    """The task of a Lyra training job that has started (its log exists) and not finished
    (no model.pt yet), provided another training has already finished; else None."""
    finished = list(workdir.glob("results/*/*/fold0/predictions.tsv"))
    if not finished:
        return None
    for log in workdir.glob("logs/*/lyra/train_fold0.log"):
        task = log.parts[-3]
        if not (workdir / "results" / task / "lyra" / "fold0" / "model.pt").exists():
            return task
    return None


def _processes_in(workdir: Path) -> list[psutil.Process]:
    """Processes whose command line names ``workdir`` (snakemake's job scripts do)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if any(str(workdir) in part for part in process.info["cmdline"] or []):
                found.append(process)
        except psutil.Error:
            continue
    return found


def _mtimes(workdir: Path) -> dict[str, int]:
    return {
        str(path.relative_to(workdir)): path.stat().st_mtime_ns
        for folder in ("results", "resources")
        for path in (workdir / folder).rglob("*")
        if path.is_file()
    }


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory) -> Path:
    """An uninterrupted run of the .test config, as far as the predictions."""
    workdir = _workdir(tmp_path_factory.mktemp("uninterrupted"))
    result = _run(workdir, *PREDICTIONS)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


def _incomplete_outputs(workdir: Path) -> set[str]:
    """Outputs Snakemake still marks incomplete (``.snakemake/incomplete/<urlsafe base64 of
    the path>``): their jobs were running when the run was killed."""
    folder = workdir / ".snakemake" / "incomplete"
    if not folder.is_dir():
        return set()
    return {base64.urlsafe_b64decode(p.name).decode() for p in folder.iterdir()
            if p.is_file() and p.name != "migration_underway" and not p.name.startswith("@")}


def test_killed_run_stops_at_the_lock_then_unlock_and_rerun_finish_equal(clean_run, tmp_path):
    workdir = _workdir(tmp_path / "killed")
    # its own process group, so the kill takes snakemake and every job it started
    runner = subprocess.Popen(COMMAND, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    deadline = time.monotonic() + 600
    killed_task = None
    while time.monotonic() < deadline and runner.poll() is None:
        killed_task = _lyra_training_running(workdir)
        if killed_task:
            os.killpg(runner.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    runner.wait(timeout=60)
    assert killed_task, f"no Lyra training was caught running (snakemake exited {runner.returncode})"
    assert runner.returncode == -signal.SIGKILL
    for _ in range(100):  # the killed jobs are gone, none goes on writing
        if not _processes_in(workdir):
            break
        time.sleep(0.1)
    assert not _processes_in(workdir)
    killed_outputs = f"results/{killed_task}/lyra/fold0/"
    assert not (workdir / killed_outputs / "model.pt").exists()
    running = _incomplete_outputs(workdir)  # jobs caught mid-run (a fast ridge fit too): the rerun redoes them
    kept = {path: mtime for path, mtime in _mtimes(workdir).items()
            if not path.startswith(killed_outputs) and path not in running}
    assert any(path.endswith("/predictions.tsv") for path in kept), "no training had finished before the kill"

    # the same command: Snakemake's lock (left by the killed run) stops it, with the way out
    again = _run(workdir)
    assert again.returncode != 0
    assert LOCK_MESSAGE in again.stderr and "--unlock" in again.stderr, again.stderr[-3000:]

    unlocked = _run(workdir, "--unlock")
    assert unlocked.returncode == 0, unlocked.stderr[-3000:]
    resumed = _run(workdir)
    assert resumed.returncode == 0, resumed.stderr[-4000:]

    planned = _run(workdir, "--dry-run")
    assert planned.returncode == 0 and "Nothing to be done" in planned.stdout + planned.stderr, planned.stdout[-3000:]

    after = _mtimes(workdir)
    rewritten = sorted(path for path, mtime in kept.items() if after.get(path) != mtime)
    assert not rewritten, f"finished jobs were run again: {rewritten}"
    assert (workdir / "results/summary.tsv").exists()
    written = {str(p.relative_to(workdir)) for p in workdir.glob("results/**/predictions.tsv")}
    assert set(PREDICTIONS) <= written  # every fold model (and the seed members of n_seeds tasks)
    for path in PREDICTIONS:
        assert (workdir / path).read_bytes() == (clean_run / path).read_bytes(), path
