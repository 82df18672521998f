"""Turn one task's input files into the record table (docs/architecture.md)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from lyra.config import SPLIT_NAMES, Task, split_files
from lyra.data.encode import normalise_sequences
from lyra.errors import LyraInputError
from lyra.io import read_bed_regions, read_fasta, read_table

log = logging.getLogger(__name__)

_SEPARATORS = {"csv": ",", "tsv": "\t"}


# ---------------------------------------------------------------- inputs
def input_paths(task: Task, data_root: Path) -> list[Path]:
    """The task's input files (one path, or the fixed split files)."""
    spec = task.input
    if spec.get("files"):
        return [Path(data_root) / e["path"] for e in split_files(spec).values()]
    return [Path(data_root) / spec["path"]]


# ---------------------------------------------------------------- labels
def label_key(value) -> str:
    """Canonical spelling of a class label or split value: '1.0' ~ 1, yes/true ~ True."""
    text = str(value).strip()
    if text.lower() in ("true", "yes"):
        return "True"
    if text.lower() in ("false", "no"):
        return "False"
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _sorted_labels(keys) -> list[str]:
    keys = sorted(set(keys))
    try:
        return sorted(keys, key=float)
    except ValueError:
        return keys


# ---------------------------------------------------------------- reading
def _require_column(table: pd.DataFrame, column: str, source: str, task_name: str, key: str) -> None:
    if column not in table.columns:
        # leave out what lyra added: _where, and the FASTA/BED readers' line and description
        internal = set(table.attrs.get("reader_columns", ()))
        available = ", ".join(str(c) for c in table.columns if not str(c).startswith("_") and c not in internal)
        raise LyraInputError(
            source, f"task '{task_name}', key {key}",
            f"column '{column}' not found; available columns: {available}",
        )


def _read_one(path: Path, task: Task, columns: dict, data_root: Path) -> pd.DataFrame:
    """Raw rows of one input file with a ``_where`` column locating each row."""
    spec, task_name = task.input, task.name
    fmt = spec["format"]
    if fmt in _SEPARATORS:
        table = read_table(path, sep=_SEPARATORS[fmt], header=spec.get("header", True),
                           column_names=spec.get("column_names"))
        first = table.attrs["first_data_line"]
        table["_where"] = [f"line {i + first}" for i in table.index]
        return table.reset_index(drop=True)
    if fmt == "fasta":
        table = read_fasta(path)
        table.attrs["reader_columns"] = ["line", "description"]
        table["_where"] = [f"record '{i}' (line {n})" for i, n in zip(table["id"], table["line"])]
        key = spec.get("fasta_label_key")
        if key:
            if key not in table.columns:
                table[key] = np.nan
            missing = table[key].isna()
            if missing.any():
                row = table[missing].iloc[0]
                raise LyraInputError(
                    path, row["_where"],
                    f"header has no '{key}=' token (input.fasta_label_key); {int(missing.sum())} records lack it",
                )
        if spec.get("labels_table"):
            table = _join_labels_table(table, data_root / spec["labels_table"], columns, task_name)
        return table
    if fmt == "bed":
        if not spec.get("genome"):
            raise LyraInputError(path, f"task '{task_name}', key input.genome", "bed input needs a genome FASTA")
        table = read_bed_regions(path, data_root / spec["genome"],
                                 extra_names=spec.get("column_names"),
                                 require_strand=spec.get("require_strand", False))
        table.attrs["reader_columns"] = ["line"]
        table["_where"] = [f"line {n}" for n in table["line"]]
        return table
    raise LyraInputError(path, f"task '{task_name}', key input.format", f"unknown format {fmt!r}")


def _join_labels_table(fasta: pd.DataFrame, path: Path, columns: dict, task_name: str) -> pd.DataFrame:
    labels = read_table(path)
    id_column = columns.get("id") or "id"
    _require_column(labels, id_column, str(path), task_name, "columns.id")
    target = columns["target"]
    _require_column(labels, target, str(path), task_name, "columns.target")
    labels = labels.set_index(labels[id_column].astype(str))
    missing = ~fasta["id"].isin(labels.index)
    if missing.any():
        row = fasta[missing].iloc[0]
        raise LyraInputError(
            fasta.attrs["source"], row["_where"],
            f"id not in the labels table {path} ({int(missing.sum())} records missing)",
        )
    fasta[target] = labels.loc[fasta["id"], target].to_numpy()
    return fasta


def _apply_filter(table: pd.DataFrame, rule: dict | None, source: str, task_name: str) -> pd.DataFrame:
    if not rule:
        return table
    _require_column(table, rule["column"], source, task_name, "input.filter.column")
    keep = table[rule["column"]].map(label_key) == label_key(rule["equals"])
    log.info("%s: filter %s == %r removed %d of %d rows",
             source, rule["column"], rule["equals"], int((~keep).sum()), len(table))
    return table[keep].reset_index(drop=True)


def _crop(sequences: pd.Series, crop: dict | None, source: str) -> pd.Series:
    if not crop:
        return sequences
    start, end = crop.get("start", 0), crop.get("end")
    short = sequences.str.len() < (end if end is not None else 0)
    if short.any():
        log.info("%s: %d sequences are shorter than the crop end %s; kept what the window covers",
                 source, int(short.sum()), end)
    log.info("%s: cropped every sequence to [%s, %s)", source, start, end)
    return sequences.str.slice(start, end)


def _regression_targets(raw: pd.Series, wheres: pd.Series, source: str, column: str) -> np.ndarray:
    values = pd.to_numeric(raw, errors="coerce").astype(float)
    bad = ~np.isfinite(values.to_numpy())
    if bad.any():
        i = int(np.argmax(bad))
        text = raw.iloc[i]
        if pd.isna(text):
            problem = (f"target column '{column}' has no value (an empty cell or a missing-value mark "
                       "such as NA, n/a or NaN)")
        elif not math.isnan(values.iloc[i]):
            problem = f"target {text!r} in column '{column}' is not finite"
        else:
            problem = f"target {text!r} in column '{column}' is not a number"
        raise LyraInputError(source, wheres.iloc[i], problem + f" ({int(bad.sum())} bad rows)")
    return values.to_numpy()


def _class_targets(raw: pd.Series, wheres: pd.Series, source: str, classes: list[str]) -> np.ndarray:
    keys = raw.map(lambda v: None if pd.isna(v) else label_key(v))
    index = {label_key(c): i for i, c in enumerate(classes)}
    codes = keys.map(index)
    bad = codes.isna()
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        label = raw.iloc[i]
        problem = "class label is missing" if pd.isna(label) else f"unknown class label {label!r}"
        raise LyraInputError(source, wheres.iloc[i], f"{problem}; classes are {', '.join(map(str, classes))}")
    return codes.astype(int).to_numpy()


def _split_from_column(table: pd.DataFrame, split: dict, source: str, task_name: str) -> pd.Series:
    column = split["column"]
    _require_column(table, column, source, task_name, "split.column")
    mapping = split.get("values") or {name: [name] for name in SPLIT_NAMES}
    lookup = {label_key(v): name for name, values in mapping.items() for v in values}
    keys = table[column].map(lambda v: "" if pd.isna(v) else label_key(v))
    result = keys.map(lookup)
    unexpected = result.isna()
    if unexpected.any():
        values = sorted(set(table.loc[unexpected, column].astype(str)))
        raise LyraInputError(
            source, table["_where"][unexpected].iloc[0],
            f"split column '{column}' has unexpected values {values}; split.values maps {sorted(lookup)}",
        )
    return result


def _apply_valid_column(table: pd.DataFrame, splits: pd.Series, column: str, source: str, task_name: str) -> pd.Series:
    _require_column(table, column, source, task_name, "split.valid_column")
    keys = table[column].map(lambda v: "False" if pd.isna(v) else label_key(v))
    odd = ~keys.isin(["True", "False"])
    if odd.any():
        raise LyraInputError(source, table["_where"][odd].iloc[0],
                             f"valid column '{column}' reads {table[column][odd].iloc[0]!r}, not True/False/empty")
    marked = keys == "True"
    in_test = marked & (splits == "test")
    if in_test.any():
        raise LyraInputError(source, table["_where"][in_test].iloc[0],
                             f"row is marked valid by '{column}' but is in the test split")
    log.info("%s: %d rows marked valid by column '%s'", source, int(marked.sum()), column)
    return splits.mask(marked, "valid")


def _fold_column(table: pd.DataFrame, column: str, source: str, task_name: str) -> np.ndarray:
    _require_column(table, column, source, task_name, "split.column")
    folds = pd.to_numeric(table[column], errors="coerce")
    bad = folds.isna() | (folds % 1 != 0) | (folds < 0)
    if bad.any():
        raise LyraInputError(source, table["_where"][bad].iloc[0],
                             f"fold column '{column}' reads {table[column][bad].iloc[0]!r}, not an integer >= 0")
    return folds.astype(int).to_numpy()


def _records_from_file(path: Path, task: Task, columns: dict, data_root: Path, file_split: str | None) -> pd.DataFrame:
    source, task_name = str(path), task.name
    table = _apply_filter(_read_one(path, task, columns, data_root), task.input.get("filter"), source, task_name)
    if table.empty:
        raise LyraInputError(path, f"task '{task_name}'", "no rows left after the filter")
    fmt = task.input["format"]
    seq_column = "sequence" if fmt in ("fasta", "bed") else columns.get("sequence", "sequence")
    target_column = task.input.get("fasta_label_key") or columns.get("target", "target")
    _require_column(table, seq_column, source, task_name, "columns.sequence")
    _require_column(table, target_column, source, task_name, "columns.target")

    records = pd.DataFrame(index=table.index)
    if fmt in ("fasta", "bed"):
        records["id"] = table["id"].astype(str)
    elif columns.get("id"):
        _require_column(table, columns["id"], source, task_name, "columns.id")
        records["id"] = table[columns["id"]].astype(str)
    records["_where"] = table["_where"]
    records["_source"] = source
    sequences = _crop(table[seq_column].fillna("").astype(str), task.crop, source)
    records["sequence"], _ = normalise_sequences(
        sequences.tolist(), records.get("id", records["_where"]).tolist(), task.alphabet,
        ambiguous=task.ambiguous, t_as_u=task.t_as_u,
        source=source, max_length=task.max_length, locations=records["_where"].tolist(),
        min_length=task.min_length, length=task.length, ambiguous_allowed=task.ambiguous_allowed,
    )
    records["_raw_target"] = table[target_column]
    records["_target_column"] = target_column
    if columns.get("group"):
        _require_column(table, columns["group"], source, task_name, "columns.group")
        groups = table[columns["group"]].fillna("").astype(str)
        empty = groups.str.strip() == ""
        if empty.any():
            raise LyraInputError(
                source, table["_where"][empty].iloc[0],
                f"group column '{columns['group']}' is empty (columns.group is set, so every row needs "
                f"a group); {int(empty.sum())} rows lack one",
            )
        records["group"] = groups
    else:
        records["group"] = ""
    split = task.split
    if file_split is not None:
        records["split"] = file_split
    elif split.get("scheme") == "column":
        records["split"] = _split_from_column(table, split, source, task_name)
    if split.get("valid_column"):
        if "split" not in records:
            records["split"] = "train"
        records["split"] = _apply_valid_column(table, records["split"], split["valid_column"], source, task_name)
    if split.get("scheme") == "kfold_column":
        records["fold"] = _fold_column(table, split["column"], source, task_name)
    for column in ("chrom", "start", "end", "strand"):
        if column in table:
            records[column] = table[column]
    return records


def load_records(task: Task, data_root: str | Path) -> pd.DataFrame:
    """Read, filter, map, crop and validate one task's input into the record table.

    Columns: id, sequence, target, group, and where the input defines them split, fold,
    chrom/start/end/strand. For classification ``target`` is the class index and
    ``label`` the class name (see ``class_labels``). Bad input raises LyraInputError.
    """
    task_name = task.name
    data_root = Path(data_root)
    files = split_files(task.input)
    if files:
        bad = sorted(set(files) - set(SPLIT_NAMES))
        if bad:
            raise LyraInputError("config", f"task '{task_name}', key input.files",
                                 f"split names {bad} are not train/valid/test")
        parts = [
            _records_from_file(data_root / entry["path"], task, {**task.columns, **entry["columns"]}, data_root, name)
            for name, entry in files.items()
        ]
    else:
        parts = [_records_from_file(data_root / task.input["path"], task, task.columns, data_root, None)]
    records = pd.concat(parts, ignore_index=True)
    if "id" not in records or records["id"].isna().any():
        records["id"] = [f"{task_name}_{i}" for i in range(len(records))]

    dup = records["id"].duplicated(keep=False)
    if dup.any():
        first_id = records.loc[dup, "id"].iloc[0]
        rows = records[records["id"] == first_id]
        raise LyraInputError(
            rows["_source"].iloc[1], rows["_where"].iloc[1],
            f"duplicate id '{first_id}' (also at {rows['_source'].iloc[0]} {rows['_where'].iloc[0]}); "
            f"{int(records['id'].duplicated().sum())} duplicates in all",
        )

    if not task.is_classification:
        target = np.concatenate([
            _regression_targets(p["_raw_target"], p["_where"], p["_source"].iloc[0], p["_target_column"].iloc[0])
            for _, p in records.groupby("_source", sort=False)
        ])
        if len(target) and np.all(target == target[0]):
            raise LyraInputError(
                ", ".join(records["_source"].unique()),
                f"task '{task_name}', column '{records['_target_column'].iloc[0]}'",
                f"every target is {target[0]:g} ({len(target)} rows): a constant target leaves nothing to learn",
            )
        records["target"] = target
    else:
        classes = list(task.classes) if task.classes else _sorted_labels(records["_raw_target"].dropna().map(label_key))
        if not task.classes:
            log.info("task %s: inferred classes %s", task_name, classes)
        if task.task_type == "binary" and len(classes) != 2:
            raise LyraInputError(records["_source"].iloc[0], f"task '{task_name}', key classes",
                                 f"binary task needs exactly 2 classes, found {classes}")
        records["target"] = np.concatenate([
            _class_targets(p["_raw_target"], p["_where"], p["_source"].iloc[0], classes)
            for _, p in records.groupby("_source", sort=False)
        ])
        records["label"] = [str(classes[i]) for i in records["target"]]
    order = ["id", "sequence", "target", "label", "group", "split", "fold", "chrom", "start", "end", "strand"]
    records = records[[c for c in order if c in records.columns]].copy()
    records.attrs["source"] = ", ".join(str(p) for p in input_paths(task, data_root))
    log.info("task %s: %d records", task_name, len(records))
    return records


def class_labels(task: Task, table: pd.DataFrame) -> list[str] | None:
    """Class names in index order for a classification task, else None: the config's
    ``classes`` when given, otherwise the names a record or prepared table carries in its
    ``label`` column (inferred, sorted, when the input was read)."""
    if not task.is_classification:
        return None
    if task.classes:
        return list(task.classes)
    names = [str(i) for i in range(int(table["target"].max()) + 1)]
    for index, label in table[["target", "label"]].drop_duplicates().itertuples(index=False):
        names[int(index)] = str(label)
    return names
