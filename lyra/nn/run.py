"""Running a network on encoded rows, for training and for prediction alike: the rows
(``EncodedSet``), a batch of them on a device trimmed to its longest sequence, the numeric
precision of the forward pass, and the outputs of every row in input order."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class EncodedSet:
    """Inputs (features as a tensor, or ``lyra.data.encode.CodedInputs``: one byte per position,
    features built per batch), their mask and targets (standardised floats or class indices)."""

    x: torch.Tensor
    mask: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)


@contextlib.contextmanager
def precision_context(precision: str, device: torch.device):
    """Numerics of the model's forward pass, for GPUs: ``fp32`` as is; ``tf32`` lets CUDA
    matmuls and convolutions use TensorFloat-32 (no effect on a CPU); ``bf16`` runs the
    forward under bfloat16 autocast (the S4D convolution itself stays float32)."""
    if precision == "bf16":
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
            yield
    elif precision == "tf32" and torch.device(device).type == "cuda":
        saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
    else:
        yield


def device_batch(data: EncodedSet, index: torch.Tensor, device: torch.device) -> tuple:
    """Rows ``index`` trimmed to their longest sequence, on ``device``.

    The mask is None when no row is padded, so the model can skip the masking work.
    """
    lengths = data.mask[index].sum(1)
    width = int(lengths.max())
    mask = None if bool((lengths == width).all()) else data.mask[index, :width].to(device, non_blocking=True)
    return (
        data.x[index, :width].to(device, non_blocking=True),
        mask,
        data.y[index].to(device, non_blocking=True),
    )


@torch.no_grad()
def predict_outputs(model: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor, batch_size: int, device,
                    precision: str = "fp32") -> np.ndarray:
    """Raw model outputs (n, d_output) in eval mode, in input order."""
    model.eval()
    rows, outputs = EncodedSet(x, mask, torch.zeros(len(x))), []
    for start in range(0, len(x), batch_size):
        xb, mb, _ = device_batch(rows, torch.arange(start, min(start + batch_size, len(x))), device)
        with precision_context(precision, device):
            out = model(xb, mb)
        outputs.append(out.float().cpu())
    return torch.cat(outputs).numpy() if outputs else np.zeros((0, 1), dtype=np.float32)
