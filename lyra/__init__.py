"""Lyra: subquadratic sequence-to-function models (PGC + S4D).

The model classes are imported on first use, so that workflow steps which only
read tables or draw figures (most of the jobs in a run) do not pay for importing
PyTorch.
"""

__all__ = ["Lyra", "PGC", "S4D"]
__version__ = "0.1.0"


def __getattr__(name):
    if name in __all__:
        from lyra.nn import lyra as model

        return getattr(model, name)
    raise AttributeError(f"module 'lyra' has no attribute {name!r}")
