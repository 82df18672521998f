"""The Lyra model: Projected Gated Convolutions (PGC) followed by an S4D layer.

Shapes: sequences enter as ``(batch, length, d_input)`` one-hot tensors with an optional
boolean ``mask`` of shape ``(batch, length)`` (True = real position). Every sequence-mixing
operation (the depthwise convolutions and the S4D convolution) sees padded positions as
zeros, and pooling ignores them, so a sequence's prediction does not depend on what it is
batched with. (The reference implementation averages padding into the pooled vector.)

The S4D layer, with its kernel, is ``lyra.nn.s4d``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from lyra.nn.pooling import POOLING
from lyra.nn.s4d import S4D

__all__ = ["Lyra", "PGC", "sinusoidal_positions"]


class _RMSNormFunction(torch.autograd.Function):
    """``x / rms(x) * weight`` over the last dimension, with a hand-written backward.

    PyTorch's CPU RMSNorm is composed of pow/mean/rsqrt/mul ops, and autograd
    differentiates each one; here the forward is one norm reduction and two products,
    and the backward reuses the normalised input: with ``n = x r``, ``r = rsqrt(mean(x^2) + eps)``
    and ``w`` the weight, ``dx = r (g w - n mean(g n w))`` and ``dw = sum(g n)`` over rows.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
        ms = torch.linalg.vector_norm(x, dim=-1, keepdim=True).square_().div_(x.shape[-1])
        r = ms.add_(eps).rsqrt_()
        normed = x * r
        if not any(ctx.needs_input_grad):
            return normed.mul_(weight)
        ctx.save_for_backward(normed, r, weight)
        return normed * weight

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        normed, r, weight = ctx.saved_tensors
        grad_times_normed = grad * normed
        grad_weight = grad_times_normed.reshape(-1, normed.shape[-1]).sum(0)
        mean_dot = torch.matmul(grad_times_normed, weight).div_(normed.shape[-1]).unsqueeze(-1)
        grad_x = torch.addcmul(grad * weight, normed, mean_dot, value=-1.0).mul_(r)
        return grad_x, grad_weight, None


class RMSNorm(nn.RMSNorm):
    """``nn.RMSNorm`` (same parameters and state dict) with a faster forward and backward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        eps = torch.finfo(x.dtype).eps if self.eps is None else self.eps
        return _RMSNormFunction.apply(x, self.weight, eps)


def depthwise_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Depthwise 'same' convolution of ``x`` (B, L, C) along L, with Conv1d's ``weight`` (C, 1, k).

    Equal to ``conv1d(x.transpose(1, 2), weight, bias, padding=k // 2, groups=C)``. Viewed
    as (B, C, 1, L), a (B, L, C) tensor is already in channels-last memory format, which
    the 2-D depthwise convolution handles natively: no transposes, and on CPU about ten
    times faster (forward and backward) than conv1d. The result is (B, L, C).
    """
    k = weight.shape[-1]
    as_image = x.transpose(1, 2).unsqueeze(2)  # (B, C, 1, L), channels-last strides
    out = F.conv2d(as_image, weight.unsqueeze(2), bias, padding=(0, k // 2), groups=weight.shape[0])
    return out.squeeze(2).transpose(1, 2)


class PGC(nn.Module):
    """Projected Gated Convolution: ``norm(out_proj(v * dwconv(x)))`` with ``[x, v] = norm(in_proj(u))``.

    The element-wise product of a local convolution path and a linear path models
    second-order interactions between nearby positions. ``gating="additive"`` replaces
    the product by a sum (an ablation, not Lyra).
    """

    INFERENCE_CHUNK = 4096  # positions per piece on long inputs without autograd (fastest measured here)

    def __init__(self, d_model: int, expansion: float = 1.0, kernel_size: int = 3, gating: str = "multiplicative"):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd to keep length, got {kernel_size}")
        if gating not in ("multiplicative", "additive"):
            raise ValueError(f"gating must be 'multiplicative' or 'additive', got {gating!r}")
        width = int(d_model * expansion)
        if width < 1:
            raise ValueError(f"d_model * expansion must be >= 1, got {d_model} * {expansion}")
        self.gating = gating
        self.in_proj = nn.Linear(d_model, 2 * width)
        self.in_norm = RMSNorm(2 * width, eps=1e-6)
        self.conv = nn.Conv1d(width, width, kernel_size, padding=kernel_size // 2, groups=width)
        self.out_proj = nn.Linear(width, d_model)
        self.out_norm = RMSNorm(d_model, eps=1e-6)

    def forward(self, u: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Apply the block to ``u`` (B, L, d_model); padded positions enter the conv as zeros.

        Without autograd, long inputs are processed in pieces along L (each with the
        convolution's halo of ``kernel_size // 2`` positions), so that the wide
        intermediate tensors stay small; the result is the same.
        """
        length = u.shape[1]
        if torch.is_grad_enabled() or length <= 2 * self.INFERENCE_CHUNK:
            return self._forward(u, mask)
        halo = self.conv.kernel_size[0] // 2
        out = u.new_empty(u.shape)
        for start in range(0, length, self.INFERENCE_CHUNK):
            stop = min(length, start + self.INFERENCE_CHUNK)
            lo, hi = max(0, start - halo), min(length, stop + halo)
            piece = self._forward(u[:, lo:hi], None if mask is None else mask[:, lo:hi])
            out[:, start:stop] = piece[:, start - lo : stop - lo]
        return out

    def _forward(self, u: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x, v = self.in_norm(self.in_proj(u)).chunk(2, dim=-1)
        if mask is not None:
            x = x * mask.unsqueeze(-1).to(x.dtype)
        conv_x = depthwise_conv(x, self.conv.weight, self.conv.bias)
        gated = v * conv_x if self.gating == "multiplicative" else v + conv_x
        return self.out_norm(self.out_proj(gated))


def sinusoidal_positions(length: int, d_model: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Fixed sine/cosine position table (length, d_model) of Vaswani et al. 2017.

    Channel ``2i`` is ``sin(p / 10000^(2i/d))`` and ``2i + 1`` is ``cos`` of the same
    angle (for odd ``d_model`` the last channel is a sine).
    """
    position = torch.arange(length, device=device, dtype=torch.float64).unsqueeze(1)
    freq = torch.exp(torch.arange(0, d_model, 2, device=device, dtype=torch.float64) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model, device=device, dtype=torch.float64)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)[:, : d_model // 2]
    return table.to(dtype)


def _linear(d_in: int, d_out: int) -> nn.Linear:
    """``nn.Linear``; with ``d_in`` 0 (no backbone features) a bias alone, initialised to zero."""
    if d_in:
        return nn.Linear(d_in, d_out)
    layer = nn.Linear(1, d_out)
    layer.weight = nn.Parameter(torch.zeros(d_out, 0))
    layer.in_features = 0
    nn.init.zeros_(layer.bias)
    return layer


POSITION_EMBEDDINGS = (None, "learned", "sinusoidal")
READOUTS = ("pool", "flatten")
# a training batch of at least this many positions (batch x length) recomputes each layer's
# activations in the backward pass instead of holding them: the same numbers, about a third
# more compute, and the memory of one layer's activations instead of all of them
CHECKPOINT_POSITIONS = 1 << 16


def options_needing_max_len(options: dict) -> list[str]:
    """The options among ``options`` (Lyra's keyword arguments, and ``pair_head``, which the
    pair screen turns into ``pair_sites``) that give the model one weight per position, so
    it needs ``max_len``: learned positions, the flatten readout, the one-hot skip head,
    the hidden head, a pair head. The one list of them, for the model and for the fold
    runner that sets ``max_len``."""
    checks = (("position_embedding='learned'", options.get("position_embedding") == "learned"),
              ("readout='flatten'", options.get("readout") == "flatten"),
              ("linear_skip=True", options.get("linear_skip")),
              ("hidden_head", options.get("hidden_head")),
              ("pair_head", options.get("pair_head")),
              ("pair_sites", options.get("pair_sites")))
    return [name for name, on in checks if on]


@dataclass(frozen=True)
class LyraOptions:
    """Lyra's options (a task's ``model:`` block; docs/task-config.md), typed, with the
    paper model's defaults, and validated once, when made: ``Lyra`` reads them from here.
    A model file keeps them as the plain values of its ``model_options`` record."""

    d_model: int = 64
    d_state: int = 64
    dropout: float = 0.2
    pgc_expansions: tuple[float, ...] = (0.25, 2.0)
    conv_kernel_size: int = 3
    gating: str = "multiplicative"
    n_s4d_layers: int = 1
    bidirectional: bool = False
    pooling: str = "mean"
    dt_min: float = 1e-3
    dt_max: float = 1e-1
    ssm_lr: float | None = None
    position_embedding: str | None = None
    position_scale: float = 1.0
    readout: str = "pool"
    linear_skip: bool = False
    pgc_residual: bool = False
    max_len: int | None = None
    skip_lr: float | None = None
    hidden_head: int | None = None
    pair_sites: list[list[int]] | None = None
    backbone: bool = True

    def __post_init__(self):
        if self.pooling not in POOLING:
            raise ValueError(f"pooling must be one of {sorted(POOLING)}, got {self.pooling!r}")
        position_embedding = self.effective_position_embedding
        if position_embedding not in POSITION_EMBEDDINGS:
            raise ValueError(f"position_embedding must be one of {list(POSITION_EMBEDDINGS)}, got {position_embedding!r}")
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {list(READOUTS)}, got {self.readout!r}")
        needs_length, max_len = self.needs_max_len, self.max_len
        if needs_length and (max_len is None or int(max_len) < 1):
            raise ValueError(f"{', '.join(needs_length)} need(s) max_len (the longest sequence length), got {max_len!r}")
        sites = self.sites()
        if len(sites) and (sites.min() < 0 or sites.max() >= int(max_len) or (sites[:, 0] == sites[:, 1]).any()):
            raise ValueError(f"pair_sites must be pairs of two different positions in 0..max_len-1={int(max_len) - 1}, "
                             f"got {sites.tolist()}")

    @property
    def effective_position_embedding(self) -> str | None:
        """No positions without a backbone (``backbone=False`` reads the input alone)."""
        return self.position_embedding if self.backbone else None

    @property
    def needs_max_len(self) -> list[str]:
        """The options set here that need ``max_len`` (``options_needing_max_len``)."""
        return options_needing_max_len({**dataclasses.asdict(self), "position_embedding": self.effective_position_embedding})

    def sites(self) -> torch.Tensor:
        """``pair_sites`` as a (K, 2) tensor of positions."""
        return torch.as_tensor(self.pair_sites if self.pair_sites else [], dtype=torch.long).reshape(-1, 2)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class Lyra(nn.Module):
    """Encoder -> PGC blocks -> residual S4D layers -> masked pooling -> decoder.

    With ``d_input=20, d_output=1`` and the defaults this has 47,169 trainable parameters.
    ``pgc_expansions=()`` gives an S4D-only model, ``n_s4d_layers=0`` a PGC-only model.

    The defaults are the paper architecture, in which every layer is (up to the causal
    S4D boundary) translation-equivariant and mean pooling discards where a feature
    occurred. For aligned, fixed-length inputs (fitness landscapes, where a letter's
    effect depends on its site) these options add absolute position; all are off by
    default:

    - ``position_embedding``: ``"learned"`` adds a trained (max_len, d_model) table after
      the encoder (zero-initialised, so training starts from the paper model);
      ``"sinusoidal"`` adds the fixed sine/cosine table times ``position_scale`` (no
      length limit).
    - ``readout="flatten"``: instead of pooling, the masked (max_len * d_model) vector of
      all positions goes through ``dropout`` to the decoder, so each position has its own
      read-out weights. Shorter sequences are treated as zero beyond their end.
    - ``linear_skip``: a per-position linear map of the one-hot input, ``sum_p x[p] W[p]``
      with ``W`` (max_len, d_input, d_output) zero-initialised, is added to the decoder
      output. One-hot ridge regression is thus nested in the model (the network then
      only has to fit what is not additive). ``skip_lr`` gives these weights their own
      learning rate (and no weight decay); ``TrainerConfig.ridge_init`` starts them from
      the ridge solution.
    - ``pgc_residual``: ``h = h + PGC(h)`` instead of ``h = PGC(h)``.
    - ``hidden_head=H``: a one-hidden-layer head added to the output,
      ``V gelu(sum_p x[p] U[p] + A r)`` with ``r`` the pooled (or flattened) features the
      decoder reads and ``U`` (max_len, d_input, H) per-position input weights. Its hidden
      units are latent phenotypes, each additive in the sequence plus what the network
      found, combined non-linearly: pairwise and higher-order epistasis between any two
      sites, which the local PGC blocks and the pooled S4D features learn slowly. ``V`` is
      zero-initialised, so training starts from the model without the head.
    - ``pair_sites=[[p, q], ...]``: a sparse pairwise head added to the output,
      ``sum_k x[p_k]^T T_k x[q_k]`` with ``T`` (K, d_input, d_input, d_output)
      zero-initialised: for one-hot input, one learned value per letter combination of
      each listed position pair (0-based). ``lyra.nn.pairs.screen_pairs`` finds such pairs
      in training rows (the ``pair_head`` model option); ``TrainerConfig.ridge_init`` then
      starts from ridge on one-hot plus these pair features.
    - ``backbone=False``: no encoder, positions, PGC or S4D layers (``pgc_expansions``,
      ``n_s4d_layers`` and ``position_embedding`` are ignored): the decoder and the hidden
      head read no backbone features, so the output is the decoder bias plus the skip,
      hidden and pair heads of the input alone - the ablation that measures what the
      backbone adds.

    ``learned`` positions, ``flatten``, ``linear_skip``, ``hidden_head`` and ``pair_sites`` need ``max_len`` (the longest
    sequence they accept; shorter ones are padded through the mask) and raise a
    ``ValueError`` on longer inputs.
    """

    def __init__(self, d_input: int, d_output: int, options: LyraOptions | None = None, **overrides):
        super().__init__()
        o = options if options is not None else LyraOptions()
        o = dataclasses.replace(o, **overrides) if overrides else o  # validated there, once
        self.options = o
        self.backbone = bool(o.backbone)
        d_model, pgc_expansions, n_s4d_layers = o.d_model, o.pgc_expansions, o.n_s4d_layers
        if not self.backbone:  # zero backbone features: the heads alone
            d_model, pgc_expansions, n_s4d_layers = 0, (), 0
        position_embedding = o.effective_position_embedding
        needs_length, sites = o.needs_max_len, o.sites()
        self.pooling, self.readout, self.pgc_residual = o.pooling, o.readout, bool(o.pgc_residual)
        self.position_embedding, self.position_scale = position_embedding, float(o.position_scale)
        self.max_len = None if o.max_len is None else int(o.max_len)
        self._length_limited_by = needs_length
        if self.backbone:
            self.encoder = nn.Linear(d_input, d_model)
        if position_embedding == "learned":
            self.positions = nn.Parameter(torch.zeros(self.max_len, d_model))
        self.pgc_layers = nn.ModuleList(
            PGC(d_model, expansion, o.conv_kernel_size, o.gating) for expansion in pgc_expansions
        )
        self.s4d_norms = nn.ModuleList(RMSNorm(d_model, eps=1e-6) for _ in range(n_s4d_layers))
        self.s4d_layers = nn.ModuleList(
            S4D(d_model, o.d_state, o.dropout, o.dt_min, o.dt_max, o.bidirectional, o.ssm_lr) for _ in range(n_s4d_layers)
        )
        self.dropout = nn.Dropout(o.dropout)
        self.decoder = _linear(self.max_len * d_model if o.readout == "flatten" else d_model, d_output)
        if o.linear_skip:
            self.skip = nn.Parameter(torch.zeros(self.max_len, d_input, d_output))
            if o.skip_lr is not None:  # its own learning rate (0 freezes it, e.g. after trainer.ridge_init)
                self.skip._optim = {"weight_decay": 0.0, "lr": o.skip_lr}
        if o.hidden_head:
            # one letter per position is on, so sum_p x[p] U[p] has variance max_len * std^2 = 1
            self.head_input = nn.Parameter(torch.randn(self.max_len, d_input, int(o.hidden_head)) / math.sqrt(self.max_len))
            self.head_features = _linear(self.decoder.in_features, int(o.hidden_head))
            self.head_output = nn.Linear(int(o.hidden_head), d_output, bias=False)
            nn.init.zeros_(self.head_output.weight)
        if len(sites):
            self.register_buffer("pair_sites", sites)
            self._pair_reach = int(sites.max()) + 1  # inputs shorter than this are zero-padded to it
            self.pair_table = nn.Parameter(torch.zeros(len(sites), d_input, d_input, d_output))

    def check_length(self, length: int) -> None:
        if self._length_limited_by and length > self.max_len:
            raise ValueError(
                f"input length {length} exceeds max_len={self.max_len} of this Lyra model "
                f"({', '.join(self._length_limited_by)} have one weight per position); "
                "build it with max_len >= the longest sequence, or turn these options off"
            )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Predict (B, d_output) from one-hot ``x`` (B, L, d_input) and ``mask`` (B, L).

        ``mask=None`` means every position is real; the masking work is then skipped.
        """
        length = x.shape[1]
        self.check_length(length)
        h = self.local_features(x, mask)
        for norm, s4d in zip(self.s4d_norms, self.s4d_layers):
            h = h + self.dropout(self._layer(lambda h, mask: s4d(norm(h), mask), h, mask))
        return self.read_out(h, x, mask)

    def _layer(self, layer, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """``layer(h, mask)``, recomputed in the backward pass for a long training batch
        (``CHECKPOINT_POSITIONS``)."""
        if self.training and torch.is_grad_enabled() and h.shape[0] * h.shape[1] >= CHECKPOINT_POSITIONS:
            return checkpoint(layer, h, mask, use_reentrant=False)
        return layer(h, mask)

    def local_features(self, x: torch.Tensor, mask: torch.Tensor | None, start: int = 0) -> torch.Tensor:
        """Encoder, positions and PGC blocks: the layers before the S4D ones, each of which
        sees only nearby positions. ``x`` holds positions ``start ..`` of the sequence; without
        a backbone, features of width 0."""
        if not self.backbone:
            return x.new_zeros(*x.shape[:2], 0)
        h = self.encoder(x)
        stop = start + x.shape[1]
        if self.position_embedding == "learned":
            h = h + self.positions[start:stop]
        elif self.position_embedding == "sinusoidal":
            h = h + self.position_scale * sinusoidal_positions(stop, h.shape[-1], h.device, h.dtype)[start:]
        for pgc in self.pgc_layers:
            h = h + self._layer(pgc, h, mask) if self.pgc_residual else self._layer(pgc, h, mask)
        return h

    def read_out(self, h: torch.Tensor, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Pooling (or flatten) and the decoder, plus the linear skip, hidden and pair heads of ``x``."""
        length = x.shape[1]
        if self.readout == "flatten":
            if mask is not None:
                h = h * mask.unsqueeze(-1).to(h.dtype)
            features = self.dropout(h.flatten(1))
            width = features.shape[1]  # positions beyond L would meet zeros
        else:
            if mask is None:
                features = h.mean(dim=1) if self.pooling == "mean" else h.amax(dim=1)
            else:
                features = POOLING[self.pooling](h, mask)
            width = features.shape[1]
        out = F.linear(features, self.decoder.weight[:, :width], self.decoder.bias)
        if hasattr(self, "skip") or hasattr(self, "head_input") or hasattr(self, "pair_table"):
            xs = x if mask is None else x * mask.unsqueeze(-1).to(x.dtype)
        if hasattr(self, "skip"):
            out = out + torch.einsum("bla,lao->bo", xs, self.skip[:length].to(xs.dtype))
        if hasattr(self, "head_input"):
            hidden = torch.einsum("bla,lah->bh", xs, self.head_input[:length].to(xs.dtype))
            hidden = hidden + F.linear(features, self.head_features.weight[:, :width], self.head_features.bias)
            out = out + self.head_output(self.dropout(F.gelu(hidden)))
        if hasattr(self, "pair_table"):
            xs = F.pad(xs, (0, 0, 0, max(0, self._pair_reach - length)))  # sites beyond the end see zeros
            left, right = xs[:, self.pair_sites[:, 0]], xs[:, self.pair_sites[:, 1]]  # (B, K, d_input)
            out = out + torch.einsum("bka,bkc,kaco->bo", left, right, self.pair_table.to(xs.dtype))
        return out
