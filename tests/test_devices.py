"""GPU claiming: concurrent processes get distinct GPUs, CUDA_VISIBLE_DEVICES and SLURM jobs are honoured."""

import fcntl
import logging
import multiprocessing

import pytest
import torch

from lyra.nn import devices

FORK = multiprocessing.get_context("fork")


def _claimer(n_wanted, n_devices, env, lock_dir, results, release):
    """Child process: claim GPUs, report them, hold them until ``release`` is set."""
    import os

    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    results.put((os.getpid(), devices.claim_gpus(n_wanted, n_devices, lock_dir)))
    release.wait(60)


def _run_claimers(specs, lock_dir):
    """Start one process per (n_wanted, n_devices, env) while all hold their locks; return their claims."""
    results, release = FORK.Queue(), FORK.Event()
    procs = [FORK.Process(target=_claimer, args=(*spec, lock_dir, results, release)) for spec in specs]
    claims = []
    for proc in procs:  # one after another, so the expected claims are known
        proc.start()
        claims.append(results.get(timeout=30)[1])
    release.set()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    return claims


@pytest.fixture(autouse=True)
def _no_scheduler(monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_concurrent_processes_get_distinct_gpus_until_none_is_left(tmp_path):
    env = {"SLURM_JOB_ID": None, "CUDA_VISIBLE_DEVICES": None}
    claims = _run_claimers([(1, 3, env)] * 4, tmp_path)
    assert claims == [[0], [1], [2], []]


def test_a_lock_is_freed_when_its_process_ends(tmp_path):
    env = {"SLURM_JOB_ID": None, "CUDA_VISIBLE_DEVICES": None}
    assert _run_claimers([(1, 1, env)], tmp_path) == [[0]]
    assert _run_claimers([(1, 1, env)], tmp_path) == [[0]]


def test_multi_gpu_jobs_share_out_what_is_free(tmp_path):
    env = {"SLURM_JOB_ID": None, "CUDA_VISIBLE_DEVICES": None}
    claims = _run_claimers([(2, 5, env), (2, 5, env), (2, 5, env)], tmp_path)
    assert claims == [[0, 1], [2, 3], [4]]
    assert len({i for claim in claims for i in claim}) == 5


def test_locks_follow_the_gpu_ids_in_cuda_visible_devices(tmp_path):
    # Jobs that see different GPUs (different CUDA_VISIBLE_DEVICES) only compete for shared ones.
    claims = _run_claimers(
        [(1, 2, {"CUDA_VISIBLE_DEVICES": "3,5"}), (1, 2, {"CUDA_VISIBLE_DEVICES": "5,3"}),
         (1, 2, {"CUDA_VISIBLE_DEVICES": "7"})],
        tmp_path,
    )
    assert claims == [[0], [0], [0]]  # gpu3, then gpu5 (index 0 of "5,3"), then gpu7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu3.lock", "gpu5.lock", "gpu7.lock"]


def test_each_slurm_job_has_its_own_lock_namespace(tmp_path, monkeypatch):
    monkeypatch.setenv("LYRA_GPU_LOCK_DIR", str(tmp_path))
    # SLURM renumbers each job's GPUs from 0: two jobs must both get their GPU 0,
    # two training jobs inside one SLURM job must not.
    claims = _run_claimers(
        [(1, 1, {"SLURM_JOB_ID": "11", "CUDA_VISIBLE_DEVICES": "0"}),
         (1, 1, {"SLURM_JOB_ID": "12", "CUDA_VISIBLE_DEVICES": "0"}),
         (1, 1, {"SLURM_JOB_ID": "12", "CUDA_VISIBLE_DEVICES": "0"})],
        None,
    )
    assert claims == [[0], [0], []]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slurm-11", "slurm-12"]


def test_select_devices_claims_simulated_gpus_and_logs_them(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("LYRA_GPU_LOCK_DIR", str(tmp_path))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,6")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    held = open(tmp_path / "gpu2.lock", "a+")
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a stand-in for a job running on gpu2
    try:
        with caplog.at_level(logging.INFO, logger="lyra.nn.devices"):
            assert devices.select_device() == torch.device("cuda:1")
        assert "CUDA_VISIBLE_DEVICES=2,6" in caplog.text
    finally:
        held.close()


def test_without_cuda_every_process_runs_on_cpu_and_logs_the_scheduler_view(monkeypatch, caplog):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    with caplog.at_level(logging.INFO, logger="lyra.nn.devices"):
        assert devices.select_devices(2) == [torch.device("cpu")] * 2
    assert "SLURM job 42; CUDA_VISIBLE_DEVICES=1" in caplog.text


def test_a_requested_device_is_used_as_given():
    assert devices.select_device("cpu") == torch.device("cpu")
    assert devices.select_devices(2, "cpu") == [torch.device("cpu")] * 2
    with pytest.raises(ValueError, match="names one device"):
        devices.select_devices(2, "cuda:1")
    with pytest.raises(ValueError, match="at least one"):
        devices.select_devices(0)
