"""The one reader and writer of the workflow's result files (docs/architecture.md).

- ``prepared.tsv``: id, sequence, target, [label,] group, fold, split;
- ``predictions.tsv``: id, sequence, split, fold, y_true, y_pred[, prob_<class>];
- ``mutagenesis.tsv`` and variant scores: any table through ``write_table``;
- ``metrics.json`` / ``external_<name>.json``, ``train.json``, ``leakage.json``: strict
  JSON (an undefined number is null, never NaN).

``evaluate_task`` is the evaluate-and-record step shared by rule ``evaluate``, rule
``external_test`` and ``lyra train``.
"""

from __future__ import annotations

import json
from pathlib import Path

from typing import TYPE_CHECKING

import pandas as pd

from lyra.io.atomic import atomic_path
from lyra.config import Task
from lyra.metrics import evaluate_predictions, undefined_value

if TYPE_CHECKING:  # torch is imported only by the readers that need it: most jobs never do
    from lyra.data.encode import CodedInputs

_TEXT_COLUMNS = {"id": str, "sequence": str, "label": str, "group": str, "split": str}


def read_prepared(path: str | Path) -> pd.DataFrame:
    """A prepared table; text columns stay text (an empty split or group is '')."""
    return pd.read_csv(path, sep="\t", dtype=_TEXT_COLUMNS, keep_default_na=False)


def _sequence_blocks(path: str | Path, letters: int, **read):
    """The prepared table at ``path`` in blocks of rows of about ``letters`` letters each,
    with ``read`` passed to ``pandas.read_csv``."""
    with pd.read_csv(path, sep="\t", dtype=_TEXT_COLUMNS, keep_default_na=False, iterator=True, **read) as reader:
        rows = 256
        while True:
            try:
                chunk = reader.get_chunk(rows)
            except StopIteration:
                return
            n_letters = int(chunk["sequence"].str.len().sum())
            yield chunk
            rows = max(1, letters * len(chunk) // max(1, n_letters))


def read_prepared_coded(path: str | Path, alphabet: str, ambiguous: str,
                        letters: int = 1 << 24) -> tuple[pd.DataFrame, CodedInputs]:
    """A prepared table without its sequence column, and the sequences as
    ``lyra.data.encode.CodedInputs`` (one byte per position). Two passes of about ``letters``
    letters at a time (the other columns and each sequence's length, then the sequences
    into their place), so neither the text of every sequence nor a second copy of the
    codes is ever held."""
    import torch

    from lyra.data.encode import CodedInputs, code_table, letter_codes

    tables, width = [], 0
    for chunk in _sequence_blocks(path, letters):
        width = max(width, int(chunk.pop("sequence").str.len().max()))
        tables.append(chunk)
    table = pd.concat(tables, ignore_index=True)
    codes = torch.empty((len(table), width), dtype=torch.uint8)
    start = 0
    for chunk in _sequence_blocks(path, letters, usecols=["sequence"]):
        codes[start:start + len(chunk)] = letter_codes(chunk["sequence"].tolist(), alphabet, ambiguous, width)
        start += len(chunk)
    return table, CodedInputs(codes, code_table(alphabet, ambiguous))


def write_prepared(table: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.9g")


def read_predictions(*paths: str | Path) -> pd.DataFrame:
    """One or more predictions tables, concatenated. Text columns are read as written (an
    id or sequence such as "NA" stays text); an empty number (an unscored row) is NaN."""
    frames = []
    for path in paths:
        frame = pd.read_csv(path, sep="\t", dtype=_TEXT_COLUMNS, keep_default_na=False)
        for column in frame.columns.difference(list(_TEXT_COLUMNS)):
            if frame[column].dtype == object:
                frame[column] = pd.to_numeric(frame[column].replace("", float("nan")))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """A result table as TSV (9 significant digits), written atomically: predictions, and
    the mutagenesis and variant-score tables of ``lyra.analysis.mutagenesis`` / ``lyra.analysis.variants``."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format="%.9g")


def write_predictions(frame: pd.DataFrame, path: str | Path, inputs: CodedInputs | None = None) -> None:
    """A predictions table; with ``inputs`` (the rows' sequences as ``CodedInputs``) the
    sequence column is decoded and written a block of rows at a time, as the second column."""
    if inputs is None:
        write_table(frame, path)
        return
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        for block in inputs.blocks() or [slice(0, 0)]:
            part = frame.iloc[block].copy()
            part.insert(1, "sequence", inputs.sequences(block))
            part.to_csv(handle, sep="\t", index=False, header=block.start == 0, float_format="%.9g")


def read_json(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def write_json(obj: dict, path: str | Path) -> None:
    """Strict JSON (NaN is refused: undefined numbers must already be null)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, allow_nan=False) + "\n")


def test_value(metrics: dict) -> float | None:
    """The main metric on the (pooled) test rows of a metrics file; None when undefined."""
    return metrics["splits"]["test"]["value"]["value"]


def evaluate_task(predictions: pd.DataFrame, task: Task, n_boot: int = 1000, seed: int = 0,
                  source: str = "predictions") -> dict:
    """``lyra.metrics.evaluate_predictions`` with the task's type, main metric, classes and
    k-fold headline (``task.kfold_aggregate``)."""
    classes = list(task.classes) if task.classes else None
    return evaluate_predictions(predictions, task.task_type, task.metric, classes, n_boot=n_boot, seed=seed,
                                source=source, kfold_aggregate=task.kfold_aggregate)


def unscored_evaluation(task: Task, n_test: int, reason: str) -> dict:
    """The ``evaluate_task`` result for a test set that a model cannot score: the main
    metric undefined with ``reason``, and no interval."""
    value = undefined_value(reason).to_json()
    return {
        "metric": task.metric,
        "task_type": task.task_type,
        "classes": list(task.classes) if task.classes else None,
        "splits": {
            "test": {
                "n": int(n_test),
                "value": value,
                "metrics": {task.metric: value},
                "ci": {"low": None, "high": None, "level": 0.95, "n_boot": 0, "n_undefined": 0},
            }
        },
    }
