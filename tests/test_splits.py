"""Split schemes on small synthetic record tables, checked by independent counting."""

import json

import numpy as np
import pandas as pd
import pytest

from lyra.errors import LyraInputError
from lyra.data.splits import assign, leakage_report, n_folds, view


def records(n=100, groups=None, seed=0):
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACGT"), 8)) for _ in range(n)]
    table = pd.DataFrame({"id": [f"r{i}" for i in range(n)], "sequence": seqs,
                          "target": rng.normal(size=n), "group": groups if groups is not None else ""})
    table.attrs["source"] = "synthetic.csv"
    return table


def task(**split):
    """A task's split block."""
    return split


def test_random_fractions_are_seeded():
    a = assign(records(), task(scheme="random", fractions=[0.6, 0.2, 0.2], seed=3))
    b = assign(records(), task(scheme="random", fractions=[0.6, 0.2, 0.2], seed=3))
    c = assign(records(), task(scheme="random", fractions=[0.6, 0.2, 0.2], seed=4))
    assert a["split"].value_counts().to_dict() == {"train": 60, "valid": 20, "test": 20}
    assert a["split"].tolist() == b["split"].tolist() != c["split"].tolist()
    assert list(a.columns) == ["id", "sequence", "target", "group", "fold", "split"]
    assert n_folds(a) == 1 and (a["fold"] == 0).all()


def test_valid_carved_from_train_keeps_groups_whole():
    groups = [f"g{i // 4}" for i in range(100)]
    recs = records(groups=groups)
    recs["split"] = ["test" if i >= 80 else "train" for i in range(100)]
    prepared = assign(recs, task(scheme="column", valid_fraction=0.25))
    assert (prepared["split"][80:] == "test").all()
    valid_groups = set(prepared.loc[prepared["split"] == "valid", "group"])
    train_groups = set(prepared.loc[prepared["split"] == "train", "group"])
    assert valid_groups and not valid_groups & train_groups


def test_group_kfold_views():
    groups = [f"g{i % 20}" for i in range(100)]
    t = task(scheme="group_kfold", n_folds=4, valid_fraction=0.2, seed=1)
    prepared = assign(records(groups=groups), t)
    assert n_folds(prepared) == 4 and (prepared["split"] == "").all()
    for fold in range(4):
        v = view(prepared, fold, t)
        assert ((v["split"] == "test") == (prepared["fold"] == fold)).all()
        by_split = {s: set(v.loc[v["split"] == s, "group"]) for s in ("train", "valid", "test")}
        assert all(by_split.values())
        assert not (by_split["train"] & by_split["test"]) and not (by_split["train"] & by_split["valid"])


def test_kfold_column_needs_every_fold():
    recs = records(20)
    recs["fold"] = [0, 2] * 10
    with pytest.raises(LyraInputError, match="synthetic.csv: task 't': fold column must hold every fold"):
        assign(recs, task(scheme="kfold_column"), "t")
    recs["fold"] = [0, 1] * 10
    with pytest.raises(LyraInputError, match="split.valid fold .* needs at least 3 folds, not 2"):
        assign(recs, task(scheme="kfold_column"), "t")
    assert n_folds(assign(recs, task(scheme="kfold_column", valid="random"))) == 2


def test_genome_blocks_hold_out_the_last_positions():
    recs = records(50)
    recs["chrom"] = ["chrB" if i % 2 else "chrA" for i in range(50)]
    recs["start"] = np.random.default_rng(0).permutation(50) * 100
    prepared = assign(recs, task(scheme="genome_blocks", fractions=[0.8, 0.1, 0.1]))
    order = recs.sort_values(["chrom", "start"]).index
    assert prepared.loc[order, "split"].tolist() == ["train"] * 40 + ["valid"] * 5 + ["test"] * 5


def test_leakage_report_counts_duplicates():
    recs = records(6)
    recs["sequence"] = ["AAA", "AAA", "CCC", "CCC", "GGG", "AAA"]
    recs["split"] = ["train", "train", "train", "valid", "test", "test"]
    report = leakage_report(assign(recs, task(scheme="column")))
    fold = report["folds"]["0"]
    assert fold["duplicates_within"] == {"train": 1, "valid": 0, "test": 0}
    assert fold["sequences_shared"] == {"train-valid": 1, "train-test": 1, "valid-test": 0}
    json.dumps(report)


def test_group_random_sends_whole_groups_to_each_part():
    rng = np.random.default_rng(5)
    groups = [f"g{k}" for k in rng.integers(0, 30, size=300)]  # 30 groups of uneven size
    t = task(scheme="group_random", fractions=[0.7, 0.15, 0.15], seed=2)
    prepared = assign(records(300, groups=groups), t)
    parts_of_group = prepared.groupby("group")["split"].nunique()
    assert (parts_of_group == 1).all()  # no group spans two parts
    counts = prepared["split"].value_counts()
    assert set(counts.index) == {"train", "valid", "test"}
    assert abs(counts["test"] - 45) <= 20 and abs(counts["valid"] - 45) <= 20
    again = assign(records(300, groups=groups), t)
    other = assign(records(300, groups=groups), task(scheme="group_random", fractions=[0.7, 0.15, 0.15], seed=3))
    assert again["split"].tolist() == prepared["split"].tolist() != other["split"].tolist()


def test_group_random_valid_carved_from_train_by_group():
    groups = [f"g{i % 10}" for i in range(100)]
    prepared = assign(records(groups=groups), task(scheme="group_random", fractions=[0.8, 0, 0.2], valid_fraction=0.2))
    assert (prepared.groupby("group")["split"].nunique() == 1).all()
    assert set(prepared["split"]) == {"train", "valid", "test"}


def test_group_random_needs_enough_groups():
    with pytest.raises(LyraInputError, match="synthetic.csv: task 't': 2 groups cannot fill train, valid, test"):
        assign(records(10, groups=["a"] * 5 + ["b"] * 5), task(scheme="group_random"), "t")
    with pytest.raises(LyraInputError, match="group_random needs columns.group"):
        assign(records(10), task(scheme="group_random"))
    with pytest.raises(LyraInputError, match=r"2 groups cannot fill train, valid \(carved from train groups\), test"):
        assign(records(10, groups=["a"] * 5 + ["b"] * 5), task(scheme="group_random", fractions=[0.5, 0, 0.5]))
    # three groups, but test and valid need more rows than two of them hold
    groups = ["a"] * 8 + ["b", "c"]
    prepared = assign(records(10, groups=groups), task(scheme="group_random", fractions=[0.1, 0.1, 0.8], seed=0))
    assert (prepared.groupby("group")["split"].nunique() == 1).all()
    assert set(prepared["split"]) == {"train", "valid", "test"}


def test_group_kfold_with_one_group_says_no_test_split_can_be_made():
    with pytest.raises(LyraInputError, match="1 group cannot fill 5 folds.*no test split can be made"):
        assign(records(20, groups=["only"] * 20), task(scheme="group_kfold"))
    with pytest.raises(LyraInputError, match="3 groups cannot fill 5 folds.*2 folds would have no test rows"):
        assign(records(30, groups=["a", "b", "c"] * 10), task(scheme="group_kfold"))


def _labelled(labels, splits):
    recs = records(len(labels))
    recs["label"] = labels
    recs["split"] = splits
    return recs


def test_class_only_outside_train_is_an_error():
    recs = _labelled(["a", "b", "a", "b", "a", "c"], ["train", "train", "train", "valid", "test", "test"])
    with pytest.raises(LyraInputError, match="synthetic.csv: task 't': class 'c' is in 1 test rows.*no train row"):
        assign(recs, task(scheme="column"), "t")
    recs = _labelled(["a", "b", "a", "c", "a", "b"], ["train", "train", "train", "valid", "test", "test"])
    with pytest.raises(LyraInputError, match="class 'c' is in 1 valid rows"):
        assign(recs, task(scheme="column"))
    recs = _labelled(["a", "b", "a", "b", "a", "b"], ["train", "train", "train", "valid", "test", "test"])
    assert len(assign(recs, task(scheme="column"))) == 6


def _single_mutants(n_positions=50, seed=0):
    """A ProteinGym-like table: every row mutates one position of a 50-residue wild type;
    fold_modulo_5 = position mod 5 (ProteinGym's (position - 1) mod 5, 0-based here)."""
    rng = np.random.default_rng(seed)
    letters = "ACDEFGHIKLMNPQRSTVWY"
    wild = "".join(rng.choice(list(letters), n_positions))
    rows = [(f"{wild[p]}{p + 1}{a}", wild[:p] + a + wild[p + 1:], p)
            for p in range(n_positions) for a in letters if a != wild[p]]
    table = pd.DataFrame(rows, columns=["id", "sequence", "position"])
    table["target"] = rng.normal(size=len(table))
    table["group"] = ""
    table["fold"] = table["position"] % 5
    table.attrs["source"] = "single_mutants.csv"
    return table


def _positions(table, split):
    return set(table.loc[table["split"] == split, "id"].str[1:-1].astype(int))


def test_kfold_column_validation_is_a_whole_other_fold_sharing_no_position_with_training():
    recs = _single_mutants()
    spec = task(scheme="kfold_column", valid_fraction=0.15, seed=0)  # split.valid unset: fold
    prepared = assign(recs, spec)
    for fold in range(5):
        v = view(prepared, fold, spec)
        assert (v.loc[v["split"] == "valid", "fold"] == (fold - 1) % 5).all()
        assert ((v["split"] == "train") == ~v["fold"].isin([fold, (fold - 1) % 5])).all()
        train, valid, test = (_positions(v, s) for s in ("train", "valid", "test"))
        assert train and valid and test
        assert not train & valid and not train & test and not valid & test


def test_random_validation_shares_positions_with_training():
    """The old carving (split.valid random): validation positions are training positions,
    which rewards memorising positions - what the fold default avoids."""
    recs = _single_mutants()
    spec = task(scheme="kfold_column", valid="random", valid_fraction=0.15, seed=0)
    v = view(assign(recs, spec), 0, spec)
    assert _positions(v, "valid") <= _positions(v, "train")
    assert not _positions(v, "test") & _positions(v, "train")


def test_group_kfold_validation_shares_no_group_with_training_in_either_mode():
    recs = records(200, groups=[f"g{i % 40}" for i in range(200)])
    for mode in (None, "fold", "random"):
        spec = task(scheme="group_kfold", n_folds=5, valid_fraction=0.2, seed=2, valid=mode)
        prepared = assign(recs, spec)
        for fold in range(5):
            v = view(prepared, fold, spec)
            groups = {s: set(v.loc[v["split"] == s, "group"]) for s in ("train", "valid", "test")}
            assert all(groups.values())
            assert not groups["train"] & groups["valid"] and not groups["train"] & groups["test"]
            assert not groups["valid"] & groups["test"]


def test_valid_none_trains_on_every_other_fold():
    recs = _single_mutants()
    spec = task(scheme="kfold_column", valid="none")
    v = view(assign(recs, spec), 2, spec)
    assert set(v["split"]) == {"train", "test"}
    assert ((v["split"] == "test") == (v["fold"] == 2)).all()
