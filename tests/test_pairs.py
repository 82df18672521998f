"""The pair screen (lyra.nn.pairs): F-test p-values against scipy's, planted pairs found,
none where the landscape is additive, and the pair features the ridge start uses."""

import logging

import numpy as np
import pytest
import torch
from scipy import stats

from lyra.nn import pairs


def _landscape(n: int, length: int, n_letters: int, planted: list[tuple[int, int]], seed: int = 0,
               pair_scale: float = 1.0):
    """One-hot rows (n, length, n_letters), their mask and additive-plus-planted-pair targets."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, n_letters, (n, length))
    y = rng.normal(size=(length, n_letters))[np.arange(length), codes].sum(1)
    for p, q in planted:
        y = y + pair_scale * rng.normal(size=(n_letters, n_letters))[codes[:, p], codes[:, q]]
    y = y + 0.3 * rng.normal(size=n)
    x = torch.nn.functional.one_hot(torch.as_tensor(codes), n_letters).float()
    return x, torch.ones(n, length, dtype=torch.bool), y, codes


def test_pair_p_values_equal_scipy_one_way_anova():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 3, (200, 5))
    residual = rng.normal(size=200) + 2 * (codes[:, 1] == codes[:, 3])
    found, p_values = pairs.pair_p_values(codes, 3, residual)
    assert [tuple(pair) for pair in found] == [(p, q) for p in range(5) for q in range(p + 1, 5)]
    for (p, q), value in zip(found, p_values):
        cell = codes[:, p] * 3 + codes[:, q]
        groups = [residual[cell == c] for c in np.unique(cell)]
        assert value == pytest.approx(stats.f_oneway(*groups).pvalue, rel=1e-6, abs=1e-12)
    assert p_values[found.tolist().index([1, 3])] < 1e-6  # the planted pair


def test_screen_finds_planted_pairs_and_none_in_an_additive_landscape():
    planted = [(0, 9), (3, 14), (7, 8)]
    x, mask, y, _ = _landscape(3000, 16, 4, planted)
    assert sorted(map(tuple, pairs.screen_pairs(x, mask, y))) == planted
    x, mask, y, _ = _landscape(3000, 16, 4, [])
    assert pairs.screen_pairs(x, mask, y) == []


def test_a_second_round_finds_a_pair_that_strong_pairs_hid():
    # two strong pairs leave most of the residual variance in round 1, where the weak
    # pair (3, 7) is not accepted; on the residuals of ridge with the strong pairs it is
    rng = np.random.default_rng(5)
    n, length, letters = 1500, 10, 4
    codes = rng.integers(0, letters, (n, length))
    y = 6.0 * rng.normal(size=(letters, letters))[codes[:, 0], codes[:, 1]]
    y += 6.0 * rng.normal(size=(letters, letters))[codes[:, 4], codes[:, 5]]
    y += 0.45 * rng.normal(size=(letters, letters))[codes[:, 3], codes[:, 7]] + 0.5 * rng.normal(size=n)
    x = torch.nn.functional.one_hot(torch.as_tensor(codes), letters).float()
    mask = torch.ones(n, length, dtype=torch.bool)
    assert sorted(map(tuple, pairs.screen_pairs(x, mask, y, max_rounds=1))) == [(0, 1), (4, 5)]
    assert pairs.screen_pairs(x, mask, y) == [[0, 1], [4, 5], [3, 7]]  # in the order kept


def test_ridge_design_is_one_hot_beside_the_pair_features():
    x, _, _, _ = _landscape(40, 5, 3, [])
    design = pairs.ridge_design(x, [[0, 2]]).toarray()
    np.testing.assert_array_equal(design[:, :15], x.reshape(40, -1).numpy())
    np.testing.assert_array_equal(design[:, 15:], pairs.pair_design(x, [[0, 2]]).toarray())


def test_screen_keeps_the_strongest_pairs_up_to_max_pairs():
    planted = [(0, 1), (2, 3), (4, 5), (6, 7)]
    x, mask, y, _ = _landscape(3000, 10, 4, planted)
    kept = pairs.screen_pairs(x, mask, y, max_pairs=2)
    assert len(kept) == 2 and set(map(tuple, kept)) <= set(planted)
    assert len(pairs.screen_pairs(x, mask, y)) == 4


def test_screen_keeps_at_most_max_pair_features_letter_combinations(monkeypatch):
    planted = [(0, 1), (2, 3), (4, 5), (6, 7)]
    x, mask, y, _ = _landscape(3000, 10, 4, planted)
    monkeypatch.setattr(pairs, "MAX_PAIR_FEATURES", 3 * 16 + 15)  # room for three 4 x 4 tables
    assert len(pairs.screen_pairs(x, mask, y)) == 3


def test_screen_of_too_many_pairs_is_skipped_with_a_warning(monkeypatch, caplog):
    x, mask, y, _ = _landscape(500, 12, 4, [(0, 1)])
    monkeypatch.setattr(pairs, "MAX_TESTED", 12 * 11 // 2 - 1)
    with caplog.at_level(logging.WARNING, logger="lyra.nn.pairs"):
        assert pairs.screen_pairs(x, mask, y) == []
    assert "pair screen skipped: 66 position pairs at length 12" in caplog.text


def test_padded_positions_are_a_category_of_their_own():
    x = torch.nn.functional.one_hot(torch.tensor([[0, 1, 2], [2, 1, 0]]), 3).float()
    mask = torch.tensor([[True, True, False], [True, True, True]])
    assert pairs.letter_codes(x, mask).tolist() == [[0, 1, 3], [2, 1, 0]]


def test_pair_design_is_the_indicator_of_each_pairs_letter_combination():
    x, _, _, codes = _landscape(50, 6, 4, [])
    design = pairs.pair_design(x, [[1, 4], [0, 5]]).toarray()
    assert design.shape == (50, 2 * 16)
    for k, (p, q) in enumerate([(1, 4), (0, 5)]):
        expected = np.zeros((50, 16))
        expected[np.arange(50), codes[:, p] * 4 + codes[:, q]] = 1
        np.testing.assert_array_equal(design[:, 16 * k:16 * (k + 1)], expected)
    assert pairs.pair_design(x[:, :3], [[1, 4]]).nnz == 0  # a site beyond the rows' length sees zeros
