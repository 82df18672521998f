"""Baselines: padding invariance, parameter counts, ridge/logistic recover planted effects."""

import numpy as np
import pytest
import torch
from scipy import stats

from lyra.nn.baselines import CNN, TransformerEncoderModel, ridge_baseline


def _n_params(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _one_hot(tokens, n_channels):
    return np.eye(n_channels, dtype=np.float32)[tokens]


@pytest.mark.parametrize("make", [
    lambda: CNN(4, 2),
    lambda: TransformerEncoderModel(4, 2, max_len=40),
])
def test_pooled_output_ignores_padding(make):
    torch.manual_seed(0)
    model = make().eval()
    rng = np.random.default_rng(0)
    lengths = [11, 30, 23]
    x = torch.zeros(len(lengths), 30, 4)
    mask = torch.zeros(len(lengths), 30, dtype=torch.bool)
    for i, n in enumerate(lengths):
        x[i, :n] = torch.from_numpy(_one_hot(rng.integers(0, 4, n), 4))
        mask[i, :n] = True
    x[0, 11:] = torch.randn(19, 4)  # garbage under the padding must not matter either
    with torch.no_grad():
        batched = model(x, mask)
        for i, n in enumerate(lengths):
            alone = model(x[i : i + 1, :n], mask[i : i + 1, :n])
            torch.testing.assert_close(batched[i : i + 1], alone, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model(x[1:2]), batched[1:2], atol=1e-5, rtol=1e-5)  # mask=None: all real


def test_parameter_counts_by_formula():
    d_in, c, k = 20, 64, 5
    cnn = (d_in * c * k + c) + 2 * (c * c * k + c) + (c + 1)
    assert _n_params(CNN(d_in, 1)) == cnn
    d, ff, max_len = 64, 128, 200
    attention = 3 * d * d + 3 * d + d * d + d
    layer = attention + (d * ff + ff) + (ff * d + d) + 2 * 2 * d
    transformer = (d_in * d + d) + max_len * d + layer + (d + 1)
    assert _n_params(TransformerEncoderModel(d_in, 1, max_len=max_len)) == transformer
    # comparable to Lyra's ~47k parameters at d_model 64
    assert 40_000 < cnn < 55_000 and 40_000 < transformer < 55_000


def test_transformer_rejects_too_long_inputs():
    model = TransformerEncoderModel(4, 1, max_len=8)
    with pytest.raises(ValueError, match="max_len=8"):
        model(torch.zeros(1, 9, 4), torch.ones(1, 9, dtype=torch.bool))


@pytest.mark.parametrize("attention_dropout, stochastic", [(0.0, False), (0.5, True)])
def test_transformer_attention_dropout_is_separate_from_residual_dropout(attention_dropout, stochastic):
    """With residual dropout 0, training-mode outputs vary only if attention dropout is on."""
    torch.manual_seed(0)
    model = TransformerEncoderModel(4, 1, max_len=16, dropout=0.0, attention_dropout=attention_dropout).train()
    x = torch.randn(3, 16, 4)
    assert torch.equal(model(x), model(x)) is not stochastic


def _planted_data(n, seed):
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, 4, size=(n, 12))
    x = _one_hot(tokens, 4)
    weights = np.random.default_rng(99).normal(size=(12, 4))
    signal = (x * weights).sum(axis=(1, 2))
    return x, signal + rng.normal(scale=0.3, size=n)


def test_ridge_recovers_planted_linear_effect():
    train_x, train_y = _planted_data(400, 1)
    test_x, test_y = _planted_data(200, 2)
    result = ridge_baseline(train_x, train_y, test_x, "regression", seed=0)
    assert result.probabilities is None
    assert stats.spearmanr(result.predictions, test_y).statistic > 0.9


def test_logistic_recovers_planted_classes_with_full_probability_matrix():
    train_x, train_y = _planted_data(400, 1)
    test_x, test_y = _planted_data(200, 2)
    edges = np.quantile(train_y, [1 / 3, 2 / 3])
    train_c, test_c = np.digitize(train_y, edges), np.digitize(test_y, edges)
    result = ridge_baseline(train_x, train_c, test_x, "multiclass", seed=0, n_classes=4)
    assert result.probabilities.shape == (200, 4)
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0)
    assert np.all(result.probabilities[:, 3] == 0)
    assert (result.predictions == test_c).mean() > 0.7


def test_ridge_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        ridge_baseline(np.zeros((5, 10, 4)), np.arange(5.0), np.zeros((2, 12, 4)), "regression")


@pytest.mark.parametrize("n, sites", [(600, 10), (150, 60)])  # more rows than features, and fewer
def test_sparse_ridge_chooses_and_fits_as_ridgecv(n, sites):
    """fit_sparse_ridge's own leave-one-out route (tall designs) and its RidgeCV route
    give RidgeCV's penalty and predictions on a dense copy of the design."""
    from scipy import sparse
    from sklearn.linear_model import RidgeCV

    from lyra.nn.baselines import RIDGE_ALPHAS, fit_sparse_ridge

    rng = np.random.default_rng(n)
    codes = rng.integers(0, 4, (n, sites))
    X = np.zeros((n, 4 * sites))
    X[np.arange(n)[:, None], np.arange(sites) * 4 + codes] = 1
    for noise in (0.3, 3.0):  # a small and a large chosen penalty
        y = X @ rng.normal(size=4 * sites) + noise * rng.normal(size=n)
        expected = RidgeCV(alphas=RIDGE_ALPHAS).fit(X, y)
        fitted = fit_sparse_ridge(sparse.csr_matrix(X), y, batch=64)
        assert fitted.alpha_ == expected.alpha_
        np.testing.assert_allclose(fitted.predict(sparse.csr_matrix(X)), expected.predict(X), atol=1e-8)
