"""Run one fold of a task: encode, build the model, train, predict every row, write outputs.

Outputs in ``out_dir``: ``model.pt`` (best weights plus everything needed to predict new
sequences), ``history.csv`` (per epoch), ``predictions.tsv`` (id, sequence, split, fold,
y_true, y_pred[, prob_<class>]) and ``checkpoint.pt`` (resume state, kept so a rerun with
the same configuration resumes instead of starting over). Ridge writes the same files
except ``checkpoint.pt``: its ``model.pt`` holds the fitted scikit-learn estimator and its
history is one row.

Models are ``lyra``, the baselines ``cnn``, ``transformer`` and ``ridge``, or a named
variant ``{name: {base: <one of those>, options: {...}}}`` (e.g. an ablation) whose
options override the base model's options for the task.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lyra import splits
from lyra.atomic import atomic_path
from lyra.baselines import CNN, TransformerEncoderModel, ridge_baseline
from lyra.devices import select_device, select_devices
from lyra.distributed import launch_fit
from lyra.encode import one_hot
from lyra.alphabets import get_alphabet
from lyra.model import Lyra
from lyra.train import (CLASSIFICATION, EncodedSet, TrainerConfig, _loss, _score, fit, predict_outputs, run_fingerprint,
                        seed_everything)
from lyra.transforms import TargetScaler

log = logging.getLogger(__name__)

NEURAL_MODELS = {"lyra": Lyra, "cnn": CNN, "transformer": TransformerEncoderModel}
MODELS = (*NEURAL_MODELS, "ridge")


def build_model(name: str, d_input: int, d_output: int, options: dict) -> torch.nn.Module:
    """Instantiate model ``name`` with constructor ``options``, naming any unknown option."""
    try:
        cls = NEURAL_MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {list(MODELS)}") from None
    try:
        return cls(d_input, d_output, **options)
    except TypeError as error:
        raise ValueError(f"bad option for model {name!r}: {error}") from None


def class_names(task: dict, prepared: pd.DataFrame) -> list[str] | None:
    """Class labels in index order for classification tasks, else None."""
    if task["task_type"] not in CLASSIFICATION:
        return None
    if task.get("classes"):
        return [str(c) for c in task["classes"]]
    names = [str(i) for i in range(int(prepared["target"].max()) + 1)]
    if "label" in prepared:  # the names inferred when the table was prepared
        for index, label in prepared[["target", "label"]].drop_duplicates().itertuples(index=False):
            names[int(index)] = str(label)
    return names


def _model_options(task: dict, model_name: str) -> dict:
    """Model constructor options: the task's ``model`` block for Lyra, ``baselines.<name>`` for others."""
    if model_name == "lyra":
        return dict(task.get("model") or {})
    return dict((task.get("baselines") or {}).get(model_name) or {})


def resolve_model(model_name: str, task: dict, variants: dict | None = None) -> tuple[str, dict]:
    """The base model and constructor options of ``model_name`` for ``task``.

    ``model_name`` is one of ``MODELS`` or a key of ``variants``, whose entries are
    ``{base: <model>, options: {...}}``; a variant's options override the base model's.
    """
    if model_name in MODELS:
        return model_name, _model_options(task, model_name)
    variants = variants or {}
    if model_name not in variants:
        raise ValueError(f"unknown model {model_name!r}; choose one of {list(MODELS)} or a variant "
                         f"{sorted(variants)}")
    base = variants[model_name]["base"]
    if base not in MODELS:
        raise ValueError(f"variant {model_name!r} has unknown base model {base!r}; choose one of {list(MODELS)}")
    return base, {**_model_options(task, base), **(variants[model_name].get("options") or {})}


def _write_predictions(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format="%.9g")


def train_fold(
    prepared: pd.DataFrame,
    task: dict,
    fold: int,
    out_dir: str | Path,
    model_name: str = "lyra",
    device: str | None = None,
    progress: bool = True,
    variants: dict | None = None,
) -> dict:
    """Train ``model_name`` on fold ``fold`` of ``prepared`` and write its outputs to ``out_dir``.

    ``variants`` defines named model variants (see ``resolve_model``). The Transformer's
    ``max_len`` defaults to the fold's longest sequence. Returns a JSON-ready summary: best
    epoch, validation score (None when undefined), parameter count, device, wall time.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    view = splits.view(prepared, fold, task)
    task_type = task["task_type"]
    classes = class_names(task, prepared)
    alphabet = task["alphabet"]
    ambiguous = task.get("ambiguous", "error")
    trainer = TrainerConfig.from_dict({"seed": task.get("seed", 0), **(task.get("trainer") or {})})
    seed_everything(trainer.seed)

    base, options = resolve_model(model_name, task, variants)
    x, mask = one_hot(view["sequence"].tolist(), alphabet, ambiguous)
    if base == "transformer":
        options.setdefault("max_len", x.shape[1])
    parts = {name: np.flatnonzero(view["split"].to_numpy() == name) for name in ("train", "valid", "test")}
    scaler = TargetScaler.fit(view["target"].to_numpy()[parts["train"]], task, trainer.standardize_targets)

    predictions = view[["id", "sequence", "split"]].copy()
    predictions["fold"] = fold
    predictions["y_true"] = view["target"].to_numpy()
    summary = {"model": model_name, "fold": fold, "n_train": len(parts["train"]), "n_valid": len(parts["valid"]),
               "n_test": len(parts["test"])}

    metadata = {
        "model_name": base,
        "variant": model_name,
        "model_options": options,
        "d_input": x.shape[-1],
        "alphabet": alphabet,
        "ambiguous": ambiguous,
        "t_as_u": bool(task.get("t_as_u", False)),
        "task_type": task_type,
        "classes": classes,
        "scaler": scaler.to_dict(),
    }
    if base == "ridge":
        estimator, outputs = _fit_ridge(x, view, parts, task_type, scaler, trainer.seed, len(classes or []))
        history = _ridge_history(outputs, view, parts, task_type, task["metric"], scaler, estimator)
        with atomic_path(out_dir / "history.csv") as tmp:
            history.to_csv(tmp, index=False)
        with atomic_path(out_dir / "model.pt") as tmp:
            torch.save({**metadata, "estimator": estimator, "length": x.shape[1]}, tmp)
        summary.update(device="cpu", n_parameters=_ridge_parameters(estimator), best_epoch=None,
                       best_valid_score=_finite_or_none(history[f"valid_{task['metric']}"].iloc[0]))
    else:
        run_devices = select_devices(trainer.n_gpus, device)  # one per data-parallel process
        run_device = run_devices[0]
        d_output = len(classes) if classes else 1
        seed_everything(trainer.seed)
        model = build_model(base, x.shape[-1], d_output, options)
        fingerprint = run_fingerprint(model_name, options, vars(trainer), task_type,
                                      alphabet, ambiguous, task.get("target_transform"), view.to_csv(index=False))
        targets = _training_targets(view, task_type, scaler)
        fit_args = (
            model,
            EncodedSet(x[parts["train"]], mask[parts["train"]], targets[parts["train"]]),
            EncodedSet(x[parts["valid"]], mask[parts["valid"]], targets[parts["valid"]]),
            task_type,
            trainer,
        )
        fit_options = dict(checkpoint_path=out_dir / "checkpoint.pt", fingerprint=fingerprint, progress=progress)
        if len(run_devices) > 1:
            result = launch_fit(*fit_args, run_devices, scratch_dir=out_dir, **fit_options)
        else:
            result = fit(*fit_args, run_device, **fit_options)
        with atomic_path(out_dir / "history.csv") as tmp:  # written once, so a killed run leaves no partial output
            result.history.to_csv(tmp, index=False)
        model.load_state_dict(result.best_state)
        outputs = predict_outputs(model, x, mask, trainer.eval_batch_size, run_device, trainer.precision)
        n_parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
        with atomic_path(out_dir / "model.pt") as tmp:
            torch.save(
                {
                    **metadata,
                    "d_output": d_output,
                    "precision": trainer.precision,
                    "state_dict": {k: v.cpu() for k, v in result.best_state.items()},
                    "best_epoch": result.best_epoch,
                },
                tmp,
            )
        summary.update(device=",".join(map(str, run_devices)), n_parameters=n_parameters, best_epoch=result.best_epoch,
                       best_valid_score=_finite_or_none(result.best_score), resumed_from_epoch=result.resumed_from_epoch)

    _add_outputs(predictions, outputs, task_type, classes, scaler)
    _write_predictions(predictions, out_dir / "predictions.tsv")
    summary["train_seconds"] = time.perf_counter() - started
    log.info("fold %d of %s done in %.1f s", fold, model_name, summary["train_seconds"])
    return summary


def _training_targets(view: pd.DataFrame, task_type: str, scaler: "TargetScaler") -> torch.Tensor:
    if task_type in CLASSIFICATION:
        return torch.as_tensor(view["target"].to_numpy().astype(np.int64))
    return torch.as_tensor(scaler.transform_targets(view["target"].to_numpy()), dtype=torch.float32)


def _finite_or_none(value) -> float | None:
    """A validation score for JSON: None where it is undefined (NaN, or -inf when no epoch had one)."""
    return float(value) if np.isfinite(value) else None


def _fit_ridge(x, view, parts, task_type, scaler, seed, n_classes) -> tuple[object, np.ndarray]:
    """Ridge / logistic regression on flattened one-hot features, alpha / C chosen by
    cross-validation on the train rows; returns the estimator and outputs for every row."""
    y = view["target"].to_numpy()
    rows = parts["train"]
    train_y = y[rows].astype(int) if task_type in CLASSIFICATION else scaler.transform_targets(y[rows])
    result = ridge_baseline(x[rows].numpy(), train_y, x.numpy(), task_type, seed, n_classes=n_classes or None)
    return result.model, _ridge_outputs(result.predictions, result.probabilities, task_type)


def _ridge_outputs(predictions, probabilities, task_type: str) -> np.ndarray:
    """Ridge results as model outputs: log-probabilities (which act as logits) or (n, 1) values."""
    if task_type in CLASSIFICATION:
        return np.log(np.clip(probabilities, 1e-12, None))
    return np.asarray(predictions, dtype=np.float64)[:, None]


def _ridge_history(outputs, view, parts, task_type, metric, scaler, estimator) -> pd.DataFrame:
    """The one-row history of a ridge fit: train/valid loss as the neural trainer defines
    them, the validation metric, and the regularisation strength chosen by CV."""
    targets = _training_targets(view, task_type, scaler)
    row = {"epoch": 1}
    for name in ("train", "valid"):
        index = parts[name]
        row[f"{name}_loss"] = _loss(torch.as_tensor(outputs[index], dtype=torch.float32), targets[index],
                                    task_type, None).item() if len(index) else float("nan")
    score = _score(outputs[parts["valid"]], targets[parts["valid"]].numpy(), task_type, metric)
    row[f"valid_{metric}"] = score * (-1.0 if metric == "mse" else 1.0)
    row["alpha" if task_type not in CLASSIFICATION else "C"] = float(
        estimator.alpha_ if task_type not in CLASSIFICATION else np.ravel(estimator.C_)[0])
    return pd.DataFrame([row])


def _ridge_parameters(estimator) -> int:
    """Fitted coefficients and intercepts of a linear scikit-learn estimator."""
    return int(np.size(estimator.coef_) + np.size(estimator.intercept_))


def _add_outputs(predictions: pd.DataFrame, outputs: np.ndarray, task_type: str, classes, scaler) -> None:
    """Turn raw outputs into y_pred (original units or class index) and class probabilities."""
    if task_type in CLASSIFICATION:
        probs = torch.softmax(torch.as_tensor(outputs, dtype=torch.float64), dim=1).numpy()
        predictions["y_pred"] = probs.argmax(1)
        for i, name in enumerate(classes):
            predictions[f"prob_{name}"] = probs[:, i]
    else:
        predictions["y_pred"] = scaler.inverse(outputs[:, 0].astype(np.float64))


def load_model(path: str | Path) -> tuple[torch.nn.Module | object, dict]:
    """Load ``model.pt`` written by ``train_fold``; returns the model (eval mode; for ridge
    the scikit-learn estimator) and its metadata."""
    saved = torch.load(path, map_location="cpu", weights_only=False)
    if saved["model_name"] == "ridge":
        return saved["estimator"], saved
    model = build_model(saved["model_name"], saved["d_input"], saved["d_output"], saved["model_options"])
    model.load_state_dict(saved["state_dict"])
    return model.eval(), saved


def predict_sequences(model: torch.nn.Module, meta: dict, sequences: list[str], batch_size: int = 1024,
                      device: str | None = None) -> pd.DataFrame:
    """Predictions for normalised ``sequences`` with a model from ``load_model``."""
    get_alphabet(meta["alphabet"])
    if meta["model_name"] == "ridge":
        outputs = _ridge_predict(model, meta, sequences)
    else:
        x, mask = one_hot(sequences, meta["alphabet"], meta["ambiguous"])
        run_device = select_device(device)
        model.to(run_device)
        outputs = predict_outputs(model, x, mask, batch_size, run_device, meta.get("precision", "fp32"))
    frame = pd.DataFrame(index=range(len(sequences)))
    _add_outputs(frame, outputs, meta["task_type"], meta["classes"], TargetScaler.from_dict(meta["scaler"]))
    return frame


def unscorable_reason(meta: dict, sequences: list[str]) -> str | None:
    """Why a saved model cannot score ``sequences``, or None when it can.

    Lyra and the CNN take any length. One-hot ridge has a feature per position of its
    training length and the Transformer a learned position per position of its table, so
    neither can score longer sequences.
    """
    if meta["model_name"] == "ridge":
        limit, what = meta["length"], "one-hot ridge has position-specific features"
    elif meta["model_name"] == "transformer":
        limit, what = meta["model_options"]["max_len"], "the Transformer has learned positions"
    else:
        return None
    lengths = np.array([len(s) for s in sequences])
    n_longer = int((lengths > limit).sum())
    if n_longer == 0:
        return None
    return (f"{what} for sequences up to {limit} long; "
            f"{n_longer} of {len(sequences)} sequences here are longer (up to {lengths.max()})")


def _ridge_predict(estimator, meta: dict, sequences: list[str]) -> np.ndarray:
    """Outputs of a fitted ridge / logistic model; sequences are padded to the training length."""
    reason = unscorable_reason(meta, sequences)
    if reason:
        raise ValueError(reason)
    x, _ = one_hot(sequences, meta["alphabet"], meta["ambiguous"], length=meta["length"])
    flat = x.reshape(len(x), -1).numpy()
    if meta["task_type"] in CLASSIFICATION:
        probabilities = np.zeros((len(flat), len(meta["classes"])))
        probabilities[:, estimator.classes_] = estimator.predict_proba(flat)
        return _ridge_outputs(None, probabilities, meta["task_type"])
    return _ridge_outputs(estimator.predict(flat), None, meta["task_type"])
