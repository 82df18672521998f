"""Baselines the paper compares Lyra with: a CNN, a small Transformer and ridge regression.

The neural baselines share Lyra's interface: ``forward(x (B, L, A) float, mask (B, L)
bool) -> (B, d_output)``, with masked mean pooling so padding does not change a
sequence's output.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from scipy import sparse
from scipy.special import expit
from sklearn.linear_model import LogisticRegressionCV, RidgeCV
from sklearn.model_selection import StratifiedKFold
from torch import nn

from lyra.nn.pooling import masked_mean

RIDGE_ALPHAS = np.logspace(-3, 3, 13)
LOGISTIC_CS = np.logspace(-3, 3, 13)  # inverse regularisation strengths


def _full_mask(x: torch.Tensor) -> torch.Tensor:
    return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)


class CNN(nn.Module):
    """Stack of 'same'-padded 1D convolutions with GELU and dropout, masked mean pooling, linear head.

    Padded positions are zeroed before every convolution, so they never leak into real
    ones. With ``d_input=20, d_output=1`` and the defaults this has 47,617 parameters.
    """

    def __init__(self, d_input: int, d_output: int, channels: int = 64, kernel_size: int = 5,
                 n_layers: int = 3, dropout: float = 0.2):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd for 'same' padding, got {kernel_size}")
        self.convs = nn.ModuleList(
            nn.Conv1d(d_input if i == 0 else channels, channels, kernel_size, padding=kernel_size // 2)
            for i in range(n_layers)
        )
        self.activation = nn.GELU()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(channels, d_output)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Predict (B, d_output) from ``x`` (B, L, d_input) and ``mask`` (B, L)."""
        if mask is None:
            mask = _full_mask(x)
        keep = mask.unsqueeze(1).to(x.dtype)  # (B, 1, L)
        h = x.transpose(1, 2)
        for conv in self.convs:
            h = self.dropout(self.activation(conv(h * keep)))
        return self.head(masked_mean(h.transpose(1, 2), mask))


class TransformerEncoderModel(nn.Module):
    """Linear embedding + learned positions -> TransformerEncoder -> masked mean pooling -> linear head.

    Parameters: 34,881 + 64 * max_len with ``d_input=20, d_output=1`` and the other
    defaults, i.e. 47,681 at ``max_len=200`` (Lyra: 47,169); the learned position table
    grows with ``max_len``, so set it to the longest sequence of the task.

    ``dropout`` acts on the residual and feed-forward paths; ``attention_dropout`` on the
    attention weights is off by default: on CPU it forces the (B, heads, L, L) weights to
    be materialised and costs ~8x the rest of a training step at L=263.
    """

    def __init__(self, d_input: int, d_output: int, d_model: int = 64, n_heads: int = 4, n_layers: int = 1,
                 dim_feedforward: int = 128, max_len: int = 512, dropout: float = 0.2,
                 attention_dropout: float = 0.0):
        super().__init__()
        self.max_len = max_len
        self.embed = nn.Linear(d_input, d_model)
        self.positions = nn.Embedding(max_len, d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward, dropout, activation="gelu",
                                           batch_first=True)
        layer.self_attn.dropout = attention_dropout  # MultiheadAttention's dropout on the weights
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, d_output)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Predict (B, d_output) from ``x`` (B, L, d_input) and ``mask`` (B, L)."""
        length = x.shape[1]
        if length > self.max_len:
            raise ValueError(
                f"input length {length} exceeds the Transformer's max_len={self.max_len}; "
                "build the model with max_len >= the longest sequence"
            )
        if mask is None:
            mask = _full_mask(x)
        h = self.embed(x) + self.positions(torch.arange(length, device=x.device))
        h = self.encoder(h, src_key_padding_mask=~mask)
        return self.head(masked_mean(h, mask))


class OneHotLinear(nn.Module):
    """Position-specific features (B, L, d_input), flattened, into one linear layer: ProteinGym's
    One-Hot baseline. Shorter inputs are zero-padded to ``length``; longer ones are an error."""

    def __init__(self, d_input: int, d_output: int, length: int):
        super().__init__()
        self.length = length
        self.linear = nn.Linear(length * d_input, d_output)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Predict (B, d_output) from ``x`` (B, L, d_input); padding is already zero."""
        if x.shape[1] > self.length:
            raise ValueError(f"input length {x.shape[1]} exceeds the one-hot linear model's length {self.length}")
        x = nn.functional.pad(x, (0, 0, 0, self.length - x.shape[1]))
        return self.linear(x.reshape(len(x), -1))


class RidgeResult(NamedTuple):
    """Ridge/logistic baseline output: predictions for the test rows and the fitted model.

    ``predictions`` are values (regression) or class indices (classification);
    ``probabilities`` is (n_test, n_classes) for classification, else None.
    """

    predictions: np.ndarray
    probabilities: np.ndarray | None
    model: object


def _flatten(X, name: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim not in (2, 3):
        raise ValueError(f"{name} must be (n, L, A) one-hot or (n, features), got shape {X.shape}")
    return X.reshape(len(X), -1)


def fit_linear(train_X, train_y, task_type: str, seed: int = 0):
    """Ridge (regression) or logistic regression (binary, multiclass) on flattened one-hot
    features (n, L, A), or already flat ones (n, features).

    Regression uses RidgeCV (alphas 1e-3..1e3, efficient leave-one-out); where rows
    outnumber features, ``fit_sparse_ridge``'s own route on the sparse one-hot (the same
    penalty and fit: about 10 s instead of 200 s for GB1's 95,000 rows on a shared CPU),
    which returns a ``RidgeFit``; binary and
    multiclass use LogisticRegressionCV (C 1e-3..1e3 chosen by log-loss on seeded
    stratified folds). Returns the fitted scikit-learn estimator.
    """
    train = _flatten(train_X, "train_X")
    train_y = np.asarray(train_y)
    if task_type == "regression":
        if train.shape[0] > train.shape[1]:
            return fit_sparse_ridge(sparse.csr_matrix(train), train_y.astype(float))
        return RidgeCV(alphas=RIDGE_ALPHAS).fit(train, train_y.astype(float))
    if task_type not in ("binary", "multiclass"):
        raise ValueError(f"unknown task_type {task_type!r}")
    train_y = train_y.astype(int)
    smallest_class = int(np.bincount(train_y)[np.unique(train_y)].min())
    folds = StratifiedKFold(n_splits=max(2, min(5, smallest_class)), shuffle=True, random_state=seed)
    model = LogisticRegressionCV(
        Cs=LOGISTIC_CS, cv=folds, scoring="neg_log_loss", max_iter=2000, random_state=seed
    )
    return model.fit(train, train_y)


class RidgeFit(NamedTuple):
    """A ridge regression fitted by ``fit_sparse_ridge`` (attributes named as scikit-learn's)."""

    coef_: np.ndarray
    intercept_: float
    alpha_: float

    def predict(self, X) -> np.ndarray:
        return np.asarray(X @ self.coef_).ravel() + self.intercept_


DENSE_ENTRIES = 30_000_000  # fit_sparse_ridge: largest design (240 MB as float64) RidgeCV gets dense


def fit_sparse_ridge(X: sparse.spmatrix, y: np.ndarray, alphas: np.ndarray = RIDGE_ALPHAS, batch: int = 4096):
    """Ridge regression with an intercept on a sparse design ``X`` (n, p), its penalty
    chosen among ``alphas`` by efficient leave-one-out, as ``RidgeCV`` chooses it.

    Where rows outnumber features (e.g. a large DMS with pair features,
    ``lyra.nn.pairs.pair_design``) RidgeCV densifies the design and multiplies it by a
    (p x p) matrix once per penalty; here the centred covariance ``Xc^T Xc = V diag(s) V^T``
    is decomposed once and ``Xc V`` is formed in row blocks of ``batch`` (sparse times
    dense), so each penalty costs one (n x p) product: fitted values
    ``Xc V diag(1 / (s + a)) V^T Xc^T yc`` and hat diagonal
    ``1/n + sum_j (Xc V)_ij^2 / (s_j + a)`` give the leave-one-out residuals
    ``(y - fit) / (1 - hat)``. Otherwise (more features than rows) RidgeCV's own
    (n x n) route is used, on the dense design when it has at most ``DENSE_ENTRIES``
    entries: the same fit, but scikit-learn forms the (n x n) Gram of a sparse design
    row by row (13 s instead of under 1 s for a ProteinGym fold of 615 rows, 3,820 features).
    """
    X, y = sparse.csr_matrix(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n, p = X.shape
    if n <= p:
        fitted = RidgeCV(alphas=alphas).fit(X.toarray() if n * p <= DENSE_ENTRIES else X, y)
        return RidgeFit(np.asarray(fitted.coef_), float(fitted.intercept_), float(fitted.alpha_))
    mean, y_mean = np.asarray(X.mean(0)).ravel(), y.mean()
    covariance = (X.T @ X).toarray() - n * np.outer(mean, mean)
    s, V = np.linalg.eigh(covariance)
    shift = mean @ V
    projected_y = (X.T @ (y - y_mean)) @ V  # V^T Xc^T yc (yc sums to 0, so the mean term drops)
    weights = 1.0 / (s[:, None] + np.asarray(alphas)[None, :])  # (p, n_alphas)
    loo_error = np.zeros(len(alphas))
    for start in range(0, n, batch):
        rows = X[start:start + batch] @ V - shift  # Xc V for these rows
        fit = rows @ (weights * projected_y[:, None])
        hat = 1.0 / n + (rows**2) @ weights
        residual = (y[start:start + batch, None] - y_mean - fit) / (1.0 - hat)
        loo_error += (residual**2).sum(0)
    best = int(np.argmin(loo_error))  # the first of equal errors, as RidgeCV
    coef = V @ (weights[:, best] * projected_y)
    return RidgeFit(coef, float(y_mean - mean @ coef), float(alphas[best]))


class LinearWeights(NamedTuple):
    """A fitted ``fit_linear`` model as plain arrays, so that a model file holds no
    scikit-learn object: ``coef`` (p,) for ridge, (k, p) for logistic regression (k = 1
    when binary), ``intercept`` () or (k,), and ``classes`` (the class indices seen in
    training; None for ridge). Predictions are scikit-learn's, computed as it does."""

    coef: np.ndarray
    intercept: np.ndarray
    classes: np.ndarray | None

    @classmethod
    def of(cls, estimator) -> "LinearWeights":
        classes = getattr(estimator, "classes_", None)
        # in the estimator's own dtype: RidgeCV fitted on float32 features predicts in float32
        return cls(np.asarray(estimator.coef_), np.asarray(estimator.intercept_),
                   None if classes is None else np.asarray(classes, dtype=np.int64))

    def decision(self, flat: np.ndarray) -> np.ndarray:
        """``flat @ coef.T + intercept``: (n,) for ridge and binary, (n, k) for multiclass."""
        scores = flat @ self.coef.T + self.intercept
        return scores.reshape(-1) if scores.ndim > 1 and scores.shape[1] == 1 else scores

    def predict_proba(self, flat: np.ndarray) -> np.ndarray:
        """(n, len(classes)): the logistic of the binary score, a softmax of the multiclass ones."""
        scores = self.decision(flat)
        if scores.ndim == 1:
            positive = expit(scores)
            return np.stack([1 - positive, positive], axis=1)
        scores = scores - scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        return scores / scores.sum(axis=1, keepdims=True)


def class_probabilities(weights: LinearWeights, X, n_classes: int | None = None) -> np.ndarray:
    """(n, n_classes) probabilities of a fitted logistic model; classes absent from its
    training rows (up to ``n_classes``) get probability 0."""
    flat = _flatten(X, "X")
    width = max(n_classes or 0, int(weights.classes.max()) + 1)
    probabilities = np.zeros((len(flat), width))
    if len(flat):
        probabilities[:, weights.classes] = weights.predict_proba(flat)
    return probabilities


def ridge_baseline(train_X, train_y, test_X, task_type: str, seed: int = 0,
                   n_classes: int | None = None) -> RidgeResult:
    """``fit_linear`` on the training rows, then predictions for ``test_X``.

    ``train_X``/``test_X`` are one-hot arrays (n, L, A) padded to one common length (e.g.
    ``lyra.data.encode.one_hot(seqs, alphabet, length=L)``) or already flat (n, features).
    ``n_classes`` widens the probability matrix to classes absent from training (zeros).
    """
    if _flatten(train_X, "train_X").shape[1] != _flatten(test_X, "test_X").shape[1]:
        raise ValueError(f"train_X has {_flatten(train_X, 'train_X').shape[1]} features but test_X has "
                         f"{_flatten(test_X, 'test_X').shape[1]}; encode both to the same length")
    model = fit_linear(train_X, train_y, task_type, seed)
    if task_type == "regression":
        return RidgeResult(model.predict(_flatten(test_X, "test_X")), None, model)
    probabilities = class_probabilities(LinearWeights.of(model), test_X, n_classes)
    return RidgeResult(probabilities.argmax(axis=1), probabilities, model)
