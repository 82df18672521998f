"""Torch files that hold only tensors and plain values, read without running code.

Model files (``model.pt``), training checkpoints (``checkpoint.pt``) and the files the
multi-device launcher passes between processes are written by ``save`` and read back
only through ``load``, which unpickles with ``weights_only=True``: tensors, dict,
list, tuple, str, int, float, bool and None are rebuilt, and a file naming any other
Python object (a class, a function such as ``os.system``) is refused before that object
is created, so opening a file from elsewhere cannot run code.
"""

from __future__ import annotations

import io
import os
import pickle
import re

import torch

from lyra.atomic import atomic_path
from lyra.errors import LyraInputError


def save(obj: dict, path: str | os.PathLike) -> None:
    """Write ``obj`` (tensors and plain values) to ``path`` atomically. It is serialised in
    memory and written by Python, so a full disk is an OSError naming its cause (torch's
    own file writer reports only "iostream error"), which ``atomic_path`` turns into one line."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())


def load(path: str | os.PathLike, map_location="cpu") -> dict:
    """The dict saved in ``path``; LyraInputError naming the file when it holds anything
    but tensors and plain values, or is not a readable torch file (truncated, another
    format). A missing or unreadable file is the OSError that ``open`` raises."""
    with open(path, "rb") as handle:
        saved = _unpickle(path, handle, map_location)
    if not isinstance(saved, dict):
        raise LyraInputError(path, "contents", f"holds a {type(saved).__name__}, not the dict lyra writes")
    return saved


def _unpickle(path, handle, map_location):
    try:
        return torch.load(handle, map_location=map_location, weights_only=True)
    except Exception as error:  # torch reports a damaged file with many types (RuntimeError, EOFError, OSError)
        if isinstance(error, pickle.UnpicklingError):
            found = re.search(r"GLOBAL (\S+)", str(error))
            if found:
                raise LyraInputError(path, "contents", f"holds a Python object ({found.group(1)}) besides tensors "
                                                       "and plain values; not loaded, since unpickling it could run "
                                                       "code") from None
            reason = "its pickled data is not what torch.save writes"
        else:
            reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise LyraInputError(path, "contents", f"not a readable torch file (truncated, or another format): "
                                               f"{reason}") from None
