"""Data-parallel helpers used inside ``lyra.training.loop.fit`` (torch.distributed, DDP).

``lyra.training.launch.launch_fit`` starts one process per device; inside ``fit`` the helpers
below make one step on N ranks equal one step on one device with the same ``batch_size``: every rank draws the same permutation, takes every N-th
element of it (padded by wrapping to a multiple of N, as torch's DistributedSampler
does) in batches of ``batch_size // N``, and DDP averages the gradients. Outside a
process group they are no-ops.
"""

from __future__ import annotations

import logging

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
