"""Lyra: subquadratic sequence-to-function models (PGC + S4D).

The model classes are imported on first use, so that workflow steps which only
read tables or draw figures (most of the jobs in a run) do not pay for importing
PyTorch.
"""

__all__ = ["Lyra", "PGC", "S4D"]
__version__ = "0.1.0"


def __getattr__(name):
    if name in ("Lyra", "PGC"):
        from lyra.nn import lyra as home
    elif name == "S4D":
        from lyra.nn import s4d as home
    else:
        raise AttributeError(f"module 'lyra' has no attribute {name!r}")
    return getattr(home, name)
