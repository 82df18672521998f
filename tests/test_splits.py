"""Split schemes on small synthetic record tables, checked by independent counting."""

import json

import numpy as np
import pandas as pd
import pytest

from lyra.errors import LyraInputError
from lyra.splits import assign, leakage_report, n_folds, view


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
    assert n_folds(assign(recs, task(scheme="kfold_column"))) == 2


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
