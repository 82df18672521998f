"""Pick the device(s) a training job runs on, distinct GPUs for concurrent jobs.

Snakemake's ``--resources gpu=N`` only caps how many GPU jobs run at once; it does not
tell a local job which GPU to take (nor set CUDA_VISIBLE_DEVICES). So each job claims a
GPU by taking a non-blocking ``flock`` on ``<lock_dir>/gpu<id>.lock`` and keeps it for
the life of the process; the kernel frees it when the process ends, even on SIGKILL.
``<id>`` is the GPU's name in CUDA_VISIBLE_DEVICES when that is set (a scheduler's
choice is honoured: only the GPUs it lists are used), else its index.

Under SLURM the job sees only its own GPUs, renumbered from 0 on clusters that
constrain devices, so GPU ids are only unique within one SLURM job: the locks then live
in a directory of that job (``<lock_dir>/slurm-<SLURM_JOB_ID>``). A job with one GPU
always gets ``cuda:0``; training jobs grouped into one SLURM job, or run by a local
Snakemake inside an allocation, still take distinct GPUs.
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
    base = Path(os.environ.get("LYRA_GPU_LOCK_DIR", Path(tempfile.gettempdir()) / "lyra-gpu-locks"))
    job = os.environ.get("SLURM_JOB_ID")
    return base / f"slurm-{job}" if job else base


def _visible_ids(n_devices: int) -> list[str]:
    """Identifiers of the visible GPUs, as named in CUDA_VISIBLE_DEVICES when set."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        ids = [v.strip() for v in visible.split(",") if v.strip()]
        return ids[:n_devices]
    return [str(i) for i in range(n_devices)]


def _describe_visible() -> str:
    job = os.environ.get("SLURM_JOB_ID")
    scheduler = f"SLURM job {job}; " if job else ""
    return f"{scheduler}CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}"


def _times(n: int) -> str:
    return f" x{n}" if n > 1 else ""


def claim_gpus(n_wanted: int, n_devices: int, lock_dir: Path | None = None) -> list[int]:
    """Lock up to ``n_wanted`` GPUs no other process holds; return their indices among visible devices.

    Returns fewer (possibly none) when the others are held. The locks are kept until the
    process ends.
    """
    lock_dir = Path(lock_dir) if lock_dir is not None else _default_lock_dir()
    lock_dir.mkdir(parents=True, exist_ok=True)
    claimed = []
    for index, gpu_id in enumerate(_visible_ids(n_devices)):
        if len(claimed) == n_wanted:
            break
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
        claimed.append(index)
    return claimed


def select_devices(n_wanted: int, requested: str | None = None) -> list[torch.device]:
    """Devices for a job that wants ``n_wanted`` of them (one per data-parallel process).

    ``requested`` (e.g. ``"cpu"``, ``"cuda:1"``) pins the device; otherwise the job claims
    free GPUs, and runs ``n_wanted`` CPU processes when there is no GPU. When fewer GPUs
    are free than wanted it uses those it got (a warning says so), or the CPU if none.
    """
    if n_wanted < 1:
        raise ValueError(f"a job needs at least one device, not {n_wanted}")
    if requested:
        device = torch.device(requested)
        if device.type != "cpu" and n_wanted > 1:
            raise ValueError(f"device {requested!r} names one device but the job wants {n_wanted}; "
                             "leave the device unset so the job claims free GPUs")
        log.info("device %s%s (requested)", device, _times(n_wanted))
        return [device] * n_wanted
    if not torch.cuda.is_available():
        log.info("device cpu%s (no CUDA available; %s)", _times(n_wanted), _describe_visible())
        return [torch.device("cpu")] * n_wanted
    indices = claim_gpus(n_wanted, torch.cuda.device_count())
    if not indices:
        log.warning("every visible GPU is held by another lyra job (%s); falling back to cpu", _describe_visible())
        return [torch.device("cpu")] * n_wanted
    if len(indices) < n_wanted:
        log.warning("wanted %d GPUs but only %d are free; training on %d", n_wanted, len(indices), len(indices))
    devices = [torch.device(f"cuda:{i}") for i in indices]
    log.info("device %s (%s)", ",".join(map(str, devices)), _describe_visible())
    return devices


def select_device(requested: str | None = None) -> torch.device:
    """The device for a one-process job: ``requested`` if given, else a free GPU, else the CPU."""
    return select_devices(1, requested)[0]
