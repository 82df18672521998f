"""Data-parallel training on several devices: one process per device, started by torchrun.

``launch_fit`` runs ``lyra.train.fit`` under ``python -m torch.distributed.run --standalone``
(which picks a free port so concurrent jobs on one node do not collide). The parent
writes the model, the encoded data and the settings to a scratch file, each rank reads
it memory-mapped, and rank 0 writes the checkpoint, the history and the result that the
parent reads back. GPUs use the NCCL backend, CPUs gloo (so the same configuration also
runs, and is tested, without GPUs). The per-step helpers are in ``lyra.distributed``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist

from lyra.distributed import local_batch_size
from lyra.train import fit, seed_everything

log = logging.getLogger(__name__)


def launch_fit(model, train, valid, task_type, config, devices: list[torch.device], scratch_dir: Path,
               **fit_kwargs):
    """Run ``lyra.train.fit`` on ``devices`` (one process each) and return rank 0's FitResult."""
    world = len(devices)
    if config.batch_size % world:
        log.warning("batch_size %d is not a multiple of %d processes; each takes %d rows per step",
                    config.batch_size, world, local_batch_size(config.batch_size, world))
    log.info("data-parallel training on %d processes: %s", world, ", ".join(map(str, devices)))
    Path(scratch_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ddp-", dir=scratch_dir) as tmp:
        spec = Path(tmp) / "spec.pt"
        result = Path(tmp) / "result.pt"
        torch.save({"model": model, "train": train, "valid": valid, "task_type": task_type, "config": config,
                    "devices": [str(d) for d in devices], "fit_kwargs": fit_kwargs, "result": str(result)}, spec)
        threads = max(1, torch.get_num_threads() // world)
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
                   f"--nproc-per-node={world}", "-m", "lyra.launch", str(spec)]
        completed = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
        if completed.returncode != 0 or not result.exists():
            raise RuntimeError(f"data-parallel training failed (torchrun exit status {completed.returncode}); "
                               "the ranks' errors are printed above")
        return torch.load(result, map_location="cpu", weights_only=False)


def _run_rank(spec_path: str) -> None:
    """One rank, as started by torchrun (RANK, WORLD_SIZE, MASTER_ADDR/PORT in the environment)."""
    rank = int(os.environ["RANK"])
    logging.basicConfig(level=logging.INFO, format=f"[rank {rank}] %(levelname)s %(name)s: %(message)s")
    spec = torch.load(spec_path, weights_only=False, mmap=True)
    device = torch.device(spec["devices"][rank])
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        log.info("rank %d of %d on %s", rank, dist.get_world_size(), device)
        seed_everything(spec["config"].seed + rank)  # distinct dropout masks per rank
        kwargs = dict(spec["fit_kwargs"])
        kwargs["progress"] = kwargs.get("progress", True) and rank == 0
        result = fit(spec["model"], spec["train"], spec["valid"], spec["task_type"], spec["config"], device, **kwargs)
        if rank == 0:
            torch.save(result, spec["result"])
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    _run_rank(sys.argv[1])
