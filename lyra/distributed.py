"""Data-parallel training on several devices with torch.distributed (DDP).

``launch_fit`` runs ``lyra.train.fit`` in one process per device, started by torchrun
(``python -m torch.distributed.run --standalone``, which picks a free port so concurrent
jobs on one node do not collide). The parent writes the model, the encoded data and
the settings to a scratch file, each rank reads it memory-mapped, and rank 0 writes the
checkpoint, the history and the result that the parent reads back. GPUs use the NCCL
backend, CPUs gloo (so the same configuration also runs, and is tested, without GPUs).

Inside ``fit`` the helpers below make one step on N ranks equal one step on one device
with the same ``batch_size``: every rank draws the same permutation, takes every N-th
element of it (padded by wrapping to a multiple of N, as torch's DistributedSampler
does) in batches of ``batch_size // N``, and DDP averages the gradients. Outside a
process group they are no-ops.
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

log = logging.getLogger(__name__)


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes; (0, 1) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """Whether this process writes outputs (rank 0, or the only process)."""
    return rank_and_world()[0] == 0


def shard(order: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """Rank ``rank``'s share of ``order``: every ``world``-th element after padding by wrapping."""
    if world == 1 or len(order) == 0:
        return order
    padded = order[torch.arange(len(order) + (-len(order)) % world) % len(order)]
    return padded[rank::world]


def local_batch_size(batch_size: int, world: int) -> int:
    """Rows per rank and step so that ``world`` ranks together take ``batch_size``."""
    return max(1, batch_size // world)


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` in DistributedDataParallel when running on several ranks, else as it is."""
    if rank_and_world()[1] == 1:
        return model
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def mean_over_ranks(total: torch.Tensor, count: int) -> float:
    """``sum(total) / sum(count)`` over all ranks."""
    both = torch.stack([total.double(), torch.tensor(float(count), dtype=torch.float64, device=total.device)])
    if rank_and_world()[1] > 1:
        dist.all_reduce(both)
    return (both[0] / both[1].clamp_min(1)).item()


def agree(value: float) -> float:
    """Rank 0's ``value`` on every rank, so decisions such as early stopping cannot diverge."""
    if rank_and_world()[1] == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


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
                   f"--nproc-per-node={world}", "-m", "lyra.distributed", str(spec)]
        completed = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
        if completed.returncode != 0 or not result.exists():
            raise RuntimeError(f"data-parallel training failed (torchrun exit status {completed.returncode}); "
                               "the ranks' errors are printed above")
        return torch.load(result, map_location="cpu", weights_only=False)


def _run_rank(spec_path: str) -> None:
    """One rank, as started by torchrun (RANK, WORLD_SIZE, MASTER_ADDR/PORT in the environment)."""
    from lyra.train import fit, seed_everything  # lyra.train imports this module

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
