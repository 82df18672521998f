"""In-silico saturation mutagenesis: every single substitution of a reference sequence
scored by an ensemble, as effects relative to the reference.

Positions are 1-based. The effect of a mutant is its ensemble score minus the
reference's; ``effect_std`` is the spread across members of the members' own effects
(each member's mutant score minus its own reference score), ``std`` the spread of the
mutant scores themselves. ``mutant_effects`` is the one place both the ISM and the
variant scoring (``lyra.analysis.variants``) compute these columns.

For a k-fold task, ``cross_validated_map`` takes each substitution's effect from the
fold model that did not train on it and compares the map with the measured single
mutants: a check that the map means something beyond the training rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lyra.data.alphabets import get_alphabet
from lyra.data.encode import normalise_sequences
from lyra.analysis.ensemble import Ensemble
from lyra.errors import LyraInputError
from lyra.metrics import spearman
from lyra.report.plots import mutagenesis_comparison, mutagenesis_heatmap
from lyra.results import write_json, write_table

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
    return _summarise(members[:, 1:], members[:, 1:] - members[:, :1])


def _summarise(scores: np.ndarray, effects: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"score": scores.mean(axis=0), "std": scores.std(axis=0),
                         "effect": effects.mean(axis=0), "effect_std": effects.std(axis=0)})


def reference_score(ensemble: Ensemble, reference: str, score_class: str | None = None,
                    device: str | None = None) -> tuple[float, float]:
    """The ensemble mean and std of the reference's score."""
    members = ensemble.scores([reference], score_class, device)[:, 0]
    return float(members.mean()), float(members.std())


def saturation_mutagenesis(ensemble: Ensemble, reference: str, reference_id: str = "reference",
                           include_wild_type: bool = False, score_class: str | None = None,
                           device: str | None = None) -> pd.DataFrame:
    """The ISM table (``ISM_COLUMNS``) of one normalised reference sequence."""
    return _ism(ensemble, reference, reference_id, include_wild_type, score_class, device)[0]


def _ism(ensemble: Ensemble, reference: str, reference_id: str, include_wild_type: bool, score_class: str | None,
         device: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    """The ISM table and each member's effects (members, substitutions)."""
    table = substitutions(reference, ensemble.alphabet, include_wild_type)
    members = ensemble.substitution_scores(reference, (table["position"] - 1).tolist(), table["mut"].tolist(),
                                           score_class, device)
    scores, effects = members[:, 1:], members[:, 1:] - members[:, :1]
    table = pd.concat([table, _summarise(scores, effects)], axis=1)
    table.insert(0, "reference_id", reference_id)
    return table[ISM_COLUMNS], effects


def measured_singles(records: pd.DataFrame, reference: str) -> pd.DataFrame:
    """The rows of ``records`` (prepared table: sequence, target, fold) that are single
    substitutions of ``reference``: ``position`` (1-based), ``wt``, ``mut``, ``target``,
    ``fold``. Rows of another length, multi-mutants and the reference itself are left out."""
    rows = []
    for sequence, target, fold in zip(records["sequence"], records["target"], records["fold"]):
        if len(sequence) != len(reference):
            continue
        diff = [i for i, (a, b) in enumerate(zip(sequence, reference)) if a != b]
        if len(diff) == 1:
            rows.append((diff[0] + 1, reference[diff[0]], sequence[diff[0]], float(target), int(fold)))
    return pd.DataFrame(rows, columns=["position", "wt", "mut", "target", "fold"])


def held_out_folds(singles: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
    """For each substitution of ``table`` (position, mut), the fold whose model never trained
    on it, or -1: a measured substitution's own test fold; an unmeasured one, the fold
    that holds every measured substitution of its position out (position-held-out schemes
    such as ProteinGym's modulo and contiguous folds), if there is exactly one."""
    per_position = singles.groupby("position")["fold"].agg(lambda f: f.iloc[0] if f.nunique() == 1 else -1)
    per_substitution = singles.groupby(["position", "mut"])["fold"].agg(
        lambda f: f.iloc[0] if f.nunique() == 1 else -1)
    folds = [per_substitution.get((p, m), per_position.get(p, -1)) for p, m in zip(table["position"], table["mut"])]
    return np.asarray(folds, dtype=int)


def cross_validated_map(ensemble: Ensemble, reference: str, records: pd.DataFrame, reference_id: str = "reference",
                        score_class: str | None = None, device: str | None = None) -> tuple[pd.DataFrame, dict]:
    """The ISM of a k-fold task's fold models (member k trained without test fold k) with
    three more columns: ``cv_fold`` and ``cv_effect`` (the effect by the model of the fold
    that held the substitution out, see ``held_out_folds``; NaN where none did) and
    ``measured`` (the measured target of that single substitution, NaN if unmeasured);
    and the check: the Spearman of ``cv_effect`` against ``measured`` over the measured
    singles (the map's out-of-fold agreement with the experiment) beside that of the
    ensemble ``effect`` (in sample: the other folds trained on those rows)."""
    table, effects = _ism(ensemble, reference, reference_id, False, score_class, device)
    singles = measured_singles(records, reference)
    folds = held_out_folds(singles, table)
    folds[folds >= len(ensemble)] = -1
    table["cv_fold"] = folds
    table["cv_effect"] = np.where(folds >= 0, effects[np.maximum(folds, 0), np.arange(len(table))], np.nan)
    measured = singles.groupby(["position", "mut"])["target"].mean()
    table["measured"] = [measured.get((p, m), np.nan) for p, m in zip(table["position"], table["mut"])]
    scored = table.dropna(subset=["cv_effect", "measured"])
    check = {
        "measured_singles": int(table["measured"].notna().sum()),
        "n": len(scored),
        "positions": int(scored["position"].nunique()),
        "spearman_cross_validated": spearman(scored["measured"], scored["cv_effect"]).to_json(),
        "spearman_in_sample": spearman(scored["measured"], scored["effect"]).to_json(),
    }
    return table, check


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
        mutagenesis_heatmap(effect_matrix(table, letters), sequence, letters, path,
                            _heatmap_title(ref_id, ensemble, sequence), row_length)
    table = pd.concat(tables, ignore_index=True)
    write_table(table, out)
    return table


def _heatmap_title(ref_id: str, ensemble: Ensemble, sequence: str) -> str:
    return f"{ref_id}: in-silico saturation mutagenesis ({len(ensemble)} model(s), {len(sequence)} positions)"


def normalise_reference(sequence: str, ensemble: Ensemble, source: str = "reference",
                        name: str = "reference") -> str:
    """The reference upper-cased and checked against the models' alphabet (LyraInputError
    naming ``source`` and the letter otherwise); ambiguity codes are refused, since a
    substitution needs a definite wild-type letter. The task's length rules apply."""
    rules = {key: value for key, value in ensemble.input_rules.items() if key != "ambiguous_allowed"}
    normalised, _ = normalise_sequences([sequence], [name], ensemble.alphabet, "error", t_as_u=ensemble.t_as_u,
                                        source=source, **rules)
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


def write_cross_validated_map(ensemble: Ensemble, reference: tuple[str, str], records: pd.DataFrame,
                              out: str | Path, heatmap: str | Path, comparison: str | Path,
                              check_path: str | Path) -> dict:
    """``cross_validated_map`` of one (id, normalised sequence) reference: the table at
    ``out``, the ensemble map at ``heatmap`` (as ``write_mutagenesis``), the cross-validated
    map above the measured scores at ``comparison`` (the check's Spearman in the title),
    the check at ``check_path`` (JSON). Returns the check."""
    ref_id, sequence = reference
    table, check = cross_validated_map(ensemble, sequence, records, ref_id)
    letters = get_alphabet(ensemble.alphabet).letters
    mutagenesis_heatmap(effect_matrix(table, letters), sequence, letters, heatmap,
                        _heatmap_title(ref_id, ensemble, sequence))
    value = check["spearman_cross_validated"]
    shown = f"{value['value']:.3f}" if not value["undefined"] else f"undefined ({value['reason']})"
    title = (f"{ref_id}: cross-validated mutagenesis map (each substitution by the fold model that held it "
             f"out)\nSpearman with the {check['n']} measured singles = {shown}")
    mutagenesis_comparison(effect_matrix(table.assign(effect=table["cv_effect"]), letters),
                           effect_matrix(table.assign(effect=table["measured"]), letters),
                           sequence, letters, comparison, title)
    write_table(table, out)
    write_json(check, check_path)
    return check
