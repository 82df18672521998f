"""Ensembles of trained models: several model.pt files (e.g. a task's folds) predicting
together, the mean as the prediction and the spread across members as its uncertainty.

``model_files`` expands model sources (a model.pt, or a directory holding one or
``<member>/model.pt`` such as ``results/<task>/<model>/fold*/model.pt``);
``load_ensemble`` loads them and checks they predict the same thing; ``Ensemble.predict``
scores sequences with every member, in chunks, so that millions of mutants fit in memory.

Regression members predict values in the target's units; classification members predict
class probabilities, and the ensemble averages the probabilities. The spread is the
population standard deviation (ddof = 0) across members, so it is 0 for one model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lyra.config import Task
from lyra.errors import LyraInputError
from lyra.metrics import calibration
from lyra.results import evaluate_task

# lyra.models.saved and lyra.nn.devices (torch, the models) are imported where members predict, so
# that scoring saved predictions (evaluate_members, one workflow job per task and model)
# starts without torch

CHUNK_LETTERS = 2_000_000  # sequences x length encoded at once (protein: 160 MB of one-hot)


def model_files(sources: list[str | Path]) -> list[Path]:
    """Every model.pt named by ``sources``: files as given, a directory's own model.pt,
    else its ``*/model.pt`` (sorted); a source with none is an error."""
    found = []
    for source in sources:
        path = Path(source)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            inside = [path / "model.pt"] if (path / "model.pt").is_file() else sorted(path.glob("*/model.pt"))
            if not inside:
                raise LyraInputError(path, "directory",
                                     "holds no model.pt and no <member>/model.pt (e.g. fold0/model.pt)")
            found.extend(inside)
        else:
            raise LyraInputError(path, "file", "no such model file or directory")
    if not found:
        raise ValueError("no model given")
    return found


def member_names(paths: list[Path]) -> list[str]:
    """Short unique member names: the folder of each model.pt (fold0, fold1, ...) or m0, m1, ..."""
    names = [p.parent.name or p.stem for p in paths]
    return names if len(set(names)) == len(names) else [f"m{i}" for i in range(len(paths))]


@dataclass
class EnsemblePrediction:
    """Member outputs and their summary. ``members`` is (m, n) for regression (values) and
    (m, n, C) for classification (probabilities); ``mean``/``std`` reduce over members."""

    members: np.ndarray
    names: list[str]
    classes: list | None

    @property
    def mean(self) -> np.ndarray:
        return self.members.mean(axis=0)

    @property
    def std(self) -> np.ndarray:
        return self.members.std(axis=0)


class Ensemble:
    """Models that predict the same target (same alphabet, task type and classes)."""

    def __init__(self, models: list, metas: list[dict], names: list[str]):
        self.models, self.metas, self.names = models, metas, names
        first = metas[0]
        for name, meta in zip(names, metas):
            for key in ("alphabet", "task_type", "classes", "input_rules"):
                if meta.get(key) != first.get(key):
                    raise ValueError(f"ensemble member {name} has {key} {meta.get(key)!r}, "
                                     f"member {names[0]} has {first.get(key)!r}")
        self.alphabet, self.task_type = first["alphabet"], first["task_type"]
        self.ambiguous, self.t_as_u = first["ambiguous"], first.get("t_as_u", False)
        self.classes = first["classes"]
        # length / min_length / ambiguous_allowed of the task (model files from before: none)
        self.input_rules = first.get("input_rules") or {}
        # the training file's sequence column, the default of `lyra predict` (older model files: none)
        self.sequence_column = first.get("sequence_column")

    def __len__(self) -> int:
        return len(self.models)

    def unscorable_reason(self, sequences: list[str]) -> str | None:
        """Why some member cannot score ``sequences`` (e.g. ridge beyond its length), else None."""
        for name, model in zip(self.names, self.models):
            reason = model.unscorable_reason(sequences)
            if reason:
                return f"member {name}: {reason}"
        return None

    def predict(self, sequences: list[str], device: str | None = None,
                ids: list[str] | None = None) -> EnsemblePrediction:
        """Every member's prediction for normalised ``sequences`` (``ids``: their record ids,
        for encodings keyed by id), encoded in chunks of about CHUNK_LETTERS letters;
        ValueError when a member cannot score them."""
        from lyra.nn.devices import select_device

        reason = self.unscorable_reason(sequences)
        if reason:
            raise ValueError(reason)
        device = str(select_device(device))  # once: a GPU claim per chunk would be wasted work
        longest = max((len(s) for s in sequences), default=1)
        chunk = max(1, CHUNK_LETTERS // longest)
        batch = max(1, min(1024, 262_144 // longest))
        ids = list(ids) if ids is not None else [""] * len(sequences)
        parts = [self._predict_chunk(sequences[i:i + chunk], ids[i:i + chunk], batch, device)
                 for i in range(0, len(sequences), chunk)]
        shape = (len(self), 0, len(self.classes)) if self.classes else (len(self), 0)
        members = np.concatenate(parts, axis=1) if parts else np.zeros(shape)
        return EnsemblePrediction(members, self.names, self.classes)

    def _predict_chunk(self, sequences: list[str], ids: list[str], batch_size: int, device: str | None) -> np.ndarray:
        from lyra.models.saved import predict_sequences

        outputs = []
        for model, meta in zip(self.models, self.metas):
            frame = predict_sequences(model, meta, sequences, batch_size=batch_size, device=device, ids=ids)
            if self.classes:
                outputs.append(frame[[f"prob_{c}" for c in self.classes]].to_numpy(dtype=np.float64))
            else:
                outputs.append(frame["y_pred"].to_numpy(dtype=np.float64))
        return np.stack(outputs)

    def score_index(self, score_class: str | None = None) -> int | None:
        """Which class probability is the score of a classifier: ``score_class``, by
        default the last class (the positive one of a binary task); None for regression."""
        if not self.classes:
            if score_class is not None:
                raise ValueError("--score-class applies to classification models only")
            return None
        if score_class is None:
            return len(self.classes) - 1
        if str(score_class) not in map(str, self.classes):
            raise ValueError(f"score class {score_class!r} is not one of the model's classes {self.classes}")
        return [str(c) for c in self.classes].index(str(score_class))

    def substitution_scores(self, reference: str, positions: list[int], letters: list[str],
                            score_class: str | None = None, device: str | None = None) -> np.ndarray:
        """Each member's score, (m, 1 + n), of the normalised ``reference`` (column 0) and of
        its single substitutions (``positions`` 0-based, new ``letters``). A member with a
        fast path (``lyra.models.saved.predict_substitutions``: Lyra) uses it, the others score
        the mutated sequences; both give the scores of ``scores``."""
        from lyra.nn.devices import select_device
        from lyra.models.saved import predict_substitutions

        device = str(select_device(device))
        base = self.scores([reference], score_class, device)
        index = self.score_index(score_class)
        column = "y_pred" if index is None else f"prob_{self.classes[index]}"
        members, sequences = [], None
        for model, meta, name in zip(self.models, self.metas, self.names):
            frame = predict_substitutions(model, meta, reference, positions, letters, device)
            if frame is not None:
                members.append(frame[column].to_numpy(dtype=np.float64))
                continue
            if sequences is None:
                sequences = [reference[:p] + m + reference[p + 1:] for p, m in zip(positions, letters)]
            members.append(Ensemble([model], [meta], [name]).scores(sequences, score_class, device)[0])
        return np.concatenate([base, np.stack(members)], axis=1)

    def scores(self, sequences: list[str], score_class: str | None = None,
               device: str | None = None) -> np.ndarray:
        """One scalar score per member and sequence, shape (m, n): the prediction
        (regression) or the probability of ``score_class`` (see ``score_index``)."""
        members = self.predict(sequences, device).members
        index = self.score_index(score_class)
        return members if index is None else members[:, :, index]


def load_ensemble(sources: list[str | Path]) -> Ensemble:
    """The ensemble of every model.pt named by ``sources`` (see ``model_files``)."""
    from lyra.models.saved import load_model

    paths = model_files(sources)
    loaded = [load_model(p) for p in paths]
    return Ensemble([m for m, _ in loaded], [meta for _, meta in loaded], member_names(paths))


def prediction_table(prediction: EnsemblePrediction) -> pd.DataFrame:
    """Per sequence: the ensemble mean and std and each member's prediction.

    Regression: ``y_pred`` (mean), ``y_std``, ``y_pred_<member>``. Classification:
    ``prob_<class>`` (mean probability), ``prob_<class>_std``, ``y_pred`` (class index of
    the highest mean probability), ``prob_<class>_<member>``. Members are listed only for
    an ensemble of more than one model."""
    columns = {}
    many = len(prediction.names) > 1
    if prediction.classes:
        mean, std = prediction.mean, prediction.std
        for i, name in enumerate(prediction.classes):
            columns[f"prob_{name}"] = mean[:, i]
            columns[f"prob_{name}_std"] = std[:, i]
        columns["y_pred"] = mean.argmax(axis=1)
        if many:
            for i, name in enumerate(prediction.classes):
                for member, values in zip(prediction.names, prediction.members):
                    columns[f"prob_{name}_{member}"] = values[:, i]
    else:
        columns["y_pred"], columns["y_std"] = prediction.mean, prediction.std
        if many:
            for member, values in zip(prediction.names, prediction.members):
                columns[f"y_pred_{member}"] = values
    return pd.DataFrame(columns)


def evaluate_members(predictions: list[pd.DataFrame], task: Task, n_boot: int = 1000, seed: int = 0) -> dict:
    """The ``ensemble`` block of metrics.json for models trained on the same split with
    different seeds (``trainer.n_seeds``): member count, the metrics of the ensemble mean
    (``lyra.results.evaluate_task``; classifiers: mean probabilities) and, for
    regression, ``lyra.metrics.calibration`` of its std on the valid and test rows."""
    first = predictions[0]
    for other in predictions[1:]:
        if list(other["id"]) != list(first["id"]):
            raise ValueError("ensemble members' predictions must list the same rows in the same order")
    frame = first[["id", "sequence", "split", "fold", "y_true"]].copy()
    classes = list(task.classes) if task.classes else sorted(c[5:] for c in first.columns if c.startswith("prob_"))
    if task.is_classification:
        columns = [f"prob_{c}" for c in classes]
        member = EnsemblePrediction(np.stack([p[columns].to_numpy(dtype=float) for p in predictions]),
                                    [str(i) for i in range(len(predictions))], classes)
        for i, column in enumerate(columns):
            frame[column] = member.mean[:, i]
        frame["y_pred"] = member.mean.argmax(axis=1)
    else:
        member = EnsemblePrediction(np.stack([p["y_pred"].to_numpy(dtype=float) for p in predictions]),
                                    [str(i) for i in range(len(predictions))], None)
        frame["y_pred"] = member.mean
    result = {"n_members": len(predictions), **evaluate_task(frame, task, n_boot=n_boot, seed=seed)}
    if not task.is_classification:
        parts = {name: (frame["split"] == name).to_numpy() for name in ("valid", "test")}
        result["calibration"] = calibration(*[(frame["y_true"].to_numpy()[rows], member.mean[rows], member.std[rows])
                                              for rows in parts.values()])
    return result
