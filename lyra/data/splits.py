"""Assign train/valid/test splits and folds to a record table (docs/architecture.md)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, GroupShuffleSplit

from lyra.config import KFOLD_SCHEMES, SPLIT_NAMES, kfold_valid, task_default
from lyra.errors import LyraInputError

log = logging.getLogger(__name__)


def _valid_fraction(spec: dict) -> float:
    """``split.valid_fraction``, or its schema default."""
    return float(spec.get("valid_fraction", task_default("split", "valid_fraction")))


def _fail(records: pd.DataFrame, name: str, problem: str) -> LyraInputError:
    return LyraInputError(records.attrs.get("source", "<records>"), f"task '{name}'", problem)


def _has_groups(records: pd.DataFrame) -> bool:
    return "group" in records and (records["group"].astype(str) != "").any()


def _carve_valid(records: pd.DataFrame, pool: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask over ``records`` of a seeded ``fraction`` of the ``pool`` rows (grouped when possible)."""
    chosen = np.zeros(len(records), dtype=bool)
    rows = np.flatnonzero(pool)
    if fraction <= 0 or rows.size < 2:
        return chosen
    if _has_groups(records):
        groups = records["group"].to_numpy()[rows]
        if np.unique(groups).size < 2:
            return chosen
        splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        _, picked = next(splitter.split(rows, groups=groups))
    else:
        rng = np.random.default_rng(seed)
        picked = rng.permutation(rows.size)[: max(1, round(fraction * rows.size))]
    chosen[rows[picked]] = True
    return chosen


def _block_splits(records: pd.DataFrame, fractions: list[float]) -> np.ndarray:
    """Genome blocks: sort by (chrom, start); the last test fraction is test, the block before it valid."""
    if "chrom" not in records or "start" not in records:
        raise ValueError("genome_blocks needs chrom and start columns (BED input)")
    order = np.lexsort((records["start"].astype(int).to_numpy(), records["chrom"].astype(str).to_numpy()))
    n = len(records)
    n_test = round(fractions[2] / sum(fractions) * n)
    n_valid = round(fractions[1] / sum(fractions) * n)
    labels = np.empty(n, dtype=object)
    labels[order[: n - n_test - n_valid]] = "train"
    labels[order[n - n_test - n_valid : n - n_test]] = "valid"
    labels[order[n - n_test :]] = "test"
    return labels


def random_splits(n: int, fractions: list[float], seed: int) -> np.ndarray:
    """Seeded train/valid/test label per row, in shares ``fractions``."""
    shares = np.asarray(fractions, dtype=float) / sum(fractions)
    cuts = np.round(np.cumsum(shares)[:-1] * n).astype(int)
    labels = np.empty(n, dtype=object)
    for name, part in zip(SPLIT_NAMES, np.split(np.random.default_rng(seed).permutation(n), cuts)):
        labels[part] = name
    return labels


def _group_random_splits(groups: np.ndarray, fractions: list[float], seed: int, carve_valid: bool) -> np.ndarray:
    """Whole groups to test, then valid, then train: the groups in a seeded order, each part
    taking groups while that brings its row count closer to its share, keeping at least one
    group for every part with a share. Fewer groups than parts to fill (counting a valid
    part carved from train groups when valid has no share and ``carve_valid``) raise ValueError."""
    shares = np.asarray(fractions, dtype=float) / sum(fractions)
    names, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    needed = [name for name, share in zip(SPLIT_NAMES, shares) if share > 0]
    parts = [f"{name} (carved from train groups)" if name == "valid" and name not in needed else name
             for name in SPLIT_NAMES if name in needed or (name == "valid" and carve_valid)]
    if len(names) < len(parts):
        raise ValueError(
            f"{len(names)} group{'s' if len(names) != 1 else ''} cannot fill {', '.join(parts)}: "
            f"group_random sends whole groups to each part, so it needs at least {len(parts)} groups"
        )
    order = np.random.default_rng(seed).permutation(len(names))
    part = np.full(len(names), "train", dtype=object)
    n, k = len(groups), 0
    for name, share, later in (("test", shares[2], ("train", "valid")), ("valid", shares[1], ("train",))):
        if share <= 0:
            continue
        target, taken = share * n, 0
        last = len(order) - sum(p in needed for p in later)  # keep a group for each later part
        while k < last and (taken == 0 or abs(taken + sizes[order[k]] - target) < abs(taken - target)):
            part[order[k]] = name
            taken += sizes[order[k]]
            k += 1
    return part[inverse]


def _row_range_splits(n: int, ranges: dict) -> np.ndarray:
    """Split name per row from half-open ``[start, end)`` row ranges (``end`` null: to the
    last row); rows outside every range get ''. Overlapping or out-of-table ranges raise."""
    labels = np.full(n, "", dtype=object)
    for name, (start, end) in ranges.items():
        stop = n if end is None else end
        if not 0 <= start < stop <= n:
            raise ValueError(f"row range {name}: [{start}, {end}) does not fit rows 0..{n}")
        if (labels[start:stop] != "").any():
            raise ValueError(f"row range {name}: [{start}, {end}) overlaps another range")
        labels[start:stop] = name
    return labels


def _check_nonempty(splits: pd.Series, records: pd.DataFrame, name: str, fold: int | None = None,
                    need_valid: bool = True) -> None:
    counts = splits.value_counts()
    for split in SPLIT_NAMES:
        if counts.get(split, 0) == 0 and (need_valid or split != "valid"):
            where = f" in fold {fold}" if fold is not None else ""
            raise _fail(records, name, f"the split leaves no {split} rows{where} "
                        f"(counts: {', '.join(f'{k}={counts.get(k, 0)}' for k in SPLIT_NAMES)})")


def _check_classes_in_train(table: pd.DataFrame, records: pd.DataFrame, name: str, fold: int | None = None) -> None:
    """A class label in valid or test rows but in no train row is an error: the model can never learn it."""
    if "label" not in table:
        return
    in_train = set(table.loc[table["split"] == "train", "label"])
    for split in ("test", "valid"):
        rows = table[(table["split"] == split) & ~table["label"].isin(in_train)]
        if len(rows):
            label = rows["label"].iloc[0]
            n = int((rows["label"] == label).sum())
            where = f" of fold {fold}" if fold is not None else ""
            raise _fail(records, name, f"class '{label}' is in {n} {split} rows{where} (first: id "
                        f"'{rows['id'].iloc[0]}') but in no train row, so the model can never learn it")


def assign(records: pd.DataFrame, spec: dict, name: str = "task") -> pd.DataFrame:
    """The prepared table of task ``name`` with split block ``spec`` (a Task's ``split``):
    id, sequence, target, (label,) group, fold, split.

    Single-split schemes give fold 0 and a split per row (valid carved from train by
    ``split.valid_fraction`` when the scheme gives none); k-fold schemes give the row's
    test fold and an empty split (see :func:`view`). A split leaving no train, valid or
    test rows (in any fold), or a class label in valid or test rows but in no train row,
    raises LyraInputError naming the task.
    """
    scheme = spec.get("scheme")
    seed = int(spec.get("seed", 0))
    fractions = spec.get("fractions") or task_default("split", "fractions")
    prepared = records[[c for c in ("id", "sequence", "target", "label") if c in records]].copy()
    prepared["group"] = records["group"].fillna("").astype(str) if "group" in records else ""
    prepared.attrs = dict(records.attrs)

    if scheme in ("column", "files"):
        if "split" not in records:
            raise _fail(records, name, f"scheme {scheme} but the records carry no split")
        prepared["split"] = records["split"].to_numpy()
    elif scheme == "random":
        prepared["split"] = random_splits(len(records), fractions, seed)
    elif scheme == "row_ranges":
        try:
            prepared["split"] = _row_range_splits(len(records), spec.get("ranges") or {})
        except ValueError as err:
            raise _fail(records, name, str(err)) from None
        outside = prepared["split"] == ""
        if outside.any():
            log.info("task %s: %d rows outside every row range left out", name, int(outside.sum()))
            prepared = prepared[~outside].reset_index(drop=True)
    elif scheme == "group_random":
        if not _has_groups(records):
            raise _fail(records, name, "group_random needs columns.group")
        try:
            prepared["split"] = _group_random_splits(prepared["group"].to_numpy(),
                                                     fractions, seed,
                                                     _valid_fraction(spec) > 0)
        except ValueError as err:
            raise _fail(records, name, str(err)) from None
    elif scheme == "genome_blocks":
        try:
            prepared["split"] = _block_splits(records, fractions)
        except ValueError as err:
            raise _fail(records, name, str(err)) from None
    elif scheme == "kfold_column":
        if "fold" not in records:
            raise _fail(records, name, "scheme kfold_column but the records carry no fold")
        folds = records["fold"].astype(int).to_numpy()
        k = int(folds.max()) + 1
        missing = sorted(set(range(k)) - set(folds.tolist()))
        if k < 2 or missing:
            raise _fail(records, name, f"fold column must hold every fold 0..K-1 with K >= 2; "
                        f"found {sorted(set(folds.tolist()))}")
        prepared["fold"] = folds
    elif scheme == "group_kfold":
        if not _has_groups(records):
            raise _fail(records, name, "group_kfold needs columns.group")
        k = int(spec.get("n_folds", 5))
        n_groups = records["group"].nunique()
        if n_groups == 1:
            raise _fail(records, name, f"1 group cannot fill {k} folds: group_kfold keeps each group in one "
                        f"fold and each fold in turn is the test split, so with a single group no test split "
                        f"can be made (it would hold every row); columns.group needs at least {k} groups")
        if n_groups < k:
            raise _fail(records, name, f"{n_groups} groups cannot fill {k} folds: each fold in turn is the test "
                        f"split and holds whole groups, so {k - n_groups} folds would have no test rows; "
                        f"set split.n_folds to at most {n_groups}")
        splitter = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
        folds = np.empty(len(records), dtype=int)
        for fold, (_, test) in enumerate(splitter.split(records, groups=records["group"])):
            folds[test] = fold
        prepared["fold"] = folds
    else:
        raise _fail(records, name, f"unknown split scheme {scheme!r}")

    if scheme in KFOLD_SCHEMES:
        k = int(prepared["fold"].max()) + 1
        if kfold_valid(spec) == "fold" and k < 3:
            raise _fail(records, name, f"split.valid fold takes a whole fold for validation besides the test "
                        f"fold, so it needs at least 3 folds, not {k}; "
                        f"set split.valid to random or none")
        prepared["split"] = ""
        for fold in range(n_folds(prepared)):
            fold_view = view(prepared, fold, spec)
            _check_nonempty(fold_view["split"], records, name, fold, kfold_valid(spec) != "none")
            _check_classes_in_train(fold_view, records, name, fold)
    else:
        prepared["fold"] = 0
        if not (prepared["split"] == "valid").any():
            valid = _carve_valid(prepared, (prepared["split"] == "train").to_numpy(),
                                 _valid_fraction(spec), seed)
            prepared.loc[valid, "split"] = "valid"
            log.info("task %s: %d train rows moved to valid (valid_fraction %s)",
                     name, int(valid.sum()), _valid_fraction(spec))
        _check_nonempty(prepared["split"], records, name)
        _check_classes_in_train(prepared, records, name)
    columns = ["id", "sequence", "target", "label", "group", "fold", "split"]
    return prepared[[c for c in columns if c in prepared]]


def n_folds(prepared: pd.DataFrame) -> int:
    """Number of folds (1 for single-split tables)."""
    return int(prepared["fold"].max()) + 1 if (prepared["split"] == "").all() else 1


def view(prepared: pd.DataFrame, fold: int, spec: dict) -> pd.DataFrame:
    """The prepared rows with ``split`` filled in for ``fold`` (``spec``: the task's split block).

    K-fold: test = fold ``fold``; valid by ``split.valid`` (``lyra.config.kfold_valid``):
    ``fold`` - the whole fold (fold - 1) mod K, as ProteinNPT does, so validation holds
    positions (or groups) that training never sees, like the test fold; ``random`` - a
    seeded ``valid_fraction`` of the other rows (grouped when groups exist; seed =
    split.seed + fold); ``none`` - no validation rows. Train = the rest.
    Single-split tables are returned as they are (fold must be 0).
    """
    if n_folds(prepared) == 1 and not (prepared["split"] == "").all():
        if fold != 0:
            raise ValueError(f"single-split table has only fold 0, not {fold}")
        return prepared.copy()
    out = prepared.copy()
    folds = out["fold"].to_numpy()
    test = folds == fold
    mode = kfold_valid(spec)
    if mode == "fold":
        valid = folds == (fold - 1) % n_folds(prepared)
    elif mode == "random":
        valid = _carve_valid(out, ~test, _valid_fraction(spec), int(spec.get("seed", 0)) + fold)
    else:
        valid = np.zeros(len(out), dtype=bool)
    out["split"] = np.where(test, "test", np.where(valid, "valid", "train"))
    return out


def _overlap_counts(parts: dict[str, pd.Series]) -> dict:
    within = {name: int(seqs.duplicated().sum()) for name, seqs in parts.items()}
    unique = {name: set(seqs) for name, seqs in parts.items()}
    names = list(parts)
    shared = {
        f"{a}-{b}": len(unique[a] & unique[b]) for i, a in enumerate(names) for b in names[i + 1 :]
    }
    seen = set().union(*(unique[n] for n in names if n != "test"))
    return {"rows": {n: int(len(s)) for n, s in parts.items()},
            "duplicates_within": within, "sequences_shared": shared,
            "test_rows_seen_in_training": int(parts["test"].isin(seen).sum())}


def overlapping_regions(regions: pd.DataFrame, is_test: np.ndarray) -> int:
    """Number of test regions (0-based half-open chrom/start/end) that overlap at least one
    non-test region on the same chromosome (strand ignored)."""
    count = 0
    for chrom, rows in regions.groupby("chrom", sort=False):
        test = is_test[rows.index.to_numpy()]
        other = rows[~test].sort_values("start")
        if other.empty or not test.any():
            continue
        starts = other["start"].to_numpy()
        reach = np.maximum.accumulate(other["end"].to_numpy())  # furthest end among regions starting this early
        for start, end in rows.loc[test, ["start", "end"]].itertuples(index=False):
            before = np.searchsorted(starts, end, side="left")  # non-test regions starting before this end
            count += bool(before and reach[before - 1] > start)
    return count


def leakage_report(prepared: pd.DataFrame, spec: dict | None = None, regions: pd.DataFrame | None = None) -> dict:
    """Duplicate sequences within each split, distinct sequences shared across splits and
    the test rows whose sequence also occurs outside test.

    Per fold for k-fold tables (train/valid/test when the split block ``spec`` is
    given, else rest/test). With ``regions`` (id, chrom, start, end: the BED records) each fold also
    counts test regions overlapping a train or valid region. JSON-serialisable.
    """
    folds = {}
    if regions is not None:
        regions = regions.set_index("id").loc[prepared["id"], ["chrom", "start", "end"]].reset_index(drop=True)
    for fold in range(n_folds(prepared)):
        if (prepared["split"] == "").all() and spec is None:
            test = prepared["fold"] == fold
            parts = {"rest": prepared.loc[~test, "sequence"], "test": prepared.loc[test, "sequence"]}
        else:
            table = view(prepared, fold, spec or {})
            test = table["split"] == "test"
            parts = {name: table.loc[table["split"] == name, "sequence"] for name in SPLIT_NAMES}
        folds[str(fold)] = _overlap_counts(parts)
        if regions is not None:
            folds[str(fold)]["test_regions_overlapping_training"] = overlapping_regions(regions, test.to_numpy())
    return {"n_folds": len(folds), "folds": folds}
