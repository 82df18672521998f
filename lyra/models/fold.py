"""Run one fold of a task: encode, build the model, fit, predict every row, write outputs.

Outputs in ``out_dir``: ``model.pt`` (the fitted model plus everything needed to predict
new sequences), ``history.csv`` (per epoch; one row for ridge), ``predictions.tsv`` (see
``lyra.results``) and, for the neural models, ``checkpoint.pt`` (resume state, kept so a
rerun with the same configuration resumes instead of starting over).

Models are ``lyra``, the baselines ``cnn``, ``transformer``, ``ridge``, ``ridge_pairs`` and ``onehot_linear``, or a named
variant ``{name: {base: <one of those>, options: {...}}}`` (e.g. an ablation) whose
options override the base model's options for the task (``Task.model_options``).
Every model goes through the same path (``lyra.models``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lyra import results
from lyra.config import Task
from lyra.data import splits
from lyra.data.encode import CodedInputs, coded_inputs
from lyra.data.records import class_labels
from lyra.data.transforms import TargetScaler
from lyra.errors import TrainingDiverged
from lyra.io import tensorfile
from lyra.io.atomic import atomic_path
from lyra.models import estimators as models
from lyra.models.saved import add_outputs, encode_as_trained
from lyra.nn.architectures import MODULES
from lyra.nn.lyra import options_needing_max_len
from lyra.nn.run import EncodedSet
from lyra.training.loop import run_fingerprint, seed_everything

log = logging.getLogger(__name__)


def _training_targets(view: pd.DataFrame, task: Task, scaler: TargetScaler) -> torch.Tensor:
    if task.is_classification:
        return torch.as_tensor(view["target"].to_numpy().astype(np.int64))
    return torch.as_tensor(scaler.transform_targets(view["target"].to_numpy()), dtype=torch.float32)


def _finite_or_none(value) -> float | None:
    """A validation score for JSON: None where it is undefined (NaN, or -inf when no epoch had one)."""
    return float(value) if np.isfinite(value) else None


def _table_hash(view: pd.DataFrame, inputs: CodedInputs) -> str:
    """SHA-256 of a fold's rows: every column but the sequence (pandas' per-row hashes) and
    the sequences' one-byte codes, a block of rows at a time."""
    rows = pd.util.hash_pandas_object(view.drop(columns="sequence", errors="ignore"), index=True).to_numpy()
    digest = hashlib.sha256(",".join(map(str, view.columns.drop("sequence", errors="ignore"))).encode()
                            + rows.tobytes())
    for block in inputs.blocks():
        digest.update(inputs.letters(block).numpy().tobytes())
    return digest.hexdigest()


def _encoded_set(x, mask, targets: torch.Tensor, rows: np.ndarray) -> EncodedSet:
    """The rows ``rows`` of a fold's inputs (a view of the codes for ``CodedInputs``)."""
    if isinstance(x, CodedInputs):
        part = x.subset(rows)
        return EncodedSet(part, part.mask, targets[rows])
    return EncodedSet(x[rows], mask[rows], targets[rows])


class FoldFit:
    """One fold's encoded rows, target scaler and unfitted model: what training and a
    tuning trial share."""

    def __init__(self, view: pd.DataFrame, task: Task, classes: list[str] | None, model_name: str,
                 variants: dict | None, inputs: CodedInputs | None = None):
        """``inputs``: the rows' sequences as ``lyra.data.encode.CodedInputs`` (then ``view`` needs
        no sequence column; see ``lyra.results.read_prepared_coded``); by default encoded
        from ``view``'s."""
        seed_everything(task.trainer.seed)
        if inputs is None:
            inputs = coded_inputs(view["sequence"].tolist(), task.alphabet, task.ambiguous)
        self.inputs = inputs  # one byte per position
        self.base, self.options = task.model_options(model_name, variants)
        self.trainer, self.position_aware = task.trainer, False
        if self.base == "lyra":
            lengths = inputs.lengths()
            self.options, self.position_aware = models.resolve_position_aware(self.options, lengths, task.task_type)
        if self.base == "ridge_pairs":  # its pairs are screened as Lyra's pair head's
            self.options = {"pair_head": True, **self.options}
        self.x, self.mask, _, self.encoder = encode_as_trained(inputs, view["id"].tolist(), task.alphabet,
                                                                    task.ambiguous, task.encoding, self.base)
        if self.base == "transformer" or (self.base == "lyra" and options_needing_max_len(self.options)):
            self.options.setdefault("max_len", self.x.shape[1])  # the fold's longest sequence
        self.parts = {name: np.flatnonzero(view["split"].to_numpy() == name) for name in ("train", "valid", "test")}
        self.scaler = TargetScaler.fit(view["target"].to_numpy()[self.parts["train"]], task.task_type,
                                       task.target_transform, task.trainer.standardize_targets)
        targets = _training_targets(view, task, self.scaler)
        if self.base in ("lyra", "ridge_pairs"):  # the pair screen sees the training rows only
            train_rows = self.parts["train"]
            train_onehot = inputs.subset(train_rows)
            self.options = models.resolve_pair_head(self.options, train_onehot, train_onehot.mask,
                                                    targets[train_rows].numpy(), task.task_type)
        self.sets = {name: _encoded_set(self.x, self.mask, targets, rows) for name, rows in self.parts.items()}
        seed_everything(task.trainer.seed)
        self.model = models.build(self.base, self.x.shape[-1], len(classes) if classes else 1, self.options,
                                  task.task_type)


def fit_on_rows(rows: pd.DataFrame, task: Task, model_name: str = "lyra", variants: dict | None = None,
                epoch_callback=None) -> tuple[float, int | None]:
    """Fit ``model_name`` on the train rows of a fold view that holds train and valid rows
    only (a tuning trial); returns the network's best validation score and the epoch at
    which ``epoch_callback`` stopped it (None when it ran to the end)."""
    if set(rows["split"]) - {"train", "valid"}:
        raise ValueError("fit_on_rows takes train and valid rows only")
    fold_fit = FoldFit(rows, task, class_labels(task, rows), model_name, variants)
    if fold_fit.base in ("ridge", "ridge_pairs"):
        raise ValueError(f"tuning searches the options of a neural model, not {fold_fit.base}")
    report = fold_fit.model.fit(fold_fit.sets["train"], fold_fit.sets["valid"], task.task_type, fold_fit.trainer,
                                progress=False, epoch_callback=epoch_callback)
    return report.best_score, report.stopped_by_callback


def train_fold(
    prepared: pd.DataFrame,
    task: Task,
    fold: int,
    out_dir: str | Path,
    model_name: str = "lyra",
    device: str | None = None,
    progress: bool = True,
    variants: dict | None = None,
    inputs: CodedInputs | None = None,
) -> dict:
    """Train ``model_name`` on fold ``fold`` of ``prepared`` and write its outputs to ``out_dir``.

    ``inputs``: the sequences of ``prepared``'s rows as ``CodedInputs`` when ``prepared``
    holds no sequence column (``lyra.results.read_prepared_coded``: one byte per position
    instead of the text); the predictions file gets them back as text, block by block.

    ``variants`` defines named model variants (see ``Task.model_options``). The
    Transformer's ``max_len``, and Lyra's when a position-specific option is on, default
    to the fold's longest sequence. Returns a
    JSON-ready summary: best epoch, validation score (None when undefined), parameter
    count, device, wall time.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    view = splits.view(prepared, fold, task.split)
    classes = class_labels(task, prepared)
    fold_fit = FoldFit(view, task, classes, model_name, variants, inputs)
    model, x, mask, encoder = fold_fit.model, fold_fit.x, fold_fit.mask, fold_fit.encoder
    base, options, parts, scaler, trainer = fold_fit.base, fold_fit.options, fold_fit.parts, fold_fit.scaler, fold_fit.trainer
    fingerprint = run_fingerprint(model_name, options, trainer.to_dict(), task.task_type, task.alphabet,
                                  task.ambiguous, task.target_transform, encoder.to_dict(), _table_hash(view, fold_fit.inputs))
    run = f"task {task.name!r}, model {model_name!r}, fold {fold}"
    try:
        report = model.fit(fold_fit.sets["train"], fold_fit.sets["valid"], task.task_type, trainer,
                           checkpoint_path=out_dir / "checkpoint.pt", fingerprint=fingerprint, device=device,
                           progress=progress, scratch_dir=out_dir)
    except TrainingDiverged as error:
        raise error.at(run) from None
    outputs = model.predict(x, mask, trainer.eval_batch_size)
    n_bad = int((~np.isfinite(outputs)).any(axis=1).sum())
    if n_bad:  # e.g. a model whose own options (onehot_linear's lr) made it diverge
        raise TrainingDiverged(run, "predictions", f"{n_bad} of {len(outputs)} rows have a non-finite output: "
                                                   "training diverged; lower the learning rate")
    with atomic_path(out_dir / "history.csv") as tmp:  # written once, so a killed run leaves no partial output
        report.history.to_csv(tmp, index=False)
    metadata = {
        "model_name": base,
        "variant": model_name,
        "model_options": options,
        "d_input": x.shape[-1],
        "encoding": encoder.to_dict(),
        "alphabet": task.alphabet,
        "ambiguous": task.ambiguous,
        "t_as_u": task.t_as_u,
        # the task's own input rules, which new sequences given to `lyra predict` must meet too
        "input_rules": {"length": task.length, "min_length": task.min_length,
                        "ambiguous_allowed": task.ambiguous_allowed},
        "task_type": task.task_type,
        "sequence_column": str(task.columns.get("sequence") or "sequence"),  # `lyra predict` reads it by default
        "classes": classes,
        "scaler": scaler.to_dict(),
    }
    tensorfile.save({**metadata, **model.state()}, out_dir / "model.pt")

    predictions = view[["id", "split"]].copy()
    predictions["fold"] = fold
    predictions["y_true"] = view["target"].to_numpy()
    add_outputs(predictions, outputs, task.task_type, classes, scaler)
    results.write_predictions(predictions, out_dir / "predictions.tsv", fold_fit.inputs)
    summary = {"model": model_name, "fold": fold, "n_train": len(parts["train"]), "n_valid": len(parts["valid"]),
               "n_test": len(parts["test"]), "device": report.device, "n_parameters": model.n_parameters(),
               "best_epoch": report.best_epoch, "best_valid_score": _finite_or_none(report.best_score)}
    if base not in ("ridge", "ridge_pairs", "onehot_linear"):
        summary["resumed_from_epoch"] = report.resumed_from_epoch
    if base == "lyra":
        summary["position_aware"] = fold_fit.position_aware
    if base in ("lyra", "ridge_pairs"):
        summary["n_pairs"] = len(options.get("pair_sites") or [])
    if base in MODULES:  # what the network ran with; best_epoch above is the trained epoch kept
        summary["model_options"] = options
        summary["trainer"] = trainer.to_dict()
    summary["train_seconds"] = time.perf_counter() - started
    log.info("fold %d of %s done in %.1f s", fold, model_name, summary["train_seconds"])
    return summary
