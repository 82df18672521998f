"""Lyra's fast path for single substitutions: the outputs of every single mutant of one
sequence without running the whole model on each (in-silico mutagenesis, variant scoring).

An inference algorithm on a trained ``Lyra``, kept apart from the model itself; it uses the
model's two halves, ``local_features`` (encoder, positions, PGC blocks) and ``read_out``
(pooling or flatten, decoder and heads), and its S4D layer's kernel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lyra.nn.lyra import Lyra

SUBSTITUTION_CHUNK_ELEMENTS = 2**24  # substitution_outputs: mutants x length x 2 d_model per step


def local_radius(model: Lyra) -> int:
    """How far a change at one position reaches through the PGC blocks (sum of halos)."""
    return sum(pgc.conv.kernel_size[0] // 2 for pgc in model.pgc_layers)


@torch.no_grad()
def substitution_outputs(model: Lyra, x: torch.Tensor, letters: torch.Tensor, positions: torch.Tensor,
                         letter_index: torch.Tensor, chunk_positions: int | None = None) -> torch.Tensor:
    """Outputs (M, d_output) of the sequence ``x`` (L, d_input) with position
    ``positions[m]`` (0-based) set to the input vector ``letters[letter_index[m]]``, equal
    to ``model.forward`` on each mutated sequence (eval mode, at most one S4D layer).

    A substitution changes the local layers' output only within ``local_radius`` of its
    position, and the S4D layer is linear before its activation: ``y = K * u + D u``
    becomes ``y_ref + K * du`` with ``du`` nonzero on that window. So the encoder and
    the PGC blocks run on a small patch per position, the long convolution is replaced
    by a few shifted kernels, and only the S4D output map and the readout run over the
    whole length, for the mutants of ``chunk_positions`` positions at a time (default:
    as many as keep the widest intermediate near ``SUBSTITUTION_CHUNK_ELEMENTS``).
    """
    if model.training or len(model.s4d_layers) > 1:
        raise ValueError("substitution_outputs needs eval mode and at most one S4D layer")
    length, radius = x.shape[0], local_radius(model)
    model.check_length(length)
    h_ref = model.local_features(x.unsqueeze(0), None)[0]  # (L, H)
    if chunk_positions is None:
        per_site = max(1, len(positions) // max(1, len(torch.unique(positions))))
        chunk_positions = max(1, SUBSTITUTION_CHUNK_ELEMENTS // (per_site * length * 2 * max(1, h_ref.shape[-1])))
    s4d = model.s4d_layers[0] if len(model.s4d_layers) else None
    if s4d is not None:
        norm = model.s4d_norms[0]
        u_ref = norm(h_ref)
        y_ref = s4d.ssm(u_ref.T.unsqueeze(0))[0].T  # (L, H), before the activation
        # shifted[t, h, l] = kernel at lag (t + l - (L - 1)): a site j's kernels are row L - 1 - j
        shifted = s4d.lags(length).T.contiguous().unfold(0, length, 1)
    out = torch.empty(len(positions), model.decoder.out_features, dtype=h_ref.dtype, device=h_ref.device)
    order = torch.argsort(positions, stable=True)
    sites, counts = torch.unique_consecutive(positions[order], return_counts=True)
    bounds = [0, *torch.cumsum(counts, 0).tolist()]
    for first in range(0, len(sites), chunk_positions):
        last = min(len(sites), first + chunk_positions)
        rows = order[bounds[first]:bounds[last]]
        window, delta = _window_deltas(model, x, h_ref, letters, positions[rows], letter_index[rows], radius)
        safe = window.clamp(0, length - 1)  # beyond the ends: delta is 0 there
        index = safe.unsqueeze(-1).expand_as(delta)
        h = h_ref.expand(len(rows), -1, -1).clone().scatter_add_(1, index, delta)
        if s4d is not None:
            du = (norm(h.gather(1, index)) - u_ref[safe]) * (window >= 0).unsqueeze(-1)
            y = y_ref.expand(len(rows), -1, -1).clone().scatter_add_(1, index, du * s4d.D)  # + D du
            for site in range(first, last):  # + K * du; a site's mutants share its shifted kernels
                lo, hi = bounds[site] - bounds[first], bounds[site + 1] - bounds[first]
                kernels = shifted[length - 1 - safe[lo]]  # (2r + 1, H, L)
                y[lo:hi] += torch.einsum("khl,nkh->nlh", kernels, du[lo:hi])
            z = F.linear(s4d.activation(y), s4d.output_linear.weight.squeeze(-1), s4d.output_linear.bias)
            h = h + F.glu(z, dim=-1)
        mutated = x.expand(len(rows), -1, -1).clone()
        mutated[torch.arange(len(rows)), positions[rows]] = letters[letter_index[rows]]
        out[rows] = model.read_out(h, mutated, None)
    return out


def _window_deltas(model: Lyra, x, h_ref, letters, positions, letter_index, radius):
    """For each mutant, the window of positions its substitution reaches (M, 2r + 1; -1
    beyond the sequence) and the change of the local layers' output there (M, 2r + 1, H):
    the local layers run on the patch of 2r positions each side, clipped to the sequence
    (so the convolutions' zero padding is the real one at the ends; the window stays r
    positions clear of a clipped patch edge, where the patch is wrong)."""
    length = x.shape[0]
    offsets = torch.arange(-radius, radius + 1)
    window = positions.unsqueeze(1) + offsets
    window = torch.where((window >= 0) & (window < length), window, torch.full_like(window, -1))
    delta = h_ref.new_zeros(len(positions), 2 * radius + 1, h_ref.shape[-1])
    for site in torch.unique(positions).tolist():
        rows = (positions == site).nonzero().squeeze(1)
        lo, hi = max(0, site - 2 * radius), min(length, site + 2 * radius + 1)
        patch = x[lo:hi].expand(len(rows), -1, -1).clone()
        patch[:, site - lo] = letters[letter_index[rows]]
        h_patch = model.local_features(patch, None, start=lo)
        for k, position in enumerate(window[rows[0]].tolist()):
            if position >= 0:
                delta[rows, k] = h_patch[:, position - lo] - h_ref[position]
    return window, delta
