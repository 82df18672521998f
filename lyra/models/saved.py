"""A saved model and prediction from it: what model.pt holds and how each model predicts
from it, loading a model file, encoding new sequences as training encoded them, and the
predictions as a table. Nothing here trains: ensembles, mutagenesis and variant scoring
use this module and never import the training loop.

The predictor classes hold a fitted model's state and predict; ``lyra.models.estimators``
adds the fit to each (one interface: fit, predict, state for model.pt, parameter count,
whether it can score a set of sequences). model.pt holds tensors and plain values only
(``lyra.io.tensorfile``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lyra.config import CLASSIFICATION
from lyra.data.alphabets import get_alphabet
from lyra.data.encode import CodedInputs, coded_inputs, dense
from lyra.data.features import encoder_for
from lyra.data.transforms import TargetScaler
from lyra.errors import LyraInputError
from lyra.io import tensorfile
from lyra.nn.architectures import MODULES, build_module
from lyra.nn.baselines import LinearWeights, OneHotLinear, class_probabilities
from lyra.nn.devices import select_device
from lyra.nn.lyra import options_needing_max_len
from lyra.nn.pairs import ridge_design
from lyra.nn.run import predict_outputs
from lyra.nn.substitutions import substitution_outputs


def _longer_than(limit: int, what: str, sequences: list[str]) -> str | None:
    lengths = np.array([len(s) for s in sequences])
    n_longer = int((lengths > limit).sum())
    if n_longer == 0:
        return None
    return (f"{what} for sequences up to {limit} long; "
            f"{n_longer} of {len(sequences)} sequences here are longer (up to {lengths.max()})")


class NeuralPredictor:
    """A torch module (Lyra, the CNN, the Transformer) with its options and trained weights."""

    def __init__(self, name: str, d_input: int, d_output: int, options: dict, precision: str = "fp32"):
        self.name, self.d_input, self.d_output, self.options = name, d_input, d_output, dict(options)
        self.precision = precision
        self.best_epoch: int | None = None
        self.module = build_module(name, d_input, d_output, self.options)

    def predict(self, x: torch.Tensor, mask: torch.Tensor, batch_size: int = 1024,
                device: str | None = None) -> np.ndarray:
        """Raw outputs in input order, on ``device`` (default: where the module is)."""
        run_device = torch.device(device) if device else next(self.module.parameters()).device
        self.module.to(run_device)
        return predict_outputs(self.module, x, mask, batch_size, run_device, self.precision)

    def substitution_outputs(self, x: torch.Tensor, letters: torch.Tensor, positions: torch.Tensor,
                             letter_index: torch.Tensor, device: str | None = None) -> np.ndarray | None:
        """Raw outputs of single substitutions of one encoded sequence ``x`` (L, E) by
        ``lyra.nn.substitutions.substitution_outputs``; None where that fast path does not apply
        (another architecture, several S4D layers, reduced precision)."""
        if self.name != "lyra" or len(self.module.s4d_layers) > 1 or self.precision != "fp32":
            return None
        run_device = torch.device(device) if device else next(self.module.parameters()).device
        self.module.to(run_device).eval()
        out = substitution_outputs(self.module, x.to(run_device), letters.to(run_device), positions.to(run_device),
                                   letter_index.to(run_device))
        return out.float().cpu().numpy()

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters() if p.requires_grad)

    def device(self) -> str:
        return str(next(self.module.parameters()).device)

    def unscorable_reason(self, sequences: list[str]) -> str | None:
        """The Transformer has a learned position per position of its table, and so has Lyra
        with a position-specific option (``lyra.nn.lyra.options_needing_max_len``); otherwise Lyra and the CNN
        take any length."""
        if self.name == "transformer":
            return _longer_than(self.options["max_len"], "the Transformer has learned positions", sequences)
        if self.name == "lyra" and options_needing_max_len(self.options):
            return _longer_than(self.options["max_len"], "this Lyra model has position-specific weights", sequences)
        return None

    def state(self) -> dict:
        return {"d_output": self.d_output, "precision": self.precision, "best_epoch": self.best_epoch,
                "state_dict": {k: v.cpu() for k, v in self.module.state_dict().items()}}

    @classmethod
    def from_saved(cls, saved: dict) -> "NeuralPredictor":
        model = cls(saved["model_name"], saved["d_input"], saved["d_output"], saved["model_options"],
                    saved.get("precision", "fp32"))
        model.module.load_state_dict(saved["state_dict"])
        model.module.eval()
        model.best_epoch = saved.get("best_epoch")
        return model


class RidgePredictor:
    """Ridge (regression) or logistic regression (classification) on flattened one-hot
    features, its penalty chosen by cross-validation on the training rows. The features
    are tied to positions, so it scores sequences up to its training length only."""

    name = "ridge"

    def __init__(self, d_input: int, d_output: int, task_type: str, weights: LinearWeights | None = None,
                 length: int | None = None):
        self.d_input, self.d_output, self.task_type = d_input, d_output, task_type
        self.weights, self.length = weights, length

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
    def from_saved(cls, saved: dict) -> "RidgePredictor":
        linear = saved["linear"]
        classes = linear.get("classes")
        weights = LinearWeights(linear["coef"].numpy(), linear["intercept"].numpy(),
                                None if classes is None else classes.numpy())
        return cls(saved["d_input"], saved["d_output"], saved["task_type"], weights, saved["length"])


class RidgePairsPredictor:
    """Ridge regression on one-hot plus the features of screened position pairs
    (``lyra.nn.pairs.fit_pair_ridge``; ``pair_sites`` come from ``lyra.nn.pairs.screen_pairs`` on
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
    def from_saved(cls, saved: dict) -> "RidgePairsPredictor":
        return cls(saved["d_input"], saved["d_output"], saved["pair_sites"], saved["length"], saved["coef"],
                   saved["intercept"], saved["alpha"])


class OneHotLinearPredictor:
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
    def from_saved(cls, saved: dict) -> "OneHotLinearPredictor":
        model = cls(saved["d_input"], saved["d_output"], saved["model_options"], saved["length"])
        model.module.load_state_dict(saved["state_dict"])
        model.module.eval()
        return model


def from_saved(saved: dict):
    """The fitted model stored in a model.pt dict."""
    if saved["model_name"] == "ridge":
        return RidgePredictor.from_saved(saved)
    if saved["model_name"] == "ridge_pairs":
        return RidgePairsPredictor.from_saved(saved)
    if saved["model_name"] == "onehot_linear":
        return OneHotLinearPredictor.from_saved(saved)
    return NeuralPredictor.from_saved(saved)


def model_inputs(base: str, x, mask) -> tuple:
    """The networks read features per batch from ``CodedInputs``; ridge and the one-hot
    linear layer take the full tensors (their fits see every row at once)."""
    if base in MODULES:
        return x, mask
    return dense(x), dense(mask)


def encode_as_trained(sequences: list[str] | CodedInputs, ids: list[str], alphabet: str, ambiguous: str,
                      encoding: list | None, base: str) -> tuple:
    """``sequences`` (text, or already ``CodedInputs``) encoded as training encodes a fold:
    one byte per position (``coded_inputs``), the task's ``encoding`` on top
    (``encoder_for``; ``ids`` key embeddings), in the form the model ``base`` reads
    (``model_inputs``). Returns (x, mask, coded letters, encoder); training, prediction and
    the substitution fast path all encode through here."""
    onehot = sequences if isinstance(sequences, CodedInputs) else coded_inputs(sequences, alphabet, ambiguous)
    encoder = encoder_for(encoding, alphabet)
    x, mask = model_inputs(base, *encoder.features(onehot, list(ids)))
    return x, mask, onehot, encoder


def add_outputs(predictions: pd.DataFrame, outputs: np.ndarray, task_type: str, classes, scaler) -> None:
    """Turn raw outputs into y_pred (original units or class index) and class probabilities."""
    if classes:
        probs = torch.softmax(torch.as_tensor(outputs, dtype=torch.float64), dim=1).numpy()
        predictions["y_pred"] = probs.argmax(1)
        for i, name in enumerate(classes):
            predictions[f"prob_{name}"] = probs[:, i]
    else:
        predictions["y_pred"] = scaler.inverse(outputs[:, 0].astype(np.float64))


def load_model(path: str | Path) -> tuple:
    """Load ``model.pt`` written by ``lyra.models.fold.train_fold``: the fitted model and its metadata.

    The one reader of model files (``lyra.io.tensorfile.load``: no code in the file runs);
    LyraInputError naming the file when it is not such a model."""
    saved = tensorfile.load(path)
    try:
        return from_saved(saved), saved
    except KeyError as error:
        raise LyraInputError(path, "contents", f"not a lyra model file: it has no {error} entry") from None
    except (TypeError, ValueError, RuntimeError, AttributeError) as error:
        problem = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise LyraInputError(path, "contents", f"not a lyra model file: {problem}") from None


def predict_substitutions(model, meta: dict, reference: str, positions: list[int], letters: list[str],
                          device: str | None = None) -> pd.DataFrame | None:
    """Predictions (as ``predict_sequences``) of the single substitutions of a normalised
    ``reference``: ``positions`` 0-based, ``letters`` the new letters, by the model's fast
    path (``substitution_outputs``); None where there is none (then score the mutated
    sequences with ``predict_sequences``), or where the encoding is not one vector per
    letter (embeddings from a file)."""
    fast = getattr(model, "substitution_outputs", None)
    encoding = meta.get("encoding") or ["onehot"]
    if fast is None or any(isinstance(part, dict) and "embeddings" in part for part in encoding):
        return None
    alphabet = get_alphabet(meta["alphabet"]).letters

    def features(sequences: list[str]) -> torch.Tensor:  # (n, L, E), encoded as in training
        x = encode_as_trained(sequences, [""] * len(sequences), meta["alphabet"], meta["ambiguous"], encoding,
                              meta["model_name"])[0]
        return dense(x)

    x = features([reference])[0]
    table = features(list(alphabet))[:, 0]  # each letter's features
    index = torch.tensor([alphabet.index(letter) for letter in letters], dtype=torch.long)
    outputs = fast(x, table, torch.as_tensor(positions, dtype=torch.long), index, device=str(select_device(device)))
    if outputs is None:
        return None
    frame = pd.DataFrame(index=range(len(positions)))
    add_outputs(frame, outputs, meta["task_type"], meta["classes"], TargetScaler.from_dict(meta["scaler"]))
    return frame


def predict_sequences(model, meta: dict, sequences: list[str], batch_size: int = 1024,
                      device: str | None = None, ids: list[str] | None = None) -> pd.DataFrame:
    """Predictions (y_pred[, prob_<class>]) for normalised ``sequences`` with a model from
    ``load_model``, encoded as in training (``ids``: the rows' ids, for embeddings keyed by
    id); ValueError when the model cannot score them (see ``model.unscorable_reason``)."""
    x, mask, _, _ = encode_as_trained(sequences, ids or [""] * len(sequences), meta["alphabet"], meta["ambiguous"],
                                      meta.get("encoding"), meta["model_name"])
    outputs = model.predict(x, mask, batch_size, device=select_device(device))
    frame = pd.DataFrame(index=range(len(sequences)))
    add_outputs(frame, outputs, meta["task_type"], meta["classes"], TargetScaler.from_dict(meta["scaler"]))
    return frame
