"""Sequence alphabets: canonical letters and ambiguity codes.

Ambiguity codes are the IUPAC ones: for proteins X (any), B (D/N), Z (E/Q) and J (I/L);
for nucleic acids N and the two- and three-base codes R Y S W K M B D H V. All of them
are handled alike, by the task's ``ambiguous`` policy (error, zero vector or uniform
1/A vector). Non-canonical residues such as U (selenocysteine) or O (pyrrolysine) in a
protein, and gaps or stop symbols, are never accepted.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Alphabet:
    """Canonical letters (one-hot channel order) and accepted ambiguity codes."""

    name: str
    letters: str
    ambiguous: str


_NUCLEIC_AMBIGUOUS = "NRYSWKMBDHV"

ALPHABETS = {
    "protein": Alphabet("protein", "ACDEFGHIKLMNPQRSTVWY", "XBZJ"),
    "dna": Alphabet("dna", "ACGT", _NUCLEIC_AMBIGUOUS),
    "rna": Alphabet("rna", "ACGU", _NUCLEIC_AMBIGUOUS),
}


def get_alphabet(name: str) -> Alphabet:
    """Return the alphabet called ``name`` (protein, dna or rna)."""
    try:
        return ALPHABETS[name]
    except KeyError:
        raise ValueError(f"unknown alphabet {name!r}; choose one of {sorted(ALPHABETS)}") from None
