"""In-silico saturation mutagenesis: every single substitution of a reference sequence
scored by an ensemble, as effects relative to the reference.

Positions are 1-based. The effect of a mutant is its ensemble score minus the
reference's; ``effect_std`` is the spread across members of the members' own effects
(each member's mutant score minus its own reference score), ``std`` the spread of the
mutant scores themselves. ``mutant_effects`` is the one place both the ISM and the
variant scoring (``lyra.variants``) compute these columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lyra.alphabets import get_alphabet
from lyra.encode import normalise_sequences
from lyra.ensemble import Ensemble
from lyra.errors import LyraInputError
from lyra.plots import mutagenesis_heatmap
from lyra.results import write_table

ISM_COLUMNS = ["reference_id", "position", "wt", "mut", "score", "effect", "std", "effect_std"]


def apply_mutations(reference: str, mutations) -> str:
    """``reference`` with each ``(position, wt, mut)`` (1-based) substituted."""
    letters = list(reference)
    for position, _, mut in mutations:
        letters[position - 1] = mut
    return "".join(letters)


def substitutions(reference: str, alphabet: str, include_wild_type: bool = False) -> pd.DataFrame:
    """Every single substitution of ``reference``: ``position`` (1-based), ``wt``, ``mut``,
    position by position in alphabet order (19 per position for protein, 3 for DNA/RNA;
    with ``include_wild_type`` every position x letter, the wild type among them)."""
    letters = get_alphabet(alphabet).letters
    rows = [(i + 1, wt, mut) for i, wt in enumerate(reference) for mut in letters
            if include_wild_type or mut != wt]
    return pd.DataFrame(rows, columns=["position", "wt", "mut"])


def mutant_effects(ensemble: Ensemble, reference: str, sequences: list[str], score_class: str | None = None,
                   device: str | None = None) -> pd.DataFrame:
    """``score``, ``std``, ``effect``, ``effect_std`` of ``sequences`` against ``reference``,
    all scored in one ensemble call (see the module docstring)."""
    members = ensemble.scores([reference, *sequences], score_class, device)
    mutant, base = members[:, 1:], members[:, :1]
    return pd.DataFrame({"score": mutant.mean(axis=0), "std": mutant.std(axis=0),
                         "effect": (mutant - base).mean(axis=0), "effect_std": (mutant - base).std(axis=0)})


def reference_score(ensemble: Ensemble, reference: str, score_class: str | None = None,
                    device: str | None = None) -> tuple[float, float]:
    """The ensemble mean and std of the reference's score."""
    members = ensemble.scores([reference], score_class, device)[:, 0]
    return float(members.mean()), float(members.std())


def saturation_mutagenesis(ensemble: Ensemble, reference: str, reference_id: str = "reference",
                           include_wild_type: bool = False, score_class: str | None = None,
                           device: str | None = None) -> pd.DataFrame:
    """The ISM table (``ISM_COLUMNS``) of one normalised reference sequence."""
    table = substitutions(reference, ensemble.alphabet, include_wild_type)
    sequences = [reference[:p - 1] + m + reference[p:] for p, m in zip(table["position"], table["mut"])]
    effects = mutant_effects(ensemble, reference, sequences, score_class, device)
    table = pd.concat([table, effects], axis=1)
    table.insert(0, "reference_id", reference_id)
    return table[ISM_COLUMNS]


def write_mutagenesis(ensemble: Ensemble, references: list[tuple[str, str]], out: str | Path,
                      heatmap: str | Path | None = None, include_wild_type: bool = False,
                      score_class: str | None = None, device: str | None = None, row_length: int = 100) -> pd.DataFrame:
    """ISM of each (id, normalised sequence) in ``references``: one TSV at ``out`` and a
    heatmap per reference (``heatmap``, default ``out`` with .png; ``<stem>.<id>.png``
    for several references). Returns the table."""
    heatmap = Path(heatmap) if heatmap else Path(out).with_suffix(".png")
    letters = get_alphabet(ensemble.alphabet).letters
    tables = []
    for ref_id, sequence in references:
        table = saturation_mutagenesis(ensemble, sequence, ref_id, include_wild_type, score_class, device)
        tables.append(table)
        path = heatmap if len(references) == 1 else heatmap.with_name(f"{heatmap.stem}.{ref_id}{heatmap.suffix}")
        title = f"{ref_id}: in-silico saturation mutagenesis ({len(ensemble)} model(s), {len(sequence)} positions)"
        mutagenesis_heatmap(effect_matrix(table, letters), sequence, letters, path, title, row_length)
    table = pd.concat(tables, ignore_index=True)
    write_table(table, out)
    return table


def normalise_reference(sequence: str, ensemble: Ensemble, source: str = "reference",
                        name: str = "reference") -> str:
    """The reference upper-cased and checked against the models' alphabet (LyraInputError
    naming ``source`` and the letter otherwise); ambiguity codes are refused, since a
    substitution needs a definite wild-type letter."""
    normalised, _ = normalise_sequences([sequence], [name], ensemble.alphabet, "error", t_as_u=ensemble.t_as_u,
                                        source=source)
    return normalised[0]


def resolve_reference(reference: str, records: pd.DataFrame, alphabet: str, t_as_u: bool = False,
                      source: str = "config") -> tuple[str, str]:
    """A task's ``reference:``: the id of a record in ``records`` (id and sequence
    columns), else a sequence in ``alphabet``. Returns (id, normalised sequence)."""
    match = records.loc[records["id"].astype(str) == str(reference), "sequence"]
    if len(match):
        return str(reference), str(match.iloc[0])
    try:
        normalised, _ = normalise_sequences([reference], ["reference"], alphabet, "error", t_as_u=t_as_u,
                                            source=source, locations=["key reference"])
    except LyraInputError as error:
        shown = reference if len(reference) <= 40 else reference[:40] + "..."
        raise LyraInputError(source, "key reference", f"'{shown}' is not an id in the task's data, and as a "
                             f"sequence: {error.problem}") from None
    return "reference", normalised[0]


def effect_matrix(ism: pd.DataFrame, letters: str) -> np.ndarray:
    """Effects as a (letters, positions) array for one reference; the wild type (and any
    substitution not in ``ism``) is NaN."""
    length = int(ism["position"].max())
    matrix = np.full((len(letters), length), np.nan)
    rows = ism["mut"].map({c: i for i, c in enumerate(letters)}).to_numpy()
    matrix[rows, ism["position"].to_numpy() - 1] = ism["effect"].to_numpy()
    wild_type = (ism["mut"] == ism["wt"]).to_numpy()
    matrix[rows[wild_type], ism["position"].to_numpy()[wild_type] - 1] = np.nan
    return matrix
