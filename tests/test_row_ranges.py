"""The row_ranges split scheme (StatLog-style: first N rows train, the rest test)."""

import pandas as pd
import pytest

from lyra.errors import LyraInputError
from lyra.data.splits import assign


def _records(n: int) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"r{i}" for i in range(n)], "sequence": ["ACGT"] * n, "target": range(n)})


def _task(ranges: dict, valid_fraction: float = 0.25) -> dict:
    """A task's split block."""
    return {"scheme": "row_ranges", "ranges": ranges, "valid_fraction": valid_fraction, "seed": 0}


def test_rows_follow_their_ranges_and_valid_comes_from_train():
    prepared = assign(_records(40), _task({"train": [0, 30], "test": [30, None]}))
    by_id = prepared.set_index("id")["split"]
    assert (by_id[[f"r{i}" for i in range(30, 40)]] == "test").all()
    first = by_id[[f"r{i}" for i in range(30)]]
    assert set(first) == {"train", "valid"}
    assert (first == "valid").sum() == round(0.25 * 30)
    assert (prepared["fold"] == 0).all()


def test_rows_outside_every_range_are_left_out():
    prepared = assign(_records(40), _task({"train": [0, 10], "valid": [10, 15], "test": [30, 35]}))
    assert sorted(prepared["id"], key=lambda s: int(s[1:])) == [f"r{i}" for i in [*range(15), *range(30, 35)]]
    assert prepared.set_index("id").loc["r12", "split"] == "valid"


@pytest.mark.parametrize(
    "ranges, problem",
    [({"train": [0, 20], "test": [15, None]}, "overlaps"), ({"train": [0, 20], "test": [20, 50]}, "does not fit")],
)
def test_bad_ranges_are_named(ranges, problem):
    with pytest.raises(LyraInputError, match=problem):
        assign(_records(40), _task(ranges))
