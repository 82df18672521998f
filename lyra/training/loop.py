"""The training loop: AdamW, early stopping on a validation metric, exact resumption.

``fit`` trains any ``nn.Module`` that maps (x, mask) to outputs; ``lyra.models.fold.train_fold``
is the task-level entry point the workflow and the CLI call.

Every epoch ends with a checkpoint holding the model, optimizer, scheduler, best state
and all random-number-generator states, so a killed run that restarts from it ends
with bit-identical results on the CPU.
"""

from __future__ import annotations

import copy
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from lyra.io import tensorfile
from lyra.training import distributed
from lyra.config import CLASSIFICATION, TrainerConfig
from lyra.errors import LyraInputError, TrainingDiverged
from lyra.metrics import METRICS, higher_is_better
from lyra.nn.run import EncodedSet, device_batch, precision_context, predict_outputs
from lyra.io.provenance import config_hash

log = logging.getLogger(__name__)

def lr_factor(step: int, total_steps: int, warmup_steps: int, min_lr_ratio: float = 0.0) -> float:
    """Multiplier of the base lr for the ``step``-th optimiser step (1-based) of ``total_steps``
    under linear warm-up and cosine decay (``trainer.scheduler: warmup_cosine``, and the
    One-Hot baseline's schedule as ProteinNPT defines it).

    ``step / warmup_steps`` up to ``warmup_steps`` (the full lr at the last warm-up step),
    then ``min + (1 - min) * (1 + cos(pi * t)) / 2`` with
    ``t = (step - warmup) / (total - warmup)``, which reaches ``min_lr_ratio`` at the last step.
    """
    if step <= warmup_steps:
        return step / warmup_steps
    t = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


def optimizer_groups(model: torch.nn.Module, weight_decay: float, lr: float) -> list[dict]:
    """Parameter groups for AdamW. A model hands the loop its groups through the parameters
    themselves: one with an ``_optim`` dict (``weight_decay``, ``lr``: S4D's dt and A,
    Lyra's skip with ``skip_lr``) gets those settings, the rest ``weight_decay`` and ``lr``;
    one whose ``requires_grad`` is off is left out (not trained)."""
    default, special = [], {}
    for param in model.parameters():
        if not param.requires_grad:
            continue
        hp = getattr(param, "_optim", None)
        if hp is None:
            default.append(param)
        else:
            key = (hp["weight_decay"], hp["lr"] if hp["lr"] is not None else lr)
            special.setdefault(key, []).append(param)
    groups = [{"params": default, "weight_decay": weight_decay, "lr": lr}]
    groups += [{"params": ps, "weight_decay": wd, "lr": group_lr} for (wd, group_lr), ps in special.items()]
    return groups


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimiser steps in one epoch of ``train_epoch`` on this rank."""
    rank, world = distributed.rank_and_world()
    n_local = len(distributed.shard(torch.arange(n_train), rank, world))
    return max(1, -(-n_local // distributed.local_batch_size(batch_size, world)))


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainerConfig, n_train: int):
    """The lr schedule; ``warmup_cosine`` is stepped after every batch, the others after every epoch."""
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, config.epochs))
    if config.scheduler == "warmup_cosine":
        total = config.epochs * steps_per_epoch(n_train, config.batch_size)
        warmup = int(round(config.warmup_fraction * total))
        return torch.optim.lr_scheduler.LambdaLR(  # LambdaLR counts from 0, lr_factor from 1
            optimizer, lambda step: lr_factor(step + 1, total, warmup, config.min_lr_ratio))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)


@dataclass
class FitResult:
    best_state: dict
    best_epoch: int
    best_score: float
    history: pd.DataFrame
    resumed_from_epoch: int
    stopped_by_callback: int | None = None  # the epoch after which ``epoch_callback`` asked to stop



def loss(outputs: torch.Tensor, y: torch.Tensor, task_type: str, class_weight: torch.Tensor | None) -> torch.Tensor:
    """Cross-entropy (classification) or mean squared error on standardised targets."""
    if task_type in CLASSIFICATION:
        return F.cross_entropy(outputs, y, weight=class_weight)
    return F.mse_loss(outputs.squeeze(-1), y)


def score(outputs: np.ndarray, y: np.ndarray, task_type: str, metric: str) -> float:
    """Validation score (higher is better); NaN when the metric is undefined."""
    if task_type in CLASSIFICATION:
        if metric == "auroc":
            probs = torch.softmax(torch.from_numpy(outputs), dim=1).numpy()
            value = METRICS["auroc"](y, probs if probs.shape[1] > 2 else probs[:, 1])
        else:
            value = METRICS[metric](y, outputs.argmax(1))
    else:
        value = METRICS[metric](y, outputs[:, 0])
    return higher_is_better(float(value.value), metric)


def _rng_state(generator: torch.Generator) -> dict:
    """Every random-number-generator state as tensors and plain values (a checkpoint is
    read with ``lyra.tensorfile.load``, which rebuilds no NumPy arrays)."""
    numpy_state = np.random.get_state(legacy=False)
    key = torch.from_numpy(numpy_state["state"]["key"].astype(np.int64))
    numpy_state["state"] = {**numpy_state["state"], "key": key}
    state = {
        "torch": torch.get_rng_state(),
        "numpy": numpy_state,
        "python": random.getstate(),
        "shuffle": generator.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict, generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state({**numpy_state, "state": {**numpy_state["state"],
                                                  "key": numpy_state["state"]["key"].numpy().astype(np.uint32)}})
    random.setstate(state["python"])
    generator.set_state(state["shuffle"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train_epoch(
    model: torch.nn.Module,
    train: EncodedSet,
    optimizer: torch.optim.Optimizer,
    task_type: str,
    config: TrainerConfig,
    device: torch.device,
    generator: torch.Generator,
    class_weight: torch.Tensor | None = None,
    step_scheduler=None,
) -> float:
    """One pass over ``train`` in an order drawn from ``generator``; returns the mean training loss.

    The loss is summed on ``device`` and read once at the end, so a GPU is not made to
    wait for the host after every batch. ``step_scheduler``, if given, is stepped after
    every optimiser step.
    """
    model.train()
    order = distributed.shard(torch.randperm(len(train), generator=generator), *distributed.rank_and_world())
    batch_size = distributed.local_batch_size(config.batch_size, distributed.rank_and_world()[1])
    total_loss = torch.zeros((), dtype=torch.float64, device=device)
    for start in range(0, len(order), batch_size):
        batch = device_batch(train, order[start : start + batch_size], device)
        batch_loss = optimiser_step(model, batch, optimizer, task_type, config.grad_clip, config.precision, device,
                                    class_weight, step_scheduler)
        total_loss += batch_loss.double() * len(batch[2])
    return distributed.mean_over_ranks(total_loss, len(order))


def optimiser_step(model: torch.nn.Module, batch: tuple, optimizer: torch.optim.Optimizer, task_type: str,
                   grad_clip: float, precision: str, device: torch.device,
                   class_weight: torch.Tensor | None = None, scheduler=None) -> torch.Tensor:
    """One optimiser step on ``batch`` (x, mask, y on ``device``; mask None: no padding):
    the forward pass in ``precision``, ``loss``, backward, gradient clipping at
    ``grad_clip`` (0 or None: none), the step and, if given, a per-step ``scheduler``.
    Returns the batch's loss, detached and left on the device."""
    xb, mb, yb = batch
    with precision_context(precision, device):
        outputs = model(xb, mb)
    batch_loss = loss(outputs.float(), yb, task_type, class_weight)
    optimizer.zero_grad(set_to_none=True)
    batch_loss.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    return batch_loss.detach()


def _stop_if_diverged(epoch: int, train_loss: float, valid_loss: float, lr: float,
                      checkpoint_path: Path | None) -> None:
    """TrainingDiverged naming the epoch, the loss and the epoch's first learning rate when
    the mean training loss or the validation loss (non-finite outputs) is not finite. The loss is
    read once per epoch (reading it every step would make a GPU wait for the host), so
    the run stops at the end of the epoch in which it diverged. The checkpoint of earlier
    epochs is removed: resuming it would diverge again."""
    if math.isfinite(train_loss) and math.isfinite(valid_loss):
        return
    which, value = ("training", train_loss) if not math.isfinite(train_loss) else ("validation", valid_loss)
    if checkpoint_path is not None and distributed.is_main():
        Path(checkpoint_path).unlink(missing_ok=True)
    raise TrainingDiverged("training", f"epoch {epoch}", f"{which} loss is {value} at learning rate {lr:g}: "
                                                         "training diverged; lower trainer.lr")


_LOOP_STATE = {"epoch", "best_score", "best_epoch", "bad_epochs", "history", "finished"}


def _resume(path: Path, fingerprint: str, model: torch.nn.Module, optimizer, scheduler,
            generator: torch.Generator) -> tuple[dict, dict] | None:
    """Restore a run from its checkpoint ``path``: the loop state and the best weights.

    None, after one warning naming the file and why, when the file is unreadable (e.g.
    truncated), holds anything but tensors and plain values, belongs to another run, or
    does not fit this model; the model, optimizer, scheduler and random states are then
    as they were, so training starts from the beginning as if there were no checkpoint.
    The file is read onto the CPU, where the random states must be; loading the weights
    and the optimizer state moves them to the model's device."""
    try:
        saved = tensorfile.load(path)
    except LyraInputError as error:
        log.warning("ignoring checkpoint %s; training from the start", error)
        return None
    if saved.get("fingerprint") != fingerprint:
        log.warning("ignoring checkpoint %s: it belongs to a different configuration or data", path)
        return None
    before = (copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict()),
              copy.deepcopy(scheduler.state_dict()), _rng_state(generator))
    try:
        missing = _LOOP_STATE - set(saved["state"])
        if missing:
            raise KeyError(f"state has no {sorted(missing)}")
        model.load_state_dict(saved["best_state"])  # checks that the best weights fit the model too
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        _set_rng_state(saved["rng"], generator)
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as error:
        model.load_state_dict(before[0])
        optimizer.load_state_dict(before[1])
        scheduler.load_state_dict(before[2])
        _set_rng_state(before[3], generator)
        problem = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        log.warning("ignoring checkpoint %s: it does not fit this run (%s); training from the start", path, problem)
        return None
    return saved["state"], saved["best_state"]


def fit(
    model: torch.nn.Module,
    train: EncodedSet,
    valid: EncodedSet,
    task_type: str,
    config: TrainerConfig,
    device: torch.device,
    checkpoint_path: Path | None = None,
    fingerprint: str = "",
    progress: bool = True,
    epoch_callback=None,
) -> FitResult:
    """Train ``model`` with AdamW, keeping a copy of the state with the best validation score.

    The kept state is always a trained epoch (``best_epoch`` >= 1), chosen on validation.
    Training starts from ``model`` as it is given: a start such as ``trainer.ridge_init``
    is the caller's (``lyra.models.estimators.NeuralModel``), and parameters whose
    ``requires_grad`` is off are not trained.
    ``epoch_callback(epoch, validation_score)``, if given, is called after every epoch;
    when it returns True training stops there (e.g. a tuning trial that is pruned).
    If ``checkpoint_path`` holds a checkpoint with the same ``fingerprint`` (a hash of
    everything that defines the run), training resumes after its last completed epoch.
    """
    metric = config.metric_for(task_type)
    model.to(device)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.AdamW(optimizer_groups(model, config.weight_decay, config.lr))
    scheduler = make_scheduler(optimizer, config, len(train))
    per_step = config.scheduler == "warmup_cosine"
    class_weight = None
    if task_type in CLASSIFICATION and config.class_weights:
        counts = torch.bincount(train.y, minlength=model_output_dim(model)).float().clamp_min(1.0)
        class_weight = (counts.sum() / (len(counts) * counts)).to(device)

    state = {"epoch": 0, "best_score": -np.inf, "best_epoch": 0, "bad_epochs": 0, "history": [], "finished": False}
    best_state = copy.deepcopy(model.state_dict())
    resumed_from, stopped_by_callback = 0, None
    if checkpoint_path is not None and Path(checkpoint_path).exists():
        resumed = _resume(Path(checkpoint_path), fingerprint, model, optimizer, scheduler, generator)
        if resumed is not None:
            state, best_state = resumed
            resumed_from = state["epoch"]
            log.info("resuming from checkpoint %s after epoch %d", checkpoint_path, resumed_from)
    train_model = distributed.wrap(model, device)  # DDP on several ranks; the same module otherwise
    bar = tqdm(total=config.epochs, initial=state["epoch"], desc="epochs", unit="epoch", disable=not progress)
    while state["epoch"] < config.epochs and not state["finished"]:
        started = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]  # at the epoch's first step
        train_loss = train_epoch(train_model, train, optimizer, task_type, config, device, generator, class_weight,
                                 scheduler if per_step else None)
        if not per_step:
            scheduler.step()

        outputs = predict_outputs(model, valid.x, valid.mask, config.eval_batch_size, device, config.precision)
        valid_loss = loss(torch.from_numpy(outputs), valid.y, task_type, None if class_weight is None else class_weight.cpu()).item()
        valid_score = distributed.agree(score(outputs, valid.y.numpy(), task_type, metric))
        state["epoch"] += 1
        _stop_if_diverged(state["epoch"], train_loss, valid_loss, lr, checkpoint_path)
        improved = np.isfinite(valid_score) and valid_score > state["best_score"]
        if improved or state["epoch"] == 1:
            best_state = copy.deepcopy(model.state_dict())
            state.update(best_score=valid_score if np.isfinite(valid_score) else -np.inf, best_epoch=state["epoch"])
        state["bad_epochs"] = 0 if improved else state["bad_epochs"] + 1
        state["finished"] = state["bad_epochs"] >= config.patience
        state["history"].append(
            {
                "epoch": state["epoch"],
                "train_loss": train_loss,
                "valid_loss": valid_loss,
                f"valid_{metric}": higher_is_better(valid_score, metric),
                "lr": lr,
                "seconds": time.perf_counter() - started,
            }
        )
        if checkpoint_path is not None and distributed.is_main():
            tensorfile.save({"fingerprint": fingerprint, "model": model.state_dict(),
                             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                             "best_state": best_state, "state": state, "rng": _rng_state(generator)}, checkpoint_path)
        log.info("epoch %d: %s", state["epoch"], ", ".join(f"{k} {v:.5g}" for k, v in state["history"][-1].items()
                                                          if k != "epoch"))
        bar.update(1)
        if epoch_callback is not None and epoch_callback(state["epoch"], valid_score):
            stopped_by_callback = state["epoch"]
            break
        bar.set_postfix(loss=f"{state['history'][-1]['train_loss']:.4f}", **{metric: f"{valid_score:.4f}"})
    bar.close()
    if state["finished"]:
        log.info("early stop after epoch %d: no %s improvement for %d epochs", state["epoch"], metric, config.patience)
    log.info("best epoch %d, validation %s %.4f", state["best_epoch"], metric, state["best_score"])
    return FitResult(best_state, state["best_epoch"], state["best_score"], pd.DataFrame(state["history"]), resumed_from,
                     stopped_by_callback)


def model_output_dim(model: torch.nn.Module) -> int:
    """Number of outputs of the model's final linear layer."""
    return [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1].out_features


def run_fingerprint(*parts) -> str:
    """A hash of everything that defines a training run, to match checkpoints to runs."""
    return config_hash([str(p) if isinstance(p, Path) else p for p in parts])
