"""Run one fold of a task: encode, build the model, train, predict every row, write outputs.

Outputs in ``out_dir``: ``model.pt`` (best weights plus everything needed to predict new
sequences), ``history.csv`` (per epoch), ``predictions.tsv`` (id, sequence, split, fold,
y_true, y_pred[, prob_<class>]) and ``checkpoint.pt`` (resume state, kept so a rerun with
the same configuration resumes instead of starting over).
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
from lyra.train import CLASSIFICATION, EncodedSet, TrainerConfig, fit, predict_outputs, run_fingerprint, seed_everything
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
    return [str(i) for i in range(int(prepared["target"].max()) + 1)]


def _model_options(task: dict, model_name: str) -> dict:
    """Model constructor options: the task's ``model`` block for Lyra, ``baselines.<name>`` for others."""
    if model_name == "lyra":
        return dict(task.get("model") or {})
    return dict((task.get("baselines") or {}).get(model_name) or {})


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
) -> dict:
    """Train ``model_name`` on fold ``fold`` of ``prepared`` and write its outputs to ``out_dir``.

    Returns a summary: best epoch, validation score, parameter count, device, wall time.
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

    x, mask = one_hot(view["sequence"].tolist(), alphabet, ambiguous)
    parts = {name: np.flatnonzero(view["split"].to_numpy() == name) for name in ("train", "valid", "test")}
    scaler = TargetScaler.fit(view["target"].to_numpy()[parts["train"]], task, trainer.standardize_targets)

    predictions = view[["id", "sequence", "split"]].copy()
    predictions["fold"] = fold
    predictions["y_true"] = view["target"].to_numpy()
    summary = {"model": model_name, "fold": fold, "n_train": len(parts["train"]), "n_valid": len(parts["valid"]),
               "n_test": len(parts["test"])}

    if model_name == "ridge":
        outputs = _fit_ridge(x, view, parts, task_type, scaler, trainer.seed, len(classes or []))
        summary.update(device="cpu", n_parameters=None, best_epoch=None)
    else:
        run_devices = select_devices(trainer.n_gpus, device)  # one per data-parallel process
        run_device = run_devices[0]
        d_output = len(classes) if classes else 1
        seed_everything(trainer.seed)
        model = build_model(model_name, x.shape[-1], d_output, _model_options(task, model_name))
        fingerprint = run_fingerprint(model_name, _model_options(task, model_name), vars(trainer), task_type,
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
        outputs = predict_outputs(model, x, mask, trainer.eval_batch_size, run_device)
        n_parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
        with atomic_path(out_dir / "model.pt") as tmp:
            torch.save(
                {
                    "model_name": model_name,
                    "model_options": _model_options(task, model_name),
                    "d_input": x.shape[-1],
                    "d_output": d_output,
                    "state_dict": {k: v.cpu() for k, v in result.best_state.items()},
                    "alphabet": alphabet,
                    "ambiguous": ambiguous,
                    "t_as_u": bool(task.get("t_as_u", False)),
                    "task_type": task_type,
                    "classes": classes,
                    "scaler": scaler.to_dict(),
                    "best_epoch": result.best_epoch,
                },
                tmp,
            )
        summary.update(device=",".join(map(str, run_devices)), n_parameters=n_parameters, best_epoch=result.best_epoch,
                       best_valid_score=result.best_score, resumed_from_epoch=result.resumed_from_epoch)

    _add_outputs(predictions, outputs, task_type, classes, scaler)
    _write_predictions(predictions, out_dir / "predictions.tsv")
    summary["train_seconds"] = time.perf_counter() - started
    log.info("fold %d of %s done in %.1f s", fold, model_name, summary["train_seconds"])
    return summary


def _training_targets(view: pd.DataFrame, task_type: str, scaler: "TargetScaler") -> torch.Tensor:
    if task_type in CLASSIFICATION:
        return torch.as_tensor(view["target"].to_numpy().astype(np.int64))
    return torch.as_tensor(scaler.transform_targets(view["target"].to_numpy()), dtype=torch.float32)


def _fit_ridge(x, view, parts, task_type, scaler, seed, n_classes) -> np.ndarray:
    """Ridge / logistic regression on flattened one-hot features; returns outputs for every row."""
    y = view["target"].to_numpy()
    fit_rows = np.concatenate([parts["train"], parts["valid"]])  # CV on train+valid picks alpha / C
    train_y = y[fit_rows].astype(int) if task_type in CLASSIFICATION else scaler.transform_targets(y[fit_rows])
    result = ridge_baseline(x[fit_rows].numpy(), train_y, x.numpy(), task_type, seed, n_classes=n_classes or None)
    if task_type in CLASSIFICATION:
        return np.log(np.clip(result.probabilities, 1e-12, None))  # log-probabilities act as logits
    return np.asarray(result.predictions, dtype=np.float64)[:, None]


def _add_outputs(predictions: pd.DataFrame, outputs: np.ndarray, task_type: str, classes, scaler) -> None:
    """Turn raw outputs into y_pred (original units or class index) and class probabilities."""
    if task_type in CLASSIFICATION:
        probs = torch.softmax(torch.as_tensor(outputs, dtype=torch.float64), dim=1).numpy()
        predictions["y_pred"] = probs.argmax(1)
        for i, name in enumerate(classes):
            predictions[f"prob_{name}"] = probs[:, i]
    else:
        predictions["y_pred"] = scaler.inverse(outputs[:, 0].astype(np.float64))


def load_model(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """Load ``model.pt`` written by ``train_fold``; returns the model (eval mode) and its metadata."""
    saved = torch.load(path, map_location="cpu", weights_only=False)
    model = build_model(saved["model_name"], saved["d_input"], saved["d_output"], saved["model_options"])
    model.load_state_dict(saved["state_dict"])
    return model.eval(), saved


def predict_sequences(model: torch.nn.Module, meta: dict, sequences: list[str], batch_size: int = 1024,
                      device: str | None = None) -> pd.DataFrame:
    """Predictions for normalised ``sequences`` with a model from ``load_model``."""
    get_alphabet(meta["alphabet"])
    x, mask = one_hot(sequences, meta["alphabet"], meta["ambiguous"])
    run_device = select_device(device)
    model.to(run_device)
    outputs = predict_outputs(model, x, mask, batch_size, run_device)
    frame = pd.DataFrame(index=range(len(sequences)))
    _add_outputs(frame, outputs, meta["task_type"], meta["classes"], TargetScaler.from_dict(meta["scaler"]))
    return frame
