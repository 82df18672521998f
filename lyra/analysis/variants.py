"""Variant-effect scoring: ProteinGym/HGVS-like variant strings against a reference, scored
by an ensemble; and a design shortlist of the best-scoring variants not yet measured.

A variant is ``<wt><position><mut>`` with a 1-based position (``A23G``; DNA ``C12T``),
or several joined by ``:`` (``A23G:V39W``). Every wild-type letter is checked against the
reference; a malformed string, a position outside the reference, a letter outside the
alphabet, a letter replaced by itself, a position mutated twice and a variant listed
twice are each one LyraInputError naming the file, the line and the problem.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pandas as pd

from lyra.data.alphabets import get_alphabet
from lyra.analysis.ensemble import Ensemble
from lyra.errors import LyraInputError
from lyra.io import read_table, table_line
from lyra.analysis.mutagenesis import apply_mutations, mutant_effects, saturation_mutagenesis

VARIANT_COLUMNS = ("variant", "mutant")  # the column read from a table (ProteinGym calls it mutant)
_TOKEN = re.compile(r"([A-Za-z])(\d+)([A-Za-z])")

Mutation = tuple[int, str, str]  # (1-based position, wild-type letter, mutant letter)


def variant_name(mutations) -> str:
    """``A23G:V39W``, the mutations in position order."""
    return ":".join(f"{wt}{position}{mut}" for position, wt, mut in sorted(mutations))


def parse_variant(text: str, reference: str, alphabet: str, source: str = "variants",
                  location: str = "line 1") -> tuple[Mutation, ...]:
    """The mutations of one variant string, checked against ``reference`` (sorted by position)."""
    letters = get_alphabet(alphabet).letters
    text = str(text).strip()

    def fail(problem: str):
        raise LyraInputError(source, location, f"variant '{text}': {problem}")

    if not text:
        fail("empty variant")
    mutations, seen = [], {}
    for token in text.split(":"):
        found = _TOKEN.fullmatch(token.strip())
        if not found:
            fail(f"'{token}' is not <wild type><position><mutant>, e.g. {letters[0]}23{letters[-1]}")
        wt, position, mut = found.group(1).upper(), int(found.group(2)), found.group(3).upper()
        for letter in (wt, mut):
            if letter not in letters:
                fail(f"letter '{letter}' is not in the {alphabet} alphabet {letters}")
        if not 1 <= position <= len(reference):
            fail(f"position {position} is outside the reference (1-{len(reference)})")
        if reference[position - 1] != wt:
            fail(f"wild-type letter {wt} at position {position} does not match the reference, "
                 f"which has {reference[position - 1]}")
        if mut == wt:
            fail(f"{token} replaces {wt} by itself")
        if position in seen:
            fail(f"position {position} is mutated twice ({seen[position]} and {token})")
        seen[position] = token
        mutations.append((position, wt, mut))
    return tuple(sorted(mutations))


def read_variant_strings(path: str | Path) -> list[tuple[str, str]]:
    """(location, variant string) for each variant of ``path``: a CSV/TSV (optionally
    .gz) with a ``variant`` (or ``mutant``) column, else one variant per line (blank lines
    and lines starting with # are skipped; a first line ``variant`` is a header)."""
    path = Path(path)
    if not path.is_file():
        raise LyraInputError(path, "file", "no such file")
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".zip")]
    if suffixes and suffixes[-1] in (".csv", ".tsv"):
        table = read_table(path)
        column = next((c for c in VARIANT_COLUMNS if c in table.columns), None)
        if column is None:
            raise LyraInputError(path, "header", f"no column 'variant' (or 'mutant'); columns: "
                                 f"{', '.join(map(str, table.columns))}")
        return [(f"line {table_line(table, label)}", "" if pd.isna(value) else str(value))
                for label, value in table[column].items()]
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#") or (not entries and line.lower() in VARIANT_COLUMNS):
            continue
        entries.append((f"line {number}", line))
    if not entries:
        raise LyraInputError(path, "file", "no variants")
    return entries


def read_variants(path: str | Path, reference: str, alphabet: str) -> list[tuple[Mutation, ...]]:
    """Every variant of ``path`` parsed and checked (see ``parse_variant``); a variant
    listed twice (in any mutation order) is an error naming both lines."""
    variants, first_seen = [], {}
    for location, text in read_variant_strings(path):
        mutations = parse_variant(text, reference, alphabet, str(path), location)
        if mutations in first_seen:
            raise LyraInputError(path, location, f"variant '{text.strip()}' repeats {first_seen[mutations]} "
                                 f"({variant_name(mutations)})")
        first_seen[mutations] = location
        variants.append(mutations)
    return variants


def score_variants(ensemble: Ensemble, reference: str, variants: list[tuple[Mutation, ...]],
                   score_class: str | None = None, device: str | None = None) -> pd.DataFrame:
    """Per variant: ``variant``, ``n_mutations``, ``score``, ``std``, ``effect``, ``effect_std``
    (``lyra.analysis.mutagenesis.mutant_effects``), in input order."""
    sequences = [apply_mutations(reference, mutations) for mutations in variants]
    effects = mutant_effects(ensemble, reference, sequences, score_class, device)
    effects.insert(0, "n_mutations", [len(m) for m in variants])
    effects.insert(0, "variant", [variant_name(m) for m in variants])
    return effects


def design_shortlist(ensemble: Ensemble, reference: str, top: int, max_order: int = 1, pool: int = 20,
                     seen: set | None = None, minimize: bool = False, score_class: str | None = None,
                     device: str | None = None) -> pd.DataFrame:
    """The ``top`` best-scoring variants not in ``seen``: every single substitution, and for
    ``max_order`` > 1 every combination of up to that many of the ``pool`` best singles
    (at distinct positions). Ranked by ensemble mean score (lowest first with
    ``minimize``), with the ensemble std beside it."""
    if top < 1 or max_order < 1:
        raise ValueError("--top and --max-order must be at least 1")
    seen = seen or set()
    singles = saturation_mutagenesis(ensemble, reference, score_class=score_class, device=device)
    singles["mutations"] = [((p, w, m),) for p, w, m in zip(singles["position"], singles["wt"], singles["mut"])]
    sign = -1.0 if minimize else 1.0
    best = singles.assign(order=sign * singles["score"]).sort_values("order", ascending=False).head(pool)
    combos = [tuple(sorted(c)) for order in range(2, max_order + 1)
              for c in itertools.combinations([m[0] for m in best["mutations"]], order)
              if len({position for position, _, _ in c}) == order]
    frames = [singles.assign(n_mutations=1)]
    if combos:
        scored = score_variants(ensemble, reference, combos, score_class, device)
        frames.append(scored.assign(mutations=combos))
    candidates = pd.concat(frames, ignore_index=True)
    candidates["variant"] = [variant_name(m) for m in candidates["mutations"]]
    candidates = candidates[[m not in seen for m in candidates["mutations"]]]
    ranked = candidates.assign(order=sign * candidates["score"]).sort_values("order", ascending=False, kind="stable")
    ranked = ranked.head(top).reset_index(drop=True)
    ranked.insert(0, "rank", range(1, len(ranked) + 1))
    return ranked[["rank", "variant", "n_mutations", "score", "std", "effect", "effect_std"]]
