"""Pick the device a training job runs on, one GPU per job.

Snakemake's ``--resources gpu=N`` only caps how many GPU jobs run at once; it does not
tell a local job which GPU to take (nor set CUDA_VISIBLE_DEVICES). So each job claims a
GPU by taking a non-blocking ``flock`` on ``<lock_dir>/gpu<id>.lock`` and keeps it for
the life of the process; the kernel frees it when the process ends, even on SIGKILL.

Under a scheduler that assigns GPUs itself (SLURM sets ``SLURM_JOB_ID`` and restricts
``CUDA_VISIBLE_DEVICES`` to the job's GPUs) no locks are taken: the job uses ``cuda:0``
of what it was given.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from pathlib import Path

import torch

log = logging.getLogger(__name__)

_held_locks: list = []  # open lock files, kept for the life of the process


def _default_lock_dir() -> Path:
    return Path(os.environ.get("LYRA_GPU_LOCK_DIR", Path(tempfile.gettempdir()) / "lyra-gpu-locks"))


def _visible_ids(n_devices: int) -> list[str]:
    """Identifiers of the visible GPUs, as named in CUDA_VISIBLE_DEVICES when set."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        ids = [v.strip() for v in visible.split(",") if v.strip()]
        return ids[:n_devices]
    return [str(i) for i in range(n_devices)]


def claim_gpu(n_devices: int, lock_dir: Path | None = None) -> int | None:
    """Lock a GPU no other process holds; return its index among visible devices, or None."""
    lock_dir = Path(lock_dir) if lock_dir is not None else _default_lock_dir()
    lock_dir.mkdir(parents=True, exist_ok=True)
    for index, gpu_id in enumerate(_visible_ids(n_devices)):
        handle = open(lock_dir / f"gpu{gpu_id}.lock", "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        _held_locks.append(handle)
        return index
    return None


def select_device(requested: str | None = None) -> torch.device:
    """The device for this job: ``requested`` if given, else a free GPU, else the CPU."""
    if requested:
        device = torch.device(requested)
        log.info("device %s (requested)", device)
        return device
    if not torch.cuda.is_available():
        log.info("device cpu (no CUDA available)")
        return torch.device("cpu")
    if os.environ.get("SLURM_JOB_ID"):
        log.info("device cuda:0 (scheduler-assigned CUDA_VISIBLE_DEVICES=%s)", os.environ.get("CUDA_VISIBLE_DEVICES"))
        return torch.device("cuda:0")
    index = claim_gpu(torch.cuda.device_count())
    if index is None:
        log.warning("every visible GPU is held by another lyra job; falling back to cpu")
        return torch.device("cpu")
    log.info("device cuda:%d (CUDA_VISIBLE_DEVICES=%s)", index, os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
    return torch.device(f"cuda:{index}")
