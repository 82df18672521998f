"""Every model behind one interface: fit, predict, state for model.pt, parameter count,
and whether it can score a set of sequences.

``NeuralModel`` wraps the torch modules (``Lyra``, the CNN and the Transformer baselines)
trained by ``lyra.train.fit``; ``RidgeModel`` is the one-hot ridge / logistic regression
baseline; ``RidgePairsModel`` is ridge on one-hot plus screened position pairs;
``OneHotLinearModel`` is ProteinGym's One-Hot baseline, trained for a fixed
number of steps. All take per-position features ``x`` (n, L, E) (one-hot, or what
``lyra.features`` maps it to) with their ``mask`` and return raw
outputs (n, d_output): standardised values for regression, logits (or log-probabilities)
for classification. ``build`` makes one from its base model name; ``from_saved`` rebuilds
one from the dict ``state()`` returned (stored in model.pt).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lyra.nn.architectures import build_module
from lyra.nn.baselines import LinearWeights, OneHotLinear, class_probabilities, fit_linear
from lyra.config import CLASSIFICATION, TrainerConfig
from lyra.nn.devices import select_devices
from lyra.data.encode import dense
from lyra.training.launch import launch_fit
from lyra.nn.pairs import fit_pair_ridge, ridge_design, screen_pairs
from lyra.nn.run import EncodedSet, predict_outputs
from lyra.training.loop import fit, loss, score, seed_everything

def lyra_needs_length(options: dict) -> bool:
    """Whether Lyra ``options`` have one weight per position (learned positions, the
    flatten readout, the one-hot skip head, the hidden head or a pair head), so the model
    needs ``max_len``."""
    return (options.get("position_embedding") == "learned" or options.get("readout") == "flatten"
            or any(bool(options.get(key)) for key in ("linear_skip", "hidden_head", "pair_head", "pair_sites")))


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
    ``lyra.pairs.screen_pairs`` keeps on the training rows (``onehot``, ``mask``, the
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


def _longer_than(limit: int, what: str, sequences: list[str]) -> str | None:
    lengths = np.array([len(s) for s in sequences])
    n_longer = int((lengths > limit).sum())
    if n_longer == 0:
        return None
    return (f"{what} for sequences up to {limit} long; "
            f"{n_longer} of {len(sequences)} sequences here are longer (up to {lengths.max()})")


class NeuralModel:
    """A torch module trained with AdamW and early stopping on validation (lyra.train.fit)."""

    def __init__(self, name: str, d_input: int, d_output: int, options: dict, precision: str = "fp32"):
        self.name, self.d_input, self.d_output, self.options = name, d_input, d_output, dict(options)
        self.precision = precision
        self.best_epoch: int | None = None
        self.module = build_module(name, d_input, d_output, self.options)

    def fit(self, train: EncodedSet, valid: EncodedSet, task_type: str, trainer: TrainerConfig,
            checkpoint_path: Path | None = None, fingerprint: str = "", device: str | None = None,
            progress: bool = True, scratch_dir: Path | None = None, epoch_callback=None) -> FitReport:
        """Train on ``train``, keep the weights of the best validation epoch (``lyra.train.fit``)."""
        if not len(valid):
            raise ValueError(f"model {self.name!r} picks its epoch on validation rows and this split has none "
                             f"(split.valid: none); use split.valid fold or random")
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

    def predict(self, x: torch.Tensor, mask: torch.Tensor, batch_size: int = 1024,
                device: str | None = None) -> np.ndarray:
        """Raw outputs in input order, on ``device`` (default: where the module is)."""
        run_device = torch.device(device) if device else next(self.module.parameters()).device
        self.module.to(run_device)
        return predict_outputs(self.module, x, mask, batch_size, run_device, self.precision)

    def substitution_outputs(self, x: torch.Tensor, letters: torch.Tensor, positions: torch.Tensor,
                             letter_index: torch.Tensor, device: str | None = None) -> np.ndarray | None:
        """Raw outputs of single substitutions of one encoded sequence ``x`` (L, E) by
        ``lyra.model.Lyra.substitution_outputs``; None where that fast path does not apply
        (another architecture, several S4D layers, reduced precision)."""
        if self.name != "lyra" or len(self.module.s4d_layers) > 1 or self.precision != "fp32":
            return None
        run_device = torch.device(device) if device else next(self.module.parameters()).device
        self.module.to(run_device).eval()
        out = self.module.substitution_outputs(x.to(run_device), letters.to(run_device), positions.to(run_device),
                                               letter_index.to(run_device))
        return out.float().cpu().numpy()

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters() if p.requires_grad)

    def device(self) -> str:
        return str(next(self.module.parameters()).device)

    def unscorable_reason(self, sequences: list[str]) -> str | None:
        """The Transformer has a learned position per position of its table, and so has Lyra
        with a position-specific option (``lyra_needs_length``); otherwise Lyra and the CNN
        take any length."""
        if self.name == "transformer":
            return _longer_than(self.options["max_len"], "the Transformer has learned positions", sequences)
        if self.name == "lyra" and lyra_needs_length(self.options):
            return _longer_than(self.options["max_len"], "this Lyra model has position-specific weights", sequences)
        return None

    def state(self) -> dict:
        return {"d_output": self.d_output, "precision": self.precision, "best_epoch": self.best_epoch,
                "state_dict": {k: v.cpu() for k, v in self.module.state_dict().items()}}

    @classmethod
    def from_saved(cls, saved: dict) -> "NeuralModel":
        model = cls(saved["model_name"], saved["d_input"], saved["d_output"], saved["model_options"],
                    saved.get("precision", "fp32"))
        model.module.load_state_dict(saved["state_dict"])
        model.module.eval()
        model.best_epoch = saved.get("best_epoch")
        return model


class RidgeModel:
    """Ridge (regression) or logistic regression (classification) on flattened one-hot
    features, its penalty chosen by cross-validation on the training rows. The features
    are tied to positions, so it scores sequences up to its training length only."""

    name = "ridge"

    def __init__(self, d_input: int, d_output: int, task_type: str, weights: LinearWeights | None = None,
                 length: int | None = None):
        self.d_input, self.d_output, self.task_type = d_input, d_output, task_type
        self.weights, self.length = weights, length

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
        metric = trainer.selection_metric or ("accuracy" if classification else "spearman")
        row = {"epoch": 1}
        for name, data in (("train", train), ("valid", valid)):
            row[f"{name}_loss"] = (loss(torch.as_tensor(self.predict(data.x, data.mask), dtype=torch.float32),
                                        data.y, task_type, None).item() if len(data) else float("nan"))
        valid_score = score(self.predict(valid.x, valid.mask), valid.y.numpy(), task_type, metric)
        row[f"valid_{metric}"] = valid_score * (-1.0 if metric == "mse" else 1.0)
        row["C" if classification else "alpha"] = float(
            np.ravel(estimator.C_)[0] if classification else estimator.alpha_)
        return FitReport(history=pd.DataFrame([row]), best_epoch=None, best_score=valid_score, device="cpu",
                         resumed_from_epoch=0)

    def predict(self, x: torch.Tensor, mask: torch.Tensor, batch_size: int | None = None,
                device: str | None = None) -> np.ndarray:
        """Log-probabilities (which act as logits) or (n, 1) values; shorter sequences are
        zero-padded to the training length."""
        if x.shape[1] > self.length:
            raise ValueError(f"one-hot ridge has position-specific features for sequences up to {self.length} "
                             f"long; got length {x.shape[1]}")
        flat = torch.nn.functional.pad(x, (0, 0, 0, self.length - x.shape[1])).reshape(len(x), -1).numpy()
        if self.task_type in CLASSIFICATION:
            probabilities = class_probabilities(self.weights, flat, self.d_output)
            return np.log(np.clip(probabilities, 1e-12, None))
        return np.asarray(self.weights.decision(flat), dtype=np.float64)[:, None]

    def n_parameters(self) -> int:
        """Fitted coefficients and intercepts."""
        return int(np.size(self.weights.coef) + np.size(self.weights.intercept))

    def device(self) -> str:
        return "cpu"

    def unscorable_reason(self, sequences: list[str]) -> str | None:
        return _longer_than(self.length, "one-hot ridge has position-specific features", sequences)

    def state(self) -> dict:
        """The fitted weights as tensors (exact float64 copies), so model.pt holds no Python objects."""
        weights = {name: torch.from_numpy(np.asarray(value)) for name, value in self.weights._asdict().items()
                   if value is not None}
        return {"d_output": self.d_output, "linear": weights, "length": self.length}

    @classmethod
    def from_saved(cls, saved: dict) -> "RidgeModel":
        linear = saved["linear"]
        classes = linear.get("classes")
        weights = LinearWeights(linear["coef"].numpy(), linear["intercept"].numpy(),
                                None if classes is None else classes.numpy())
        return cls(saved["d_input"], saved["d_output"], saved["task_type"], weights, saved["length"])


class RidgePairsModel:
    """Ridge regression on one-hot plus the features of screened position pairs
    (``lyra.pairs.fit_pair_ridge``; ``pair_sites`` come from ``lyra.pairs.screen_pairs`` on
    the training rows, the ``pair_head: true`` option that ``resolve_pair_head`` resolves):
    the model that Lyra's skip and pair heads hold after ``trainer.ridge_init``, as a
    model of its own. Regression only; it scores sequences up to its training length.
    Its state is tensors and plain numbers, so model.pt needs no pickled objects."""

    name = "ridge_pairs"

    def __init__(self, d_input: int, d_output: int, pair_sites: list[list[int]] | None = None,
                 length: int | None = None, coef: torch.Tensor | None = None, intercept: float = 0.0,
                 alpha: float | None = None):
        if d_output != 1:
            raise ValueError("ridge_pairs is a regression model (one output)")
        self.d_input, self.d_output, self.pair_sites = d_input, d_output, [list(map(int, p)) for p in pair_sites or []]
        self.length, self.coef, self.intercept, self.alpha = length, coef, float(intercept), alpha

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
        metric = trainer.selection_metric or "spearman"
        row = {"epoch": 1}
        for name, data in (("train", train), ("valid", valid)):
            row[f"{name}_loss"] = (loss(torch.as_tensor(self.predict(data.x, data.mask), dtype=torch.float32),
                                        data.y, task_type, None).item() if len(data) else float("nan"))
        valid_score = (score(self.predict(valid.x, valid.mask), valid.y.numpy(), task_type, metric)
                       if len(valid) else float("nan"))
        row[f"valid_{metric}"] = valid_score * (-1.0 if metric == "mse" else 1.0)
        row["alpha"], row["n_pairs"] = self.alpha, len(self.pair_sites)
        return FitReport(history=pd.DataFrame([row]), best_epoch=None, best_score=valid_score, device="cpu",
                         resumed_from_epoch=0)

    def predict(self, x: torch.Tensor, mask: torch.Tensor, batch_size: int | None = None,
                device: str | None = None) -> np.ndarray:
        """(n, 1) values; shorter sequences are zero-padded to the training length."""
        if x.shape[1] > self.length:
            raise ValueError(f"ridge_pairs has position-specific features for sequences up to {self.length} "
                             f"long; got length {x.shape[1]}")
        masked = x * mask.unsqueeze(-1).to(x.dtype)
        padded = torch.nn.functional.pad(masked, (0, 0, 0, self.length - x.shape[1]))
        design = ridge_design(padded, self.pair_sites)
        return (np.asarray(design @ self.coef.numpy()).ravel() + self.intercept)[:, None]

    def n_parameters(self) -> int:
        """Fitted coefficients and the intercept."""
        return int(self.coef.numel()) + 1

    def device(self) -> str:
        return "cpu"

    def unscorable_reason(self, sequences: list[str]) -> str | None:
        return _longer_than(self.length, "ridge_pairs has position-specific features", sequences)

    def state(self) -> dict:
        return {"d_output": self.d_output, "length": self.length, "pair_sites": self.pair_sites,
                "coef": self.coef, "intercept": self.intercept, "alpha": self.alpha}

    @classmethod
    def from_saved(cls, saved: dict) -> "RidgePairsModel":
        return cls(saved["d_input"], saved["d_output"], saved["pair_sites"], saved["length"], saved["coef"],
                   saved["intercept"], saved["alpha"])


class OneHotLinearModel:
    """ProteinGym's "One-Hot Encodings" supervised baseline, trained as ProteinGym trains it
    (ProteinNPT, proteinnpt/baselines/model_configs/OHE_*.json with scripts/train.py's
    defaults): position-specific features flattened into one linear layer, MSE on
    training-standardised targets, AdamW (weight decay 5e-3 on the weights, none on the
    bias), batches of 64, a fixed 10,000 steps with the learning rate warmed up linearly to
    3e-4 over 100 steps then cosine-decayed to 1e-5, gradient norm clipped at 1, and the
    final weights kept: no early stopping, so validation rows are only monitored.
    ``options`` override any of ``DEFAULTS``."""

    name = "onehot_linear"
    DEFAULTS = {"steps": 10_000, "batch_size": 64, "lr": 3e-4, "min_lr": 1e-5, "warmup_steps": 100,
                "weight_decay": 5e-3, "grad_clip": 1.0, "log_every": 500}

    def __init__(self, d_input: int, d_output: int, options: dict | None = None, length: int | None = None):
        unknown = sorted(set(options or {}) - set(self.DEFAULTS))
        if unknown:
            raise ValueError(f"bad option for model 'onehot_linear': {unknown}; known: {sorted(self.DEFAULTS)}")
        self.d_input, self.d_output = d_input, d_output
        self.options = {**self.DEFAULTS, **(options or {})}
        self.length = length
        self.module = OneHotLinear(d_input, d_output, length) if length else None

    def _lr_factor(self, step: int) -> float:
        """Learning rate of optimiser step ``step`` (1-based) relative to ``lr``."""
        o = self.options
        if step <= o["warmup_steps"]:
            return step / max(1, o["warmup_steps"])
        progress = min(1.0, (step - o["warmup_steps"]) / max(1, o["steps"] - o["warmup_steps"]))
        return (o["min_lr"] + 0.5 * (1 + math.cos(math.pi * progress)) * (o["lr"] - o["min_lr"])) / o["lr"]

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
        x, y = train.x.to(run_device), train.y.to(run_device)
        metric = trainer.selection_metric or ("accuracy" if task_type in CLASSIFICATION else "spearman")
        order, at, running, history = torch.randperm(len(y), generator=generator), 0, 0.0, []
        self.module.train()
        for step in range(1, o["steps"] + 1):
            if at >= len(order):
                order, at = torch.randperm(len(y), generator=generator), 0
            index = order[at : at + o["batch_size"]]
            at += o["batch_size"]
            batch_loss = loss(self.module(x[index]), y[index], task_type, None)
            optimizer.zero_grad(set_to_none=True)
            batch_loss.backward()
            torch.nn.utils.clip_grad_norm_(self.module.parameters(), o["grad_clip"])
            optimizer.step()
            scheduler.step()
            running += batch_loss.item()
            if step % o["log_every"] == 0 or step == o["steps"]:
                history.append(self._log(step, running / (o["log_every"] if step % o["log_every"] == 0
                                                          else step % o["log_every"]), valid, task_type, metric))
                running = 0.0
                self.module.train()
        self.module.eval()
        final = history[-1].get(f"valid_{metric}", float("nan"))
        return FitReport(history=pd.DataFrame(history), best_epoch=None,
                         best_score=final * (-1.0 if metric == "mse" else 1.0), device=str(run_device),
                         resumed_from_epoch=0)

    def _log(self, step: int, train_loss: float, valid: EncodedSet, task_type: str, metric: str) -> dict:
        row = {"step": step, "train_loss": train_loss, "lr": self._lr_factor(step) * self.options["lr"]}
        if len(valid):
            outputs = self.predict(valid.x, valid.mask)
            row["valid_loss"] = loss(torch.from_numpy(outputs), valid.y, task_type, None).item()
            row[f"valid_{metric}"] = score(outputs, valid.y.numpy(), task_type, metric) * (-1.0 if metric == "mse" else 1.0)
        return row

    def predict(self, x: torch.Tensor, mask: torch.Tensor, batch_size: int = 1024,
                device: str | None = None) -> np.ndarray:
        """Raw outputs (n, d_output) in input order."""
        run_device = torch.device(device) if device else next(self.module.parameters()).device
        self.module.to(run_device)
        return predict_outputs(self.module, x, mask, batch_size, run_device)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    def device(self) -> str:
        return str(next(self.module.parameters()).device)

    def unscorable_reason(self, sequences: list[str]) -> str | None:
        return _longer_than(self.length, "the one-hot linear model has position-specific weights", sequences)

    def state(self) -> dict:
        return {"d_output": self.d_output, "length": self.length,
                "state_dict": {k: v.cpu() for k, v in self.module.state_dict().items()}}

    @classmethod
    def from_saved(cls, saved: dict) -> "OneHotLinearModel":
        model = cls(saved["d_input"], saved["d_output"], saved["model_options"], saved["length"])
        model.module.load_state_dict(saved["state_dict"])
        model.module.eval()
        return model


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


def from_saved(saved: dict):
    """The fitted model stored in a model.pt dict."""
    if saved["model_name"] == "ridge":
        return RidgeModel.from_saved(saved)
    if saved["model_name"] == "ridge_pairs":
        return RidgePairsModel.from_saved(saved)
    if saved["model_name"] == "onehot_linear":
        return OneHotLinearModel.from_saved(saved)
    return NeuralModel.from_saved(saved)
