"""Position pairs whose letters interact, found from training rows, for Lyra's pair head.

One-hot ridge regression (``lyra.nn.baselines.fit_linear``) is fitted to the training rows;
every position pair is then tested on what ridge leaves over: a one-way ANOVA F-test of
the residuals grouped by the pair's letter combination. The pairs kept are those the
Benjamini-Hochberg procedure accepts at false discovery rate ``FDR`` (smallest p first,
at most ``MAX_PAIRS`` pairs and ``MAX_PAIR_FEATURES`` letter combinations in all). A
round that keeps pairs is followed by another (at most ``MAX_ROUNDS`` in all) on the
residuals of ridge on one-hot plus the pairs kept so far (``ridge_design``), testing the
pairs not yet kept: strong pairs left in the residuals hide weaker ones. With no pair
effect at all, the chance that any pair is kept is at most ``FDR`` (the first round
must accept one). On the fresh landscapes of ``benchmarks/fresh_landscapes.py`` this
keeps about as many pairs as the landscape has pair terms (docs/experiments-quality.md,
"finding the pairs"). ``pair_design`` gives the kept pairs' features, the outer
products ``x[p] x[q]^T``, on which the pair head is linear; ``fit_pair_ridge`` fits ridge
on one-hot plus them (the ``ridge_pairs`` model).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from scipy import sparse, stats

from lyra.nn.baselines import RIDGE_ALPHAS, fit_linear, fit_sparse_ridge

log = logging.getLogger(__name__)

FDR = 0.05  # false discovery rate of the screen (Benjamini-Hochberg over all pairs tested)
MAX_PAIRS = 64  # most pairs kept (smallest p-values first)
MAX_PAIR_FEATURES = 16_384  # most letter combinations in all (41 protein pairs): bounds the ridge fit
MAX_TESTED = 200_000  # screens of more pairs (length above ~630) are skipped, with a warning
MAX_ROUNDS = 3  # screening rounds; each after the first costs a ridge fit on one-hot plus the pairs kept


def letter_codes(x: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """(n, L) letter index of one-hot ``x`` (n, L, A) (the largest entry of an ambiguity
    code's vector); padded positions get code ``A``, a category of their own."""
    codes = x.argmax(-1).numpy()
    codes[~mask.numpy()] = x.shape[-1]
    return codes


def pair_p_values(codes: np.ndarray, n_codes: int, residual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All position pairs (P, 2) with p < q and the one-way ANOVA p-value (P,) of
    ``residual`` over each pair's observed letter combinations (codes below ``n_codes``)."""
    n, length = codes.shape
    residual = np.asarray(residual, dtype=np.float64)
    total, sum_squares = residual.sum() ** 2 / n, (residual**2).sum()
    cells = n_codes * n_codes
    pairs, p_values = [], []
    for p in range(length - 1):
        others = length - p - 1
        key = codes[:, p, None] * n_codes + codes[:, p + 1:] + np.arange(others) * cells  # (n, others)
        count = np.bincount(key.ravel(), minlength=others * cells).reshape(others, cells)
        sums = np.bincount(key.ravel(), np.repeat(residual, others), minlength=others * cells).reshape(others, cells)
        seen = count > 0
        explained = np.divide(sums**2, count, out=np.zeros_like(sums), where=seen).sum(1)
        between, within = explained - total, np.maximum(sum_squares - explained, 1e-300)
        k = seen.sum(1)
        defined = (k > 1) & (n - k > 0)
        f = np.where(defined, (between / np.maximum(k - 1, 1)) / (within / np.maximum(n - k, 1)), 0.0)
        p_values.append(np.where(defined, stats.f.sf(f, np.maximum(k - 1, 1), np.maximum(n - k, 1)), 1.0))
        pairs.append(np.column_stack([np.full(others, p), np.arange(p + 1, length)]))
    if not pairs:
        return np.zeros((0, 2), dtype=int), np.zeros(0)
    return np.concatenate(pairs), np.concatenate(p_values)


def screen_pairs(x: torch.Tensor, mask: torch.Tensor, y: np.ndarray, fdr: float = FDR,
                 max_pairs: int = MAX_PAIRS, max_rounds: int = MAX_ROUNDS) -> list[list[int]]:
    """The pairs ``[p, q]`` (0-based, p < q) kept by the screen of one-hot training rows
    ``x`` (n, L, A), ``mask`` (n, L) and regression targets ``y`` (n,), in the order kept."""
    length = x.shape[1]
    n_tested = length * (length - 1) // 2
    if n_tested == 0:
        return []
    if n_tested > MAX_TESTED:
        log.warning("pair screen skipped: %d position pairs at length %d (at most %d are screened); "
                    "no pair head", n_tested, length, MAX_TESTED)
        return []
    masked = x * mask.unsqueeze(-1).to(x.dtype)
    flat = masked.reshape(len(x), -1).numpy()
    y = np.asarray(y, dtype=np.float64)
    codes = letter_codes(x, mask)
    cap = min(max_pairs, MAX_PAIR_FEATURES // x.shape[-1] ** 2)
    kept: list[list[int]] = []
    for round_number in range(1, max_rounds + 1):
        if kept:
            design = ridge_design(masked, kept)
            fitted = fit_sparse_ridge(design, y)
            residual = y - (design @ fitted.coef_ + fitted.intercept_)
        else:
            residual = y - fit_linear(flat, y, "regression").predict(flat)
        pairs, p_values = pair_p_values(codes, x.shape[-1] + 1, residual)
        done = {tuple(pair) for pair in kept}
        untested = np.array([(p, q) not in done for p, q in pairs.tolist()])
        pairs, p_values = pairs[untested], p_values[untested]
        accepted = stats.false_discovery_control(p_values, method="bh") < fdr
        order = [i for i in np.argsort(p_values, kind="stable") if accepted[i]]
        new = [pairs[i].tolist() for i in order[:cap - len(kept)]]
        log.info("pair screen round %d: %d of %d position pairs kept (Benjamini-Hochberg FDR %g; %d accepted)%s",
                 round_number, len(new), len(pairs), fdr, len(order), f", strongest {new[:5]}" if new else "")
        kept += new
        if not new or len(kept) >= cap:
            break
    log.info("pair screen: %d of %d position pairs kept", len(kept), n_tested)
    return kept


def fit_pair_ridge(x: torch.Tensor, mask: torch.Tensor, y: np.ndarray, sites: list[list[int]],
                   alphas: np.ndarray = RIDGE_ALPHAS):
    """Ridge regression on one-hot plus the pair features of ``sites``: ``ridge_design`` of
    the masked inputs ``x`` (n, L, E), penalty chosen among ``alphas`` by leave-one-out
    (``lyra.nn.baselines.fit_sparse_ridge``, a ``RidgeFit``). The ``ridge_pairs`` model,
    Lyra's ``trainer.ridge_init`` with a pair head and the campaign replay's ridge
    ensembles (``lyra.campaign``) all fit it."""
    masked = x * mask.unsqueeze(-1).to(x.dtype)
    return fit_sparse_ridge(ridge_design(masked, sites), np.asarray(y, dtype=np.float64), alphas)


def ridge_design(x: torch.Tensor, sites: list[list[int]]) -> sparse.csr_matrix:
    """The design of ridge on one-hot plus pairs: the flattened (masked) inputs ``x``
    (n, L, E) beside ``pair_design(x, sites)``."""
    flat = sparse.csr_matrix(x.reshape(len(x), -1).double().numpy())
    return sparse.hstack([flat, pair_design(x, sites)], format="csr")


def pair_design(x: torch.Tensor, sites: list[list[int]]) -> sparse.csr_matrix:
    """(n, K * E * E) features of the pair head: for each pair ``[p, q]`` of ``sites`` the
    flattened outer product ``x[:, p] x[:, q]^T`` of the (masked) inputs ``x`` (n, L, E);
    sites beyond a row's length see zeros."""
    n, length, width = x.shape
    blocks = []
    for p, q in sites:
        if max(p, q) >= length:
            blocks.append(sparse.csr_matrix((n, width * width)))
            continue
        block = (x[:, p, :, None] * x[:, q, None, :]).reshape(n, -1).double().numpy()
        blocks.append(sparse.csr_matrix(block))
    return sparse.hstack(blocks, format="csr") if blocks else sparse.csr_matrix((n, 0))
