"""Synthetic sequence-function landscapes with known epistasis, for tests and demos."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lyra.data.alphabets import get_alphabet

logger = logging.getLogger(__name__)


def epistasis_landscape(
    n_sequences: int,
    length: int,
    alphabet: str = "protein",
    orders: Sequence[int] = (1, 2, 3),
    n_terms: Sequence[int] = (30, 30, 30),
    noise: float = 0.1,
    seed: int = 0,
) -> pd.DataFrame:
    """Sample sequences and score them with a random epistatic landscape.

    The landscape is a multilinear polynomial in the one-hot features
    ``x[p, a] = 1 if sequence[p] == a``. For each ``order k`` in ``orders`` it has
    ``n_terms[i]`` terms (``i`` the index of ``k``); a term of order ``k`` picks ``k``
    distinct positions ``p_1 < ... < p_k`` uniformly at random and a weight table
    ``W[a_1, ..., a_k]`` with independent N(0, 1) entries over all letter
    combinations, and contributes::

        sum over a_1..a_k of W[a_1, ..., a_k] * x[p_1, a_1] * ... * x[p_k, a_k]
        = W[sequence[p_1], ..., sequence[p_k]]

    Every term therefore acts on every sequence; order-1 terms are additive
    (site-wise) effects, order-2 and order-3 terms are pairwise and three-way
    epistasis. Sequences are drawn with every position uniform and independent
    over the canonical letters of ``alphabet``. The summed signal ``s`` is
    standardized to mean 0 and variance 1 over the sampled sequences (left as is
    if constant), and the target is ``s + noise * e`` with ``e`` i.i.d. N(0, 1).

    All randomness comes from ``numpy.random.default_rng(seed)``, so equal
    arguments give identical tables. Returns columns ``id`` (``syn00000``, ...),
    ``sequence`` and ``target``.
    """
    if len(orders) != len(n_terms):
        raise ValueError(f"orders {list(orders)} and n_terms {list(n_terms)} differ in length")
    if any(k < 1 or k > length for k in orders):
        raise ValueError(f"every order must lie in 1..length={length}; got {list(orders)}")
    if n_sequences < 2:
        raise ValueError(f"n_sequences must be at least 2; got {n_sequences}")
    letters = np.array(list(get_alphabet(alphabet).letters))
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, len(letters), size=(n_sequences, length))
    signal = epistasis_signal(codes, len(letters), orders, n_terms, rng)

    spread = signal.std()
    signal = signal - signal.mean()
    if spread > 0:
        signal = signal / spread
    target = signal + noise * rng.standard_normal(n_sequences)
    logger.info(
        "sampled %d %s sequences of length %d; terms per order %s; noise sd %g",
        n_sequences, alphabet, length, dict(zip(orders, n_terms)), noise,
    )
    return pd.DataFrame(
        {
            "id": [f"syn{i:05d}" for i in range(n_sequences)],
            "sequence": ["".join(row) for row in letters[codes]],
            "target": target,
        }
    )


def epistasis_signal(codes: np.ndarray, n_letters: int, orders: Sequence[int], n_terms: Sequence[int],
                     rng: np.random.Generator) -> np.ndarray:
    """The summed (unstandardised) terms of ``epistasis_landscape`` for letter ``codes``
    (n, length), the terms drawn from ``rng`` in that function's order."""
    length = codes.shape[1]
    signal = np.zeros(len(codes))
    for order, count in zip(orders, n_terms):
        for _ in range(count):
            positions = np.sort(rng.choice(length, size=order, replace=False))
            weights = rng.standard_normal((n_letters,) * order)
            signal += weights[tuple(codes[:, p] for p in positions)]
    return signal
