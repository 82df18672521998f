"""Torch files that hold only tensors and plain values, read without running code.

Model files (``model.pt``), training checkpoints (``checkpoint.pt``) and the files the
multi-device launcher passes between processes are written by ``save`` and read back
only through ``load``, which unpickles with ``weights_only=True``: tensors, dict,
list, tuple, str, int, float, bool and None are rebuilt, and a file naming any other
Python object (a class, a function such as ``os.system``) is refused before that object
is created, so opening a file from elsewhere cannot run code.
"""

from __future__ import annotations

import os
import pickle
import re

import torch

from lyra.io.atomic import atomic_path
from lyra.errors import LyraInputError


def save(obj: dict, path: str | os.PathLike) -> None:
    """Write ``obj`` (tensors and plain values) to ``path`` atomically, through a Python
    file, so that a refused write is the OSError naming its cause (torch's own writer
    reports only "iostream error"), which ``atomic_path`` turns into one line."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        try:
            torch.save(obj, handle)
        except RuntimeError as error:  # torch wraps the OSError that the file's write raised
            if isinstance(error.__context__, OSError):
                raise error.__context__ from None
            raise


def load(path: str | os.PathLike, map_location="cpu", mmap: bool = False) -> dict:
    """The dict saved in ``path`` (its tensors memory-mapped with ``mmap``); LyraInputError
    naming the file when it holds anything but tensors and plain values, or is not a
    readable torch file (truncated, another format). A missing or unreadable file is the
    OSError that ``open`` raises."""
    with open(path, "rb") as handle:
        saved = _unpickle(path, str(path) if mmap else handle, map_location, mmap)
    if not isinstance(saved, dict):
        raise LyraInputError(path, "contents", f"holds a {type(saved).__name__}, not the dict lyra writes")
    return saved


def _unpickle(path, source, map_location, mmap: bool):
    try:
        return torch.load(source, map_location=map_location, weights_only=True, mmap=mmap)
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
