"""Every model behind one interface: fit, predict, state for model.pt, parameter count,
and whether it can score a set of sequences. The fit is here; the rest is the model's
predictor in ``lyra.models.saved``, which is all that loading a model file needs.

``NeuralModel`` wraps the torch modules (``Lyra``, the CNN and the Transformer baselines)
trained by ``lyra.training.loop.fit``; ``RidgeModel`` is the one-hot ridge / logistic regression
baseline; ``RidgePairsModel`` is ridge on one-hot plus screened position pairs;
``OneHotLinearModel`` is ProteinGym's One-Hot baseline, trained for a fixed
number of steps. All take per-position features ``x`` (n, L, E) (one-hot, or what
``lyra.data.features`` maps it to) with their ``mask`` and return raw
outputs (n, d_output): standardised values for regression, logits (or log-probabilities)
for classification. ``build`` makes one from its base model name; ``lyra.models.saved.from_saved``
rebuilds its predictor from the dict ``state()`` returned (stored in model.pt).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lyra.config import CLASSIFICATION, TrainerConfig
from lyra.data.encode import dense
from lyra.metrics import higher_is_better
from lyra.models.saved import NeuralPredictor, OneHotLinearPredictor, RidgePairsPredictor, RidgePredictor
from lyra.nn.baselines import LinearWeights, OneHotLinear, fit_linear
from lyra.nn.devices import select_devices
from lyra.nn.pairs import fit_pair_ridge, screen_pairs
from lyra.nn.ridge_start import start_from_ridge
from lyra.nn.run import EncodedSet, device_batch
from lyra.training.launch import launch_fit
from lyra.training.loop import fit, loss, lr_factor, optimiser_step, score, seed_everything

log = logging.getLogger(__name__)

# What `position_aware` turns on in Lyra (docs/experiments-quality.md "Recommended settings"):
# a learned position table, the one-hot skip head (ridge nested in the model), the hidden
# head and, for regression, the pair head on screened position pairs. The network is
# what is kept: ridge on one-hot plus the pairs is the separate model ``ridge_pairs``.
POSITION_AWARE_OPTIONS = {"position_embedding": "learned", "linear_skip": True, "hidden_head": 256}
POSITION_AWARE_VALUES = ("auto", True, False)


def resolve_position_aware(options: dict, lengths: np.ndarray, task_type: str) -> tuple[dict, bool]:
    """Lyra ``options`` with the ``position_aware`` key replaced by what it stands for.

    ``True`` adds ``POSITION_AWARE_OPTIONS``, and ``pair_head: true`` for regression
    (options the task sets itself win); ``"auto"``
    does so only for a regression task whose sequences (``lengths``, those of every row of
    the fold) all have one length, i.e. aligned fitness landscapes; ``False`` or no key
    leaves the paper model. Returns the options and whether position awareness came on.
    """
    options = dict(options)
    value = options.pop("position_aware", False)
    if not (isinstance(value, bool) or value == "auto"):  # not `in`: 1 == True in Python
        raise ValueError(f"model.position_aware must be one of {list(POSITION_AWARE_VALUES)}, got {value!r}")
    fixed_length = len(lengths) > 0 and int(np.min(lengths)) == int(np.max(lengths))
    on = value is True or (value == "auto" and fixed_length and task_type not in CLASSIFICATION)
    if on:
        pair_head = {} if task_type in CLASSIFICATION else {"pair_head": True}
        options = {**POSITION_AWARE_OPTIONS, **pair_head, **options}
    return options, on


def resolve_pair_head(options: dict, onehot: torch.Tensor, mask: torch.Tensor, y: np.ndarray,
                      task_type: str) -> dict:
    """Lyra ``options`` with ``pair_head: true`` replaced by the ``pair_sites`` that
    ``lyra.nn.pairs.screen_pairs`` keeps on the training rows (``onehot``, ``mask``, the
    training targets ``y``); ``pair_head: false`` (or null) or no key: no pair head."""
    options = dict(options)
    value = options.pop("pair_head", False)
    if value is None:  # `pair_head: null` in YAML, as `hidden_head: null`
        value = False
    if not isinstance(value, bool):
        raise ValueError(f"model.pair_head must be true or false, got {value!r}")
    if value and task_type in CLASSIFICATION:
        raise ValueError("model.pair_head screens pairs on regression residuals: it is for regression tasks only")
    if value and "pair_sites" in options:
        raise ValueError("give Lyra either pair_head: true (pairs screened on training rows) or pair_sites, not both")
    if value:
        options["pair_sites"] = screen_pairs(dense(onehot), dense(mask), y)
    return options


@dataclass
class FitReport:
    """What a fit tells the fold summary."""

    history: pd.DataFrame
    best_epoch: int | None
    best_score: float  # NaN or -inf when undefined
    device: str
    resumed_from_epoch: int
    stopped_by_callback: int | None = None


class NeuralModel(NeuralPredictor):
    """A torch module trained with AdamW and early stopping on validation (``lyra.training.loop.fit``)."""

    def fit(self, train: EncodedSet, valid: EncodedSet, task_type: str, trainer: TrainerConfig,
            checkpoint_path: Path | None = None, fingerprint: str = "", device: str | None = None,
            progress: bool = True, scratch_dir: Path | None = None, epoch_callback=None) -> FitReport:
        """Train on ``train``, keep the weights of the best validation epoch (``lyra.training.loop.fit``)."""
        if not len(valid):
            raise ValueError(f"model {self.name!r} picks its epoch on validation rows and this split has none "
                             f"(split.valid: none); use split.valid fold or random")
        self._start(train, valid, task_type, trainer)
        devices = select_devices(trainer.n_gpus, device)  # one per data-parallel process
        args = (train, valid, task_type, trainer)
        options = dict(checkpoint_path=checkpoint_path, fingerprint=fingerprint, progress=progress)
        if len(devices) > 1:
            if epoch_callback is not None:
                raise ValueError("a tuning trial trains on one device; set trainer.n_gpus: 1 for tuning")
            build = {"name": self.name, "d_input": self.d_input, "d_output": self.d_output, "options": self.options}
            result = launch_fit(self.module, build, *args, devices, scratch_dir=scratch_dir, **options)
            self.module.to(devices[0])
        else:
            if epoch_callback is not None:
                options["epoch_callback"] = epoch_callback
            result = fit(self.module, *args, devices[0], **options)
        self.module.load_state_dict(result.best_state)
        self.best_epoch, self.precision = result.best_epoch, trainer.precision
        return FitReport(history=result.history, best_epoch=result.best_epoch, best_score=result.best_score,
                         device=",".join(map(str, devices)), resumed_from_epoch=result.resumed_from_epoch,
                         stopped_by_callback=result.stopped_by_callback)

    def _start(self, train: EncodedSet, valid: EncodedSet, task_type: str, trainer: TrainerConfig) -> None:
        """The module's start before training: ``trainer.ridge_init`` and ``freeze_ridge``
        (``lyra.nn.ridge_start.start_from_ridge``), scored on validation for the log only."""
        started_as = start_from_ridge(self.module, train, trainer.ridge_init, trainer.freeze_ridge,
                                      task_type not in CLASSIFICATION)
        if started_as is not None:
            metric = trainer.metric_for(task_type)
            value = score(self.predict(valid.x, valid.mask, trainer.eval_batch_size), valid.y.numpy(), task_type, metric)
            log.info("%s: validation %s %.4f at the start (not a candidate)", started_as, metric,
                     higher_is_better(value, metric))


class RidgeModel(RidgePredictor):
    """``RidgePredictor`` fitted by cross-validated ridge (or logistic regression) on the training rows."""

    def fit(self, train: EncodedSet, valid: EncodedSet, task_type: str, trainer: TrainerConfig,
            **_ignored) -> FitReport:
        """Fit on ``train``; the one-row history has the losses the neural trainer reports,
        the validation metric and the regularisation strength chosen by CV."""
        seed_everything(trainer.seed)
        self.length = train.x.shape[1]
        classification = task_type in CLASSIFICATION
        y = train.y.numpy().astype(int) if classification else train.y.numpy()
        estimator = fit_linear(train.x.numpy(), y, task_type, trainer.seed)
        self.weights = LinearWeights.of(estimator)
        metric = trainer.metric_for(task_type)
        row = {"epoch": 1}
        for name, data in (("train", train), ("valid", valid)):
            row[f"{name}_loss"] = (loss(torch.as_tensor(self.predict(data.x, data.mask), dtype=torch.float32),
                                        data.y, task_type, None).item() if len(data) else float("nan"))
        valid_score = score(self.predict(valid.x, valid.mask), valid.y.numpy(), task_type, metric)
        row[f"valid_{metric}"] = higher_is_better(valid_score, metric)
        row["C" if classification else "alpha"] = float(
            np.ravel(estimator.C_)[0] if classification else estimator.alpha_)
        return FitReport(history=pd.DataFrame([row]), best_epoch=None, best_score=valid_score, device="cpu",
                         resumed_from_epoch=0)


class RidgePairsModel(RidgePairsPredictor):
    """``RidgePairsPredictor`` fitted by ridge with a leave-one-out penalty on the training rows."""

    def fit(self, train: EncodedSet, valid: EncodedSet, task_type: str, trainer: TrainerConfig,
            **_ignored) -> FitReport:
        """Fit on ``train``; the one-row history has the losses, the validation metric, the
        penalty chosen by leave-one-out and the number of pairs."""
        if task_type in CLASSIFICATION:
            raise ValueError("ridge_pairs screens pairs on regression residuals: it is for regression tasks only")
        self.length = train.x.shape[1]
        fitted = fit_pair_ridge(train.x, train.mask, train.y.numpy(), self.pair_sites)
        self.coef = torch.as_tensor(np.asarray(fitted.coef_), dtype=torch.float64)
        self.intercept, self.alpha = float(fitted.intercept_), float(fitted.alpha_)
        metric = trainer.metric_for(task_type)
        row = {"epoch": 1}
        for name, data in (("train", train), ("valid", valid)):
            row[f"{name}_loss"] = (loss(torch.as_tensor(self.predict(data.x, data.mask), dtype=torch.float32),
                                        data.y, task_type, None).item() if len(data) else float("nan"))
        valid_score = (score(self.predict(valid.x, valid.mask), valid.y.numpy(), task_type, metric)
                       if len(valid) else float("nan"))
        row[f"valid_{metric}"] = higher_is_better(valid_score, metric)
        row["alpha"], row["n_pairs"] = self.alpha, len(self.pair_sites)
        return FitReport(history=pd.DataFrame([row]), best_epoch=None, best_score=valid_score, device="cpu",
                         resumed_from_epoch=0)


class OneHotLinearModel(OneHotLinearPredictor):
    """``OneHotLinearPredictor`` trained for a fixed number of steps, as ProteinGym trains it."""

    def _lr_factor(self, step: int) -> float:
        """Learning rate of optimiser step ``step`` (1-based) relative to ``lr``."""
        o = self.options
        return lr_factor(step, o["steps"], o["warmup_steps"], o["min_lr"] / o["lr"])

    def fit(self, train: EncodedSet, valid: EncodedSet, task_type: str, trainer: TrainerConfig,
            device: str | None = None, **_ignored) -> FitReport:
        """``steps`` optimiser steps on ``train`` (reshuffled each pass); the history logs the
        training loss and the validation loss and metric every ``log_every`` steps."""
        o, run_device = self.options, torch.device(device or "cpu")
        seed_everything(trainer.seed)
        self.length = train.x.shape[1]
        self.module = OneHotLinear(self.d_input, self.d_output, self.length).to(run_device)
        groups = [{"params": [self.module.linear.weight], "weight_decay": o["weight_decay"]},
                  {"params": [self.module.linear.bias], "weight_decay": 0.0}]
        optimizer = torch.optim.AdamW(groups, lr=o["lr"])
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: self._lr_factor(i + 1))
        generator = torch.Generator().manual_seed(trainer.seed)
        metric = trainer.metric_for(task_type)
        order, at, running, history = torch.randperm(len(train), generator=generator), 0, 0.0, []
        self.module.train()
        for step in range(1, o["steps"] + 1):
            if at >= len(order):
                order, at = torch.randperm(len(train), generator=generator), 0
            batch = device_batch(train, order[at : at + o["batch_size"]], run_device)
            at += o["batch_size"]
            running += optimiser_step(self.module, batch, optimizer, task_type, o["grad_clip"], "fp32", run_device,
                                      scheduler=scheduler).item()
            if step % o["log_every"] == 0 or step == o["steps"]:
                history.append(self._log(step, running / (o["log_every"] if step % o["log_every"] == 0
                                                          else step % o["log_every"]), valid, task_type, metric))
                running = 0.0
                self.module.train()
        self.module.eval()
        final = history[-1].get(f"valid_{metric}", float("nan"))
        return FitReport(history=pd.DataFrame(history), best_epoch=None,
                         best_score=higher_is_better(final, metric), device=str(run_device),
                         resumed_from_epoch=0)

    def _log(self, step: int, train_loss: float, valid: EncodedSet, task_type: str, metric: str) -> dict:
        row = {"step": step, "train_loss": train_loss, "lr": self._lr_factor(step) * self.options["lr"]}
        if len(valid):
            outputs = self.predict(valid.x, valid.mask)
            row["valid_loss"] = loss(torch.from_numpy(outputs), valid.y, task_type, None).item()
            row[f"valid_{metric}"] = higher_is_better(score(outputs, valid.y.numpy(), task_type, metric), metric)
        return row


def build(name: str, d_input: int, d_output: int, options: dict, task_type: str):
    """A model of base type ``name`` (one of ``MODELS``) ready to fit."""
    if name == "ridge":
        return RidgeModel(d_input, d_output, task_type)
    if name == "ridge_pairs":
        unknown = sorted(set(options) - {"pair_sites"})
        if unknown:
            raise ValueError(f"bad option for model 'ridge_pairs': {unknown}; it takes pair_head (or pair_sites)")
        return RidgePairsModel(d_input, d_output, options.get("pair_sites"))
    if name == "onehot_linear":
        return OneHotLinearModel(d_input, d_output, options)
    return NeuralModel(name, d_input, d_output, options)
