"""Variant-effect scoring (lyra.analysis.variants, lyra score-variants): parsing errors are one
located line, and scores equal scoring the mutated sequences directly."""

import numpy as np
import pandas as pd
import pytest
import torch

from lyra.cli import main
from lyra.errors import LyraInputError
from lyra.models.saved import load_model, predict_sequences
from lyra.analysis.variants import parse_variant, read_variants

torch.set_num_threads(1)

REFERENCE = "MKTAYIAKQR"


@pytest.mark.parametrize("text, problem", [
    ("A4G:", "'' is not <wild type><position><mutant>"),
    ("4G", "'4G' is not <wild type><position><mutant>"),
    ("M0A", "position 0 is outside the reference (1-10)"),
    ("R11A", "position 11 is outside the reference (1-10)"),
    ("A4B", "letter 'B' is not in the protein alphabet"),
    ("G4A", "wild-type letter G at position 4 does not match the reference, which has A"),
    ("A4A", "A4A replaces A by itself"),
    ("A4G:A4C", "position 4 is mutated twice (A4G and A4C)"),
])
def test_each_bad_variant_is_one_located_error(text, problem):
    with pytest.raises(LyraInputError) as caught:
        parse_variant(text, REFERENCE, "protein", "v.csv", "line 7")
    assert str(caught.value).startswith(f"v.csv: line 7: variant '{text}': ")
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)


def test_variants_parse_in_position_order_and_dna_works():
    assert parse_variant("Y5W:m1a", REFERENCE, "protein") == ((1, "M", "A"), (5, "Y", "W"))
    assert parse_variant("C3T", "GACGT", "dna") == ((3, "C", "T"),)
    with pytest.raises(LyraInputError, match="letter 'U' is not in the dna alphabet"):
        parse_variant("C3U", "GACGT", "dna")


def test_table_and_line_files_name_the_line(tmp_path):
    (tmp_path / "v.csv").write_text("variant,score\nA4G,1\nK2R:Y5W,2\nY5W:K2R,3\n")
    with pytest.raises(LyraInputError) as caught:
        read_variants(tmp_path / "v.csv", REFERENCE, "protein")
    assert str(caught.value) == (f"{tmp_path / 'v.csv'}: line 4: variant 'Y5W:K2R' repeats line 3 (K2R:Y5W)")
    (tmp_path / "v.txt").write_text("# my variants\nA4G\n\nK2X\n")
    with pytest.raises(LyraInputError, match=r"v.txt: line 4: variant 'K2X': letter 'X'"):
        read_variants(tmp_path / "v.txt", REFERENCE, "protein")
    (tmp_path / "m.tsv").write_text("mutant\tDMS_score\nA4G\t0.1\nQ9E:R10K\t0.2\n")
    assert read_variants(tmp_path / "m.tsv", REFERENCE, "protein") == [((4, "A", "G"),),
                                                                      ((9, "Q", "E"), (10, "R", "K"))]
    (tmp_path / "n.csv").write_text("name\nA4G\n")
    with pytest.raises(LyraInputError, match="header: no column 'variant'"):
        read_variants(tmp_path / "n.csv", REFERENCE, "protein")


def test_cli_error_is_one_line_and_writes_nothing(protein_members, tmp_path, capsys):
    reference = pd.read_csv(protein_members / "train.csv")["sequence"].iloc[0]
    wrong = "ACDEFGHIKLMNPQRSTVWY".replace(reference[2], "")[0]
    (tmp_path / "v.txt").write_text(f"{reference[0]}1A\n{wrong}3A\n")
    out = tmp_path / "s.tsv"
    assert main(["score-variants", "--model", str(protein_members), "--reference", reference,
                 "--variants", str(tmp_path / "v.txt"), "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"lyra score-variants: error: {tmp_path / 'v.txt'}: line 2: variant '{wrong}3A': "
                            f"wild-type letter {wrong} at position 3")
    assert len(error.splitlines()) == 1 and not out.exists()


def test_scores_equal_scoring_mutated_sequences_and_top_list_is_unseen(protein_members, tmp_path):
    reference = pd.read_csv(protein_members / "train.csv")["sequence"].iloc[0]
    letters = "ACDEFGHIKLMNPQRSTVWY"
    other = {p: next(c for c in letters if c != reference[p - 1]) for p in range(1, len(reference) + 1)}
    variants = [f"{reference[0]}1{other[1]}", f"{reference[2]}3{other[3]}:{reference[6]}7{other[7]}",
                f"{reference[1]}2{other[2]}:{reference[4]}5{other[5]}:{reference[11]}12{other[12]}"]
    (tmp_path / "v.csv").write_text("variant\n" + "\n".join(variants) + "\n")
    out = tmp_path / "s.tsv"
    assert main(["score-variants", "--model", str(protein_members), "--reference", reference, "--variants",
                 str(tmp_path / "v.csv"), "--out", str(out), "--top", "5", "--max-order", "2", "--pool", "6"]) == 0
    scores = pd.read_csv(out, sep="\t")
    assert list(scores["variant"]) == variants and list(scores["n_mutations"]) == [1, 2, 3]
    paths = [protein_members / f"seed{k}" / "model.pt" for k in range(3)]
    loaded = [load_model(p) for p in paths]

    def members(sequence):
        return np.array([predict_sequences(m, meta, [sequence])["y_pred"].iloc[0] for m, meta in loaded])

    base = members(reference)
    for variant, row in zip(variants, scores.itertuples()):
        mutant = list(reference)
        for token in variant.split(":"):
            mutant[int(token[1:-1]) - 1] = token[-1]
        values = members("".join(mutant))
        assert row.score == pytest.approx(values.mean(), rel=1e-5, abs=1e-7)
        assert row.std == pytest.approx(values.std(), rel=1e-4, abs=1e-7)
        assert row.effect == pytest.approx((values - base).mean(), rel=1e-4, abs=1e-6)
    top = pd.read_csv(tmp_path / "s.top.tsv", sep="\t")
    assert list(top["rank"]) == [1, 2, 3, 4, 5]
    assert not set(top["variant"]) & set(variants)
    assert list(top["score"]) == sorted(top["score"], reverse=True)
    assert set(top["n_mutations"]) <= {1, 2}
    best = top.iloc[0]
    mutant = list(reference)
    for token in best["variant"].split(":"):
        mutant[int(token[1:-1]) - 1] = token[-1]
    assert best["score"] == pytest.approx(members("".join(mutant)).mean(), rel=1e-5, abs=1e-7)
