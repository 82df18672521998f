"""Data-parallel training on several devices: one process per device, started by torchrun.

``launch_fit`` runs ``lyra.training.loop.fit`` under ``python -m torch.distributed.run --standalone``
(which picks a free port so concurrent jobs on one node do not collide). The parent
writes how to build the model, its weights, the encoded data and the settings to a
scratch file, each rank reads it memory-mapped, and rank 0 writes the checkpoint, the
history and the result that the parent reads back. Both files hold only tensors and
plain values (``lyra.io.tensorfile``), so reading them runs no code. GPUs use the NCCL
backend, CPUs gloo (so the same configuration also runs, and is tested, without GPUs).
The per-step helpers are in ``lyra.training.distributed``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch
import torch.distributed as dist

from lyra.io import tensorfile
from lyra.nn.architectures import build_module
from lyra.config import TrainerConfig
from lyra.training.distributed import local_batch_size
from lyra.data.encode import CodedInputs
from lyra.errors import TrainingDiverged
from lyra.nn.run import EncodedSet
from lyra.training.loop import FitResult, fit, seed_everything

log = logging.getLogger(__name__)


def _tensors(data: EncodedSet) -> dict:
    """A training set as tensors for the ranks' spec file (``CodedInputs`` as its codes,
    table and rows: one byte per position, the codes stored once for every set)."""
    if isinstance(data.x, CodedInputs):
        return {"codes": data.x.codes, "table": data.x.table, "rows": data.x.rows, "y": data.y}
    return {"x": data.x, "mask": data.mask, "y": data.y}


def _encoded_set(spec: dict) -> EncodedSet:
    """The training set that ``_tensors`` wrote."""
    if "codes" in spec:
        x = CodedInputs(spec["codes"], spec["table"], spec["rows"])
        return EncodedSet(x, x.mask, spec["y"])
    return EncodedSet(**spec)


def launch_fit(model, build: dict, train, valid, task_type, config, devices: list[torch.device], scratch_dir: Path,
               checkpoint_path: Path | None = None, fingerprint: str = "", progress: bool = True) -> FitResult:
    """Run ``lyra.training.loop.fit`` on ``devices`` (one process each) and return rank 0's FitResult.

    ``build`` rebuilds ``model`` in each rank: ``lyra.nn.architectures.build_module``'s ``name``,
    ``d_input``, ``d_output`` and ``options``; ``model``'s weights travel as tensors, and
    its parameters whose ``requires_grad`` is off stay untrained in every rank."""
    world = len(devices)
    if config.batch_size % world:
        log.warning("batch_size %d is not a multiple of %d processes; each takes %d rows per step",
                    config.batch_size, world, local_batch_size(config.batch_size, world))
    log.info("data-parallel training on %d processes: %s", world, ", ".join(map(str, devices)))
    Path(scratch_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ddp-", dir=scratch_dir) as tmp:
        spec = Path(tmp) / "spec.pt"
        result = Path(tmp) / "result.pt"
        frozen = [name for name, parameter in model.named_parameters() if not parameter.requires_grad]
        tensorfile.save({"build": build, "weights": model.state_dict(), "frozen": frozen,
                         "train": _tensors(train), "valid": _tensors(valid),
                         "task_type": task_type, "config": config.to_dict(), "devices": [str(d) for d in devices],
                         "fit_kwargs": {"checkpoint_path": None if checkpoint_path is None else str(checkpoint_path),
                                        "fingerprint": fingerprint, "progress": progress},
                         "result": str(result)}, spec)
        threads = max(1, torch.get_num_threads() // world)
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
                   f"--nproc-per-node={world}", "-m", "lyra.training.launch", str(spec)]
        completed = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
        if completed.returncode != 0 or not result.exists():
            raise RuntimeError(f"data-parallel training failed (torchrun exit status {completed.returncode}); "
                               "the ranks' errors are printed above")
        saved = tensorfile.load(result)
        if "diverged" in saved:
            raise TrainingDiverged("training", *saved["diverged"])
        return FitResult(**{**saved, "history": pd.DataFrame(saved["history"])})


def _run_rank(spec_path: str) -> None:
    """One rank, as started by torchrun (RANK, WORLD_SIZE, MASTER_ADDR/PORT in the environment)."""
    rank = int(os.environ["RANK"])
    logging.basicConfig(level=logging.INFO, format=f"[rank {rank}] %(levelname)s %(name)s: %(message)s")
    spec = tensorfile.load(spec_path, mmap=True)
    device = torch.device(spec["devices"][rank])
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        log.info("rank %d of %d on %s", rank, dist.get_world_size(), device)
        config = TrainerConfig.from_dict(spec["config"])
        build = spec["build"]
        model = build_module(build["name"], build["d_input"], build["d_output"], build["options"])
        model.load_state_dict(spec["weights"])
        for name, parameter in model.named_parameters():  # e.g. trainer.freeze_ridge's tables
            parameter.requires_grad_(name not in spec["frozen"])
        seed_everything(config.seed + rank)  # distinct dropout masks per rank
        kwargs = dict(spec["fit_kwargs"])
        kwargs["progress"] = kwargs["progress"] and rank == 0
        try:
            result = fit(model, _encoded_set(spec["train"]), _encoded_set(spec["valid"]), spec["task_type"], config,
                         device, **kwargs)
        except TrainingDiverged as error:  # every rank sees the same losses, so all stop here
            if rank == 0:
                tensorfile.save({"diverged": [error.location, error.problem]}, spec["result"])
            return
        if rank == 0:
            tensorfile.save({**vars(result), "history": result.history.to_dict(orient="records")}, spec["result"])
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    _run_rank(sys.argv[1])
