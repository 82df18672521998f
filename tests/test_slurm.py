"""End to end on a real (single-node, throw-away) Slurm: the workflow with --executor slurm.

Starts munged, slurmctld and slurmd from tests/slurm/cluster.py and trains two tiny
synthetic tasks, one with trainer.n_gpus 1 and one with 2 (data-parallel), through the
shipped example profile (profiles/slurm/profile.yaml). Checks the outputs, and that
each training job ran in its own SLURM job and logged the CUDA_VISIBLE_DEVICES Slurm
set for it: as many of the node's GPUs as it asked for, other ones than a training job
that ran at the same time. The GPUs are GRES backed by mknod'ed
character devices, so training itself runs on the CPU. The data steps run locally
first, so that only the training jobs wait for Slurm (about 2 minutes in all).

Needs root and Debian's slurmctld, slurmd, slurm-client and munge; skips otherwise.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent / "slurm"))
from cluster import missing_programs, slurm_cluster  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TASK_GPUS = {"syn_1gpu": 1, "syn_2gpu": 2}  # task -> trainer.n_gpus (the train rule requests that many)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="starting slurmd and munged needs root")


def _requirements_or_skip(tmp_path):
    missing = missing_programs()
    if missing:
        pytest.skip(f"Slurm/munge programs missing ({', '.join(missing)}); install with "
                    "apt-get install -y slurmctld slurmd slurm-client munge")
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="snakemake-executor-plugin-slurm not installed")
    try:
        os.mknod(tmp_path / "probe", 0o600 | 0o020000, os.makedev(195, 0))
    except PermissionError as error:
        pytest.skip(f"cannot make the GPU character devices here (no CAP_MKNOD?): {error}")


# the test's own config alone, without the workflow's config/config.yaml merged in
ONLY_THIS_CONFIG = ("--configfile", "config/config.yaml", "--replace-workflow-config")


def _write_workdir(work: Path) -> Path:
    """A working directory with a one-task config and a copy of the example profile."""
    (work / "config").mkdir(parents=True)
    config = {
        "data_root": "resources",
        "seed": 0,
        "n_boot": 20,
        "models": ["lyra"],
        "model": {"d_model": 8, "d_state": 8, "dropout": 0.0},
        "trainer": {"epochs": 2, "batch_size": 32, "patience": 2},
        "synthetic": {"epistasis_tiny": {"n_sequences": 200, "length": 12, "alphabet": "dna",
                                          "orders": [1, 2], "n_terms": [6, 3], "noise": 0.1, "seed": 0}},
        "tasks": {task: {"data_root": "resources/synthetic",
                         "input": {"format": "csv", "path": "epistasis_tiny.csv", "header": True},
                         "columns": {"sequence": "sequence", "target": "target", "id": "id"},
                         "alphabet": "dna", "task_type": "regression", "metric": "spearman",
                         "split": {"scheme": "random", "fractions": [0.8, 0.1, 0.1], "seed": 0},
                         "trainer": {"n_gpus": n_gpus}}
                  for task, n_gpus in TASK_GPUS.items()},
    }
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    profile = work / "profile"
    profile.mkdir()
    shutil.copy(REPO / "profiles" / "slurm" / "profile.yaml", profile / "config.yaml")
    return profile


def _tail(path: Path, lines: int = 25) -> str:
    return f"\n--- {path}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _job_times(job_id: str, env: dict) -> tuple[datetime, datetime]:
    """Start and end time of a finished job, from scontrol (jobs stay listed for MinJobAge)."""
    shown = subprocess.run(["scontrol", "show", "job", job_id], env=env, capture_output=True, text=True,
                           check=True).stdout
    start, end = (re.search(rf"{key}=(\S+)", shown).group(1) for key in ("StartTime", "EndTime"))
    return datetime.fromisoformat(start), datetime.fromisoformat(end)


def test_workflow_trains_under_slurm_on_the_gpus_slurm_gives_each_job(tmp_path):
    _requirements_or_skip(tmp_path)
    work = tmp_path / "work"
    profile = _write_workdir(work)
    # The data steps run locally first, so only the training jobs wait for Slurm (time).
    prepared = [f"results/{task}/prepared.tsv" for task in TASK_GPUS]
    local = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"),
                            "--directory", str(work), *ONLY_THIS_CONFIG, "--cores", "1", *prepared],
                           cwd=work, capture_output=True, text=True, timeout=120)
    assert local.returncode == 0, local.stderr[-5000:]
    targets = [f"results/{task}/lyra/fold0/train.json" for task in TASK_GPUS]
    with slurm_cluster(tmp_path / "slurm", n_gpus=4, cpus=8, memory_mb=32000) as cluster:
        run = subprocess.run(
            [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"),
             "--directory", str(work), *ONLY_THIS_CONFIG, "--profile", str(profile),
             "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2",
             "--slurm-no-account", "--jobs", "4", "--latency-wait", "5", "--retries", "0", *targets],
            env=cluster.env, cwd=work, capture_output=True, text=True, timeout=240,
        )
        assert run.returncode == 0, run.stderr[-5000:] + "".join(_tail(p) for p in (work / ".snakemake").rglob("*.log")
                                                              if "slurm_logs" in str(p))
        seen = {}  # task -> (SLURM job id, the GPUs it logged)
        for task, n_gpus in TASK_GPUS.items():
            run_dir = work / "results" / task / "lyra" / "fold0"
            n_rows = len(pd.read_csv(work / "results" / task / "prepared.tsv", sep="\t"))
            predictions = pd.read_csv(run_dir / "predictions.tsv", sep="\t")
            assert len(predictions) == n_rows and predictions["y_pred"].notna().all(), task
            assert json.loads((run_dir / "train.json").read_text())["device"] == ",".join(["cpu"] * n_gpus)
            log_text = (work / "logs" / task / "lyra" / "train_fold0.log").read_text()
            found = re.search(r"SLURM job (\d+); CUDA_VISIBLE_DEVICES=(\S+)\)", log_text)
            assert found, f"{task}: the training log names no SLURM job/CUDA_VISIBLE_DEVICES:\n{log_text}"
            gpus = found.group(2).split(",")
            assert len(gpus) == n_gpus and set(gpus) <= {"0", "1", "2", "3"}, (task, found.group(2))
            if n_gpus > 1:
                assert f"data-parallel training on {n_gpus} processes" in log_text
            seen[task] = found.group(1), set(gpus)
        (job_a, gpus_a), (job_b, gpus_b) = seen.values()
        assert job_a != job_b  # each training ran in its own SLURM job
        (start_a, end_a), (start_b, end_b) = _job_times(job_a, cluster.env), _job_times(job_b, cluster.env)
        if start_a < end_b and start_b < end_a:  # they ran at the same time, so on different GPUs
            assert not gpus_a & gpus_b, seen
    assert all(daemon.poll() is not None for daemon in cluster.daemons)
