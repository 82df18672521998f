"""The torch networks trained by ``lyra.training.loop.fit``, by name, and how to build one from its
options: one place for ``lyra.models.estimators``, ``lyra.models.saved`` and the ranks of ``lyra.training.launch``."""

from __future__ import annotations

import torch

from lyra.nn.baselines import CNN, TransformerEncoderModel
from lyra.config import MODELS
from lyra.nn.lyra import Lyra

MODULES = {"lyra": Lyra, "cnn": CNN, "transformer": TransformerEncoderModel}


def build_module(name: str, d_input: int, d_output: int, options: dict) -> torch.nn.Module:
    """Instantiate torch model ``name`` with constructor ``options``, naming any unknown option."""
    try:
        cls = MODULES[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {list(MODELS)}") from None
    try:
        return cls(d_input, d_output, **options)
    except TypeError as error:
        raise ValueError(f"bad option for model {name!r}: {error}") from None
