"""Pooling over the positions of a padded batch: padding (mask False) never counts."""

from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` (B, L, D) over positions where ``mask`` (B, L) is True."""
    weights = mask.to(x.dtype).unsqueeze(-1)
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Maximum of ``x`` (B, L, D) over positions where ``mask`` (B, L) is True."""
    return x.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)


POOLING = {"mean": masked_mean, "max": masked_max}
