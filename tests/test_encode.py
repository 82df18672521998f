"""Sequence normalisation and one-hot encoding against independent per-letter computations."""

import numpy as np
import pytest

from lyra.data.alphabets import get_alphabet
from lyra.data.encode import normalise_sequences, one_hot
from lyra.errors import LyraInputError


def reference_one_hot(seq, letters, width, uniform_for=""):
    x = np.zeros((width, len(letters)), dtype=np.float32)
    for i, char in enumerate(seq):
        if char in letters:
            x[i, letters.index(char)] = 1.0
        elif char in uniform_for:
            x[i] = 1.0 / len(letters)
    return x


def test_one_hot_matches_reference_on_random_proteins():
    rng = np.random.default_rng(1)
    letters = get_alphabet("protein").letters
    seqs = ["".join(rng.choice(list(letters + "X"), rng.integers(1, 30))) for _ in range(50)]
    x, mask = one_hot(seqs, "protein", ambiguous="uniform")
    width = max(map(len, seqs))
    assert x.shape == (50, width, 20) and x.dtype.is_floating_point
    for k, seq in enumerate(seqs):
        np.testing.assert_allclose(x[k].numpy(), reference_one_hot(seq, letters, width, "X"))
        assert mask[k].tolist() == [i < len(seq) for i in range(width)]


def test_one_hot_zero_policy_and_fixed_length():
    x, mask = one_hot(["ACN", "G"], "dna", ambiguous="zero", length=5)
    assert x.shape == (2, 5, 4)
    assert x[0, 2].sum() == 0 and mask[0].tolist() == [True, True, True, False, False]
    with pytest.raises(ValueError):
        one_hot(["ACGTAC"], "dna", length=5)
    with pytest.raises(ValueError):
        one_hot(["ACN"], "dna", ambiguous="error")


def test_normalise_counts_lowercase_and_ambiguous():
    seqs, stats = normalise_sequences(["acgN", "ACGT", "AcRT"], ["a", "b", "c"], "dna", ambiguous="zero")
    assert seqs == ["ACGN", "ACGT", "ACRT"]
    assert (stats.n_lowercase_letters, stats.n_lowercase_records) == (4, 2)
    assert (stats.n_ambiguous_letters, stats.n_ambiguous_records) == (2, 2)


def test_rna_t_as_u():
    with pytest.raises(LyraInputError, match="record 'r': character 'T' at position 2.*t_as_u"):
        normalise_sequences(["AT"], ["r"], "rna", source="x.fa")
    seqs, stats = normalise_sequences(["ATtu"], ["r"], "rna", t_as_u=True)
    assert seqs == ["AUUU"] and stats.n_t_as_u_letters == 2


@pytest.mark.parametrize("seq,char,pos", [("AC9", "9", 3), ("*A", "*", 1), ("AB-", "-", 3), ("AÉ", "É", 2)])
def test_invalid_characters_named(seq, char, pos):
    with pytest.raises(LyraInputError) as caught:
        normalise_sequences(["ACDE", seq], ["ok", "bad"], "protein", ambiguous="uniform", source="in.csv")
    assert str(caught.value).startswith(f"in.csv: record 'bad': character '{char}' at position {pos}")


def test_empty_and_too_long():
    with pytest.raises(LyraInputError, match="record 'e': empty sequence"):
        normalise_sequences(["A", ""], ["a", "e"], "dna")
    with pytest.raises(LyraInputError, match="record 'l': sequence length 4 exceeds max_length 3"):
        normalise_sequences(["A", "ACGT"], ["a", "l"], "dna", max_length=3)


def test_ambiguous_allowed_is_checked_against_the_alphabet_and_policy():
    with pytest.raises(LyraInputError, match=r"key ambiguous_allowed: \['Q'\] are not dna ambiguity codes"):
        normalise_sequences(["ACGT"], ["a"], "dna", ambiguous="zero", ambiguous_allowed=["N", "Q"])
    with pytest.raises(LyraInputError, match="ambiguous is error"):
        normalise_sequences(["ACGT"], ["a"], "dna", ambiguous="error", ambiguous_allowed=["N"])
    out, stats = normalise_sequences(["ACnT"], ["a"], "dna", ambiguous="uniform", ambiguous_allowed=["n"])
    assert out == ["ACNT"] and stats.n_ambiguous_letters == 1


def test_length_rules_name_the_record():
    with pytest.raises(LyraInputError, match="record 'b': sequence length 38, but every sequence must have length 40"):
        normalise_sequences(["A" * 40, "A" * 38], ["a", "b"], "dna", length=40)
    with pytest.raises(LyraInputError, match="record 'b': sequence length 2 is below min_length 3"):
        normalise_sequences(["ACG", "AC"], ["a", "b"], "dna", min_length=3)
