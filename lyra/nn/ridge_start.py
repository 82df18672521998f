"""A ``linear_skip`` Lyra started from ridge regression (``trainer.ridge_init``): the
network then learns what ridge leaves over. ``lyra.models.estimators.NeuralModel`` applies
the start before training; the training loop knows nothing of it."""

from __future__ import annotations

import logging

import torch

from lyra.data.encode import dense
from lyra.nn.baselines import fit_linear
from lyra.nn.pairs import fit_pair_ridge
from lyra.nn.run import EncodedSet

log = logging.getLogger(__name__)


@torch.no_grad()
def ridge_initialise(model: torch.nn.Module, train: EncodedSet) -> float:
    """Start a ``linear_skip`` model from one-hot ridge regression fitted to ``train``.

    RidgeCV (``lyra.nn.baselines.fit_linear``: alphas 1e-3..1e3, leave-one-out) is fitted
    to the flattened, masked one-hot inputs (for a Lyra with a pair head, the
    ``ridge_pairs`` fit ``lyra.nn.pairs.fit_pair_ridge`` on one-hot plus the pair features)
    and the (standardised) targets; its coefficients become the skip weights (and the
    pair tables), its intercept the decoder bias, and the decoder weights (and a hidden
    head's output weights) are zeroed, so the model's prediction is exactly the ridge
    prediction and the network learns what ridge leaves over. Returns the chosen alpha.
    """
    skip, decoder = getattr(model, "skip", None), getattr(model, "decoder", None)
    if skip is None or decoder is None or skip.shape[-1] != 1:
        raise ValueError("trainer.ridge_init needs a one-output Lyra model built with linear_skip=True")
    train_x, train_mask = dense(train.x), dense(train.mask)  # ridge sees every row at once
    x = (train_x * train_mask.unsqueeze(-1).to(train_x.dtype)).float()
    length = x.shape[1]
    if length > skip.shape[0]:
        raise ValueError(f"training sequences of length {length} exceed the model's max_len={skip.shape[0]}")
    pair_table = getattr(model, "pair_table", None)
    if pair_table is None:
        fitted = fit_linear(x.reshape(len(x), -1).numpy(), train.y.numpy().astype(float), "regression")
    else:
        fitted = fit_pair_ridge(train_x, train_mask, train.y.numpy(), model.pair_sites.tolist())
    n_site = length * x.shape[2]
    skip.zero_()
    skip[:length, :, 0] = torch.as_tensor(fitted.coef_[:n_site], dtype=skip.dtype).reshape(length, x.shape[2])
    if pair_table is not None:
        pair_table[..., 0] = torch.as_tensor(fitted.coef_[n_site:], dtype=pair_table.dtype).reshape(pair_table.shape[:3])
    decoder.weight.zero_()
    decoder.bias.fill_(float(fitted.intercept_))
    if getattr(model, "head_output", None) is not None:  # Lyra(hidden_head=H): silence the hidden head too
        model.head_output.weight.zero_()
    return float(fitted.alpha_)


def start_from_ridge(model: torch.nn.Module, train: EncodedSet, ridge_init: bool, freeze_ridge: bool,
                     regression: bool) -> str | None:
    """Apply ``trainer.ridge_init`` (and ``freeze_ridge``) to a Lyra before training.

    The skip (and pair) weights start from the ridge fit (``ridge_initialise``) and the
    decoder keeps its own random weights: from a zero decoder the network barely moves
    (its initial features are nearly additive, so they hardly correlate with what ridge
    leaves over, and the decoder gets no gradient). With ``freeze_ridge`` the skip and
    pair tables are not trained (their ``requires_grad`` is off, so the optimiser never
    sees them) and the decoder stays at zero: the prediction starts as the frozen ridge
    fit's and the network adds what it learns of the residual. Returns what was done,
    for the log, or None when there was nothing to do (no ``ridge_init``, or a model
    without the one-hot skip head, which ignores the option: a task's trainer block is
    shared by every model trained on it).
    """
    if not ridge_init:
        return None
    if getattr(model, "skip", None) is None:
        log.info("trainer.ridge_init ignored: %s has no linear_skip head", type(model).__name__)
        return None
    if not regression:
        raise ValueError("trainer.ridge_init is for regression tasks only")
    if freeze_ridge:
        for table in (model.skip, getattr(model, "pair_table", None)):
            if table is not None:
                table.requires_grad_(False)
    decoder_weight = model.decoder.weight.detach().clone()
    alpha = ridge_initialise(model, train)
    if not freeze_ridge:
        with torch.no_grad():
            model.decoder.weight.copy_(decoder_weight)
    return f"ridge initialisation (alpha {alpha:g}{', frozen' if freeze_ridge else ''})"
