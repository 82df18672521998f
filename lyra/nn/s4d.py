"""The S4D layer: a diagonal state-space model applied as a long convolution, its kernel
built from the discretised parameters, the convolution by FFT or, for short inputs, as a
dense (Toeplitz) product, and the kernel cached in eval mode.

It follows the diagonal state-space formulation of Gu et al. 2022 ("On the
Parameterization and Initialization of Diagonal State Space Models", S4D-Lin init).
Padded positions enter as zeros, so a sequence's output does not depend on its batch.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.fft import next_fast_len


class S4D(nn.Module):
    """Diagonal state-space layer applied as a long convolution (FFT, or a dense product for short inputs).

    Each of the ``d_model`` channels has ``d_state // 2`` complex modes (conjugate pairs
    give ``d_state`` real states). With zero-order-hold discretisation the convolution
    kernel is ``K[l] = 2 Re(sum_n C_n (exp(dt A_n) - 1) / A_n * exp(dt A_n l))``.
    The output is ``GLU(conv1x1(dropout(GELU(K * u + D u))))``. In eval mode without
    autograd the kernel, in the form the convolution uses, is cached until a parameter
    changes, so it is built once for many batches of one length.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        dropout: float = 0.0,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        bidirectional: bool = False,
        ssm_lr: float | None = None,
    ):
        super().__init__()
        if d_state % 2:
            raise ValueError(f"d_state must be even (conjugate pairs), got {d_state}")
        self.d_model, self.n_modes, self.bidirectional = d_model, d_state // 2, bidirectional
        n_kernels = 2 if bidirectional else 1

        log_dt = torch.rand(d_model) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        self.log_dt = nn.Parameter(log_dt)
        # S4D-Lin: A_n = -1/2 + i pi n
        self.log_A_real = nn.Parameter(torch.log(0.5 * torch.ones(d_model, self.n_modes)))
        self.A_imag = nn.Parameter(math.pi * torch.arange(self.n_modes).float().repeat(d_model, 1))
        C = torch.randn(n_kernels, d_model, self.n_modes, dtype=torch.cfloat)
        self.C = nn.Parameter(torch.view_as_real(C))
        self.D = nn.Parameter(torch.randn(d_model))
        for name in ("log_dt", "log_A_real", "A_imag"):
            getattr(self, name)._optim = {"weight_decay": 0.0, "lr": ssm_lr}

        self.activation = nn.GELU()
        self.dropout = nn.Dropout1d(dropout) if dropout > 0 else nn.Identity()  # channel-tied
        self.output_linear = nn.Conv1d(d_model, 2 * d_model, kernel_size=1)
        self._kernel_cache: tuple | None = None

    def _discrete_parameters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``dt * A`` (H, N/2) and the ZOH-scaled ``C`` (K, H, N/2)."""
        dt = torch.exp(self.log_dt)
        A = torch.complex(-torch.exp(self.log_A_real), self.A_imag)
        dtA = A * dt.unsqueeze(-1)
        C = torch.view_as_complex(self.C) * (torch.exp(dtA) - 1.0) / A
        return dtA, C

    def kernel(self, L: int) -> torch.Tensor:
        """The real convolution kernel, shape (d_model, L) (causal direction)."""
        return self._kernels(L)[0]

    def _kernels(self, L: int) -> torch.Tensor:
        """All kernels (n_kernels, d_model, L) for length ``L``.

        ``exp(dtA l)`` is never materialised as an (H, N/2, L) tensor: writing
        ``l = q * B + r`` gives ``exp(dtA l) = exp(dtA q B) exp(dtA r)``, so the sum over modes
        becomes a (Q x N/2) @ (N/2 x B) product per channel. Only its real part is needed, and
        ``Re(P W) = Re(P) Re(W) - Im(P) Im(W)`` is one real matmul of the stacked parts.
        """
        dtA, C = self._discrete_parameters()
        block = max(1, math.isqrt(L))
        n_blocks = -(-L // block)
        device = dtA.device
        r = torch.arange(block, device=device, dtype=dtA.real.dtype)
        q = torch.arange(n_blocks, device=device, dtype=dtA.real.dtype) * block
        within = torch.exp(dtA.unsqueeze(-1) * r)  # (H, N/2, B)
        across = C.unsqueeze(2) * torch.exp(dtA.unsqueeze(1) * q.unsqueeze(-1))  # (K, H, Q, N/2)
        across_real = torch.cat([across.real, -across.imag], dim=-1)  # (K, H, Q, N)
        within_real = torch.cat([within.real, within.imag], dim=-2)  # (H, N, B)
        K = torch.matmul(across_real, within_real)  # (K, H, Q, B)
        return 2.0 * K.flatten(-2)[..., :L]

    def _operand(self, L: int, direct: bool) -> torch.Tensor:
        """What the convolution multiplies by: Toeplitz matrices (direct) or the kernels' rfft."""
        k = self._kernels(L)
        if direct:
            return self._toeplitz(k)
        n = next_fast_len(2 * L, real=True)
        if self.bidirectional:
            # forward lags at [0, L), backward lags -1..-L at the end of the circular buffer
            k = F.pad(k[0], (0, n - L)) + F.pad(k[1].flip(-1), (n - L, 0))
        else:
            k = k[0]
        return torch.fft.rfft(k, n=n)

    def _cached_operand(self, L: int, direct: bool) -> torch.Tensor:
        """``_operand``, reused in eval mode without autograd until a parameter changes."""
        if self.training or torch.is_grad_enabled():
            self._kernel_cache = None
            return self._operand(L, direct)
        params = (self.log_dt, self.log_A_real, self.A_imag, self.C)
        key = (L, direct, self.log_dt.device, tuple((id(p), p._version) for p in params))
        if self._kernel_cache is None or self._kernel_cache[0] != key:
            self._kernel_cache = (key, self._operand(L, direct))
        return self._kernel_cache[1]

    def ssm(self, u: torch.Tensor) -> torch.Tensor:
        """The linear state-space map ``y = K * u + D u`` for ``u`` of shape (B, H, L).

        Short sequences in large batches use a dense (L x L) Toeplitz matrix per channel,
        which there is faster than the FFT and its backward; otherwise the convolution is an
        FFT product zero-padded to a fast length >= 2L (no wrap-around).
        """
        batch, _, L = u.shape
        direct = L <= 64 or (L <= 128 and batch >= 128)
        with torch.autocast(u.device.type, enabled=False):  # float32 under bf16 autocast too
            if u.dtype in (torch.float16, torch.bfloat16):
                u = u.float()
            operand = self._cached_operand(L, direct)
            if direct:
                y = torch.matmul(u.transpose(0, 1), operand.transpose(1, 2)).transpose(0, 1)
            else:
                n = next_fast_len(2 * L, real=True)
                y = torch.fft.irfft(torch.fft.rfft(u, n=n) * operand, n=n)[..., :L]
            return torch.addcmul(y, u, self.D.unsqueeze(-1))

    def _toeplitz(self, k: torch.Tensor) -> torch.Tensor:
        """Matrices (H, L, L) with ``[h, i, j]`` = channel h's kernel at lag ``i - j``.

        Lags ``d < 0`` use the backward kernel ``k[1][-d - 1]`` when bidirectional, else 0.
        """
        L = k.shape[-1]
        return self._by_lag(k).unfold(-1, L, 1).flip(-1)

    def lags(self, L: int) -> torch.Tensor:
        """The kernel by lag, (H, 2L - 1): index ``L - 1 + d`` holds lag ``d`` for
        ``d`` in -(L-1)..L-1 (negative lags: the backward kernel if bidirectional, else 0)."""
        return self._by_lag(self._kernels(L))

    def _by_lag(self, k: torch.Tensor) -> torch.Tensor:
        L = k.shape[-1]
        by_lag = F.pad(k[0], (L - 1, 0))
        if self.bidirectional:
            by_lag = by_lag + F.pad(k[1, :, : L - 1].flip(-1), (0, L))
        return by_lag

    def forward(self, u: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Apply the layer to ``u`` (B, L, H); padded positions are zeroed first."""
        if mask is not None:
            u = u * mask.unsqueeze(-1).to(u.dtype)
        y = self.ssm(u.transpose(1, 2))
        y = self.dropout(self.activation(y)).transpose(1, 2)  # back to (B, L, H)
        # the 1x1 convolution as a matmul in (B, L, H) layout: one GEMM, no transposes
        y = F.linear(y, self.output_linear.weight.squeeze(-1), self.output_linear.bias)
        return F.glu(y, dim=-1)
