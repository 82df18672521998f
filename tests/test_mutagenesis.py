"""In-silico saturation mutagenesis (lyra.analysis.mutagenesis, lyra mutagenesis): every substitution,
and scores equal to scoring each mutated sequence on its own."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from lyra.cli import main
from lyra.errors import LyraInputError
from lyra.analysis.mutagenesis import resolve_reference
from lyra.models.saved import load_model, predict_sequences

torch.set_num_threads(1)


def _one_by_one(paths, sequence, column="y_pred"):
    """Each member's score of ``sequence`` alone (no batching, no ensemble code)."""
    scores = []
    for path in paths:
        model, meta = load_model(path)
        scores.append(float(predict_sequences(model, meta, [sequence])[column].iloc[0]))
    return np.array(scores)


def test_ism_equals_scoring_each_mutant_alone(protein_members, tmp_path):
    reference = pd.read_csv(protein_members / "train.csv")["sequence"].iloc[0]
    out = tmp_path / "ism.tsv"
    assert main(["mutagenesis", "--model", str(protein_members), "--sequence", reference.lower(),
                 "--id", "wt", "--out", str(out)]) == 0
    ism = pd.read_csv(out, sep="\t")
    assert list(ism.columns) == ["reference_id", "position", "wt", "mut", "score", "effect", "std", "effect_std"]
    assert len(ism) == 19 * len(reference)
    assert set(zip(ism["position"], ism["mut"])) == {(p + 1, m) for p in range(len(reference))
                                                     for m in "ACDEFGHIKLMNPQRSTVWY" if m != reference[p]}
    assert (ism["wt"] == [reference[p - 1] for p in ism["position"]]).all()
    paths = [protein_members / f"seed{k}" / "model.pt" for k in range(3)]
    base = _one_by_one(paths, reference)
    for row in ism.sample(12, random_state=0).itertuples():
        mutant = list(reference)
        mutant[row.position - 1] = row.mut
        members = _one_by_one(paths, "".join(mutant))
        assert row.score == pytest.approx(members.mean(), rel=1e-5, abs=1e-7)
        assert row.std == pytest.approx(members.std(), rel=1e-4, abs=1e-7)
        assert row.effect == pytest.approx((members - base).mean(), rel=1e-4, abs=1e-6)
        assert row.effect_std == pytest.approx((members - base).std(), rel=1e-4, abs=1e-6)
    assert (tmp_path / "ism.png").stat().st_size > 0


def test_dna_every_position_by_letter_and_one_heatmap_per_reference(dna_members, tmp_path):
    sequences = pd.read_csv(dna_members / "train.csv")["sequence"].head(2).tolist()
    (tmp_path / "refs.fasta").write_text(f">a\n{sequences[0]}\n>b\n{sequences[1]}\n")
    out = tmp_path / "ism.tsv"
    assert main(["mutagenesis", "--model", str(dna_members), "--fasta", str(tmp_path / "refs.fasta"),
                 "--include-wild-type", "--score-class", "yes", "--out", str(out)]) == 0
    ism = pd.read_csv(out, sep="\t")
    assert ism.groupby("reference_id").size().to_dict() == {"a": 4 * 10, "b": 4 * 10}
    wild = ism[ism["wt"] == ism["mut"]]
    assert len(wild) == 20 and np.allclose(wild["effect"], 0.0, atol=1e-6)
    paths = [dna_members / f"seed{k}" / "model.pt" for k in range(2)]
    row = ism[(ism["reference_id"] == "b") & (ism["wt"] != ism["mut"])].iloc[5]
    mutant = sequences[1][: row["position"] - 1] + row["mut"] + sequences[1][row["position"]:]
    assert row["score"] == pytest.approx(_one_by_one(paths, mutant, "prob_yes").mean(), rel=1e-5)
    assert (tmp_path / "ism.a.png").is_file() and (tmp_path / "ism.b.png").is_file()


def test_a_reference_outside_the_alphabet_is_one_line(protein_members, tmp_path, capsys):
    assert main(["mutagenesis", "--model", str(protein_members), "--sequence", "MKT1", "--out",
                 str(tmp_path / "x.tsv")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("lyra mutagenesis: error: --sequence: ") and "character '1' at position 4" in error
    assert len(error.splitlines()) == 1
    assert not (tmp_path / "x.tsv").exists()


def test_a_task_reference_is_an_id_or_a_sequence():
    records = pd.DataFrame({"id": ["wt", "v1"], "sequence": ["MKT", "MKA"]})
    assert resolve_reference("v1", records, "protein") == ("v1", "MKA")
    assert resolve_reference("mkw", records, "protein") == ("reference", "MKW")
    with pytest.raises(LyraInputError, match="key reference"):
        resolve_reference("not an id!", records, "protein")


def test_effect_matrix_and_wrapped_heatmap(tmp_path):
    from lyra.analysis.mutagenesis import effect_matrix, substitutions
    from lyra.report.plots import mutagenesis_heatmap

    reference = "ACGTTGCA" * 30  # 240 positions: three heatmap rows of 100
    table = substitutions(reference, "dna", include_wild_type=True)
    table["effect"] = np.arange(len(table), dtype=float) - len(table) / 2
    matrix = effect_matrix(table, "ACGT")
    assert matrix.shape == (4, 240)
    assert np.isnan(matrix[0, 0]) and matrix[1, 0] == table["effect"].iloc[1]  # wild type A at position 1
    assert np.isnan(matrix).sum() == 240
    path = mutagenesis_heatmap(matrix, reference, "ACGT", tmp_path / "h.png", "test", row_length=100)
    assert path.read_bytes().startswith(b"\x89PNG")


def test_cross_validated_map_takes_each_effect_from_the_held_out_fold(protein_members, tmp_path):
    """Members seed0..2 stand for fold models 0..2 of a position-held-out split (fold =
    position mod 3). Each measured single's cv_effect equals its fold model's score of the
    mutant minus that model's score of the reference, scored one by one; unmeasured
    substitutions take their position's fold; the check's Spearman is recomputed by scipy."""
    from scipy.stats import spearmanr

    from lyra.analysis.ensemble import load_ensemble
    from lyra.analysis.mutagenesis import write_cross_validated_map

    reference = pd.read_csv(protein_members / "train.csv")["sequence"].iloc[0]
    rng = np.random.default_rng(0)
    rows = []
    for position in range(1, len(reference) + 1):
        for mut in rng.choice([c for c in "ACDEFGHIKLMNPQRSTVWY" if c != reference[position - 1]], 4, replace=False):
            sequence = reference[:position - 1] + mut + reference[position:]
            rows.append((sequence, rng.normal(), position % 3))
    double = "W" + reference[1:-1] + "W"
    rows += [(double, 5.0, 0), (reference + "A", 5.0, 1)]  # a multi-mutant and another length: not singles
    records = pd.DataFrame(rows, columns=["sequence", "target", "fold"])
    paths = [protein_members / f"seed{k}" / "model.pt" for k in range(3)]
    ensemble = load_ensemble([str(p) for p in paths])
    out = tmp_path / "ism.tsv"
    check = write_cross_validated_map(ensemble, ("wt", reference), records, out, tmp_path / "ism.png",
                                      tmp_path / "cv.png", tmp_path / "cv.json")
    table = pd.read_csv(out, sep="\t")
    assert len(table) == 19 * len(reference) and (table["cv_fold"] == table["position"] % 3).all()
    measured = table.dropna(subset=["measured"])
    assert len(measured) == 4 * len(reference) == check["n"] == check["measured_singles"]
    base = [_one_by_one([path], reference)[0] for path in paths]
    for row in measured.sample(10, random_state=1).itertuples():
        mutant = reference[:row.position - 1] + row.mut + reference[row.position:]
        fold = row.position % 3
        assert row.cv_effect == pytest.approx(_one_by_one([paths[fold]], mutant)[0] - base[fold], rel=1e-4, abs=1e-6)
        assert row.measured == pytest.approx(records.loc[records["sequence"] == mutant, "target"].iloc[0], rel=1e-8)
    expected = spearmanr(measured["measured"], measured["cv_effect"]).statistic
    assert check["spearman_cross_validated"]["value"] == pytest.approx(expected, abs=1e-9)
    assert json.loads((tmp_path / "cv.json").read_text()) == check
    assert (tmp_path / "cv.png").read_bytes().startswith(b"\x89PNG")


def test_cross_validated_map_leaves_substitutions_no_fold_held_out_empty(protein_members):
    """Random folds: a position mutated in two folds has no single held-out model, so its
    unmeasured substitutions get no cv_effect (cv_fold -1) instead of a leaked one."""
    from lyra.analysis.ensemble import load_ensemble
    from lyra.analysis.mutagenesis import cross_validated_map

    reference = pd.read_csv(protein_members / "train.csv")["sequence"].iloc[0]
    mutants = [reference[:0] + m + reference[1:] for m in "AC" if m != reference[0]][:2]
    records = pd.DataFrame({"sequence": mutants, "target": [0.1, 0.2], "fold": [0, 1]})
    ensemble = load_ensemble([str(protein_members / f"seed{k}" / "model.pt") for k in range(3)])
    table, check = cross_validated_map(ensemble, reference, records)
    first = table[table["position"] == 1]
    assert set(first.loc[first["measured"].notna(), "cv_fold"]) <= {0, 1}
    assert (first.loc[first["measured"].isna(), "cv_fold"] == -1).all()
    assert first.loc[first["measured"].isna(), "cv_effect"].isna().all()
    assert (table.loc[table["position"] > 1, "cv_fold"] == -1).all()
    assert check["n"] == check["measured_singles"] == 2
