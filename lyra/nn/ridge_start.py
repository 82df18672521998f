"""A ``linear_skip`` Lyra started from ridge regression (``trainer.ridge_init``): the
network then learns what ridge leaves over."""

from __future__ import annotations

import torch

from lyra.data.encode import dense
from lyra.nn.baselines import fit_linear
from lyra.nn.pairs import fit_pair_ridge
from lyra.nn.run import EncodedSet


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
