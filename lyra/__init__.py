"""Lyra: subquadratic sequence-to-function models (PGC + S4D)."""

from lyra.model import PGC, S4D, Lyra

__all__ = ["Lyra", "PGC", "S4D"]
__version__ = "0.1.0"
