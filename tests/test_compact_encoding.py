"""Sequences kept as one byte per position, features built per batch: the same numbers as
the full one-hot tensors."""

import numpy as np
import pandas as pd
import pytest
import torch

from lyra.data import encode
from lyra.config import task_from_config
from lyra.data.encode import CodedInputs, code_table, dense, letter_codes, normalise_sequences
from lyra.errors import LyraInputError
from lyra.data.features import encoder_for
from lyra.nn.lyra import Lyra
from lyra.models.fold import train_fold
from lyra.models.saved import load_model, predict_sequences
from lyra.nn.run import EncodedSet, predict_outputs
from lyra.training.loop import TrainerConfig, fit
from lyra.data.transforms import TargetScaler
from lyra.results import read_prepared, read_prepared_coded, write_predictions, write_prepared

SEQS = ["ACGT", "GGNA", "T", "CAGTTA"]


def _one_hot_by_hand(seqs, letters, ambiguous_value):
    """One-hot written out letter by letter (independent of lyra.data.encode)."""
    width = max(map(len, seqs))
    x = np.zeros((len(seqs), width, len(letters)), dtype=np.float32)
    for i, seq in enumerate(seqs):
        for j, c in enumerate(seq):
            if c in letters:
                x[i, j, letters.index(c)] = 1.0
            else:
                x[i, j, :] = ambiguous_value
    mask = np.array([[j < len(s) for j in range(width)] for s in seqs])
    return x, mask


def test_codes_are_one_byte_per_position_and_read_as_one_hot():
    codes = letter_codes(SEQS, "dna", "uniform")
    assert codes.dtype == torch.uint8 and codes.shape == (4, 6)
    inputs = CodedInputs(codes, code_table("dna", "uniform"))
    expected_x, expected_mask = _one_hot_by_hand(SEQS, "ACGT", 0.25)
    np.testing.assert_array_equal(dense(inputs).numpy(), expected_x)
    np.testing.assert_array_equal(dense(inputs.mask).numpy(), expected_mask)
    rows = torch.tensor([3, 0])
    np.testing.assert_array_equal(inputs[rows, :5].numpy(), expected_x[[3, 0], :5])
    np.testing.assert_array_equal(inputs.mask[rows, :5].numpy(), expected_mask[[3, 0], :5])


def test_a_subset_is_a_view_of_the_same_codes():
    inputs = CodedInputs(letter_codes(SEQS, "dna", "zero"), code_table("dna", "zero"))
    part = inputs.subset(np.array([2, 1]))
    assert part.codes.data_ptr() == inputs.codes.data_ptr()
    assert len(part) == 2 and part.shape == (2, 6, 4)
    expected_x, expected_mask = _one_hot_by_hand(SEQS, "ACGT", 0.0)
    np.testing.assert_array_equal(dense(part).numpy(), expected_x[[2, 1]])
    np.testing.assert_array_equal(part.mask[torch.tensor([1])].numpy(), expected_mask[[1]])
    np.testing.assert_array_equal(dense(part.subset([1])).numpy(), expected_x[[1]])


def test_per_letter_features_equal_the_features_of_the_full_one_hot():
    seqs = ["MKV", "AWYLLC"]
    onehot = CodedInputs(letter_codes(seqs, "protein"), code_table("protein"))
    encoder = encoder_for(["onehot", "blosum62"], "protein")
    features, mask = encoder.features(onehot, ["a", "b"])
    assert isinstance(features, CodedInputs)
    full = encoder(dense(onehot), dense(onehot.mask), ["a", "b"], seqs)
    torch.testing.assert_close(dense(features), full, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(dense(mask).numpy(), dense(onehot.mask).numpy())


def test_chunked_normalisation_equals_one_pass_and_locates_errors(monkeypatch):
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGTacgt"), size=rng.integers(3, 9))) for _ in range(50)]
    ids = [f"r{i}" for i in range(50)]
    whole, whole_stats = normalise_sequences(seqs, ids, "dna")
    monkeypatch.setattr(encode, "_CHUNK_LETTERS", 16)
    chunked, chunked_stats = normalise_sequences(seqs, ids, "dna")
    assert chunked == whole == [s.upper() for s in seqs]
    assert chunked_stats == whole_stats
    codes = letter_codes(whole, "dna")
    np.testing.assert_array_equal(dense(CodedInputs(codes, code_table("dna"))).numpy(),
                                  _one_hot_by_hand(whole, "ACGT", 0.0)[0])
    with pytest.raises(LyraInputError, match=r"record 'r40'.*character .!. at position 3"):
        normalise_sequences(whole[:40] + ["AC!"] + whole[41:], ids, "dna")


def test_unchanged_sequences_are_not_copied():
    seqs = ["ACGT" * 3, "GGCA"]
    out, _ = normalise_sequences(seqs, ["a", "b"], "dna")
    assert all(a is b for a, b in zip(out, seqs))


def _dataset(n, seed, length=12):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, 4, (n, length), generator=g)
    lengths = torch.randint(length // 2, length + 1, (n,), generator=g)
    seqs = ["".join("ACGT"[t] for t in row[:k]) for row, k in zip(tokens.tolist(), lengths.tolist())]
    y = torch.tensor([s.count("G") / len(s) for s in seqs])
    return seqs, (y - y.mean()) / y.std()


def _fit(train, valid):
    torch.manual_seed(0)
    model = Lyra(4, 1, d_model=8, d_state=4, dropout=0.1)
    result = fit(model, train, valid, "regression", TrainerConfig(epochs=3, batch_size=16, seed=3),
                 torch.device("cpu"), progress=False)
    model.load_state_dict(result.best_state)
    return model, result


def test_training_on_codes_equals_training_on_the_full_one_hot():
    (train_seqs, train_y), (valid_seqs, valid_y) = _dataset(80, 1), _dataset(40, 2)
    coded = [CodedInputs(letter_codes(s, "dna"), code_table("dna")) for s in (train_seqs, valid_seqs)]
    full = [(torch.from_numpy(x), torch.from_numpy(m))
            for x, m in (_one_hot_by_hand(s, "ACGT", 0.0) for s in (train_seqs, valid_seqs))]
    model_full, result_full = _fit(EncodedSet(*full[0], train_y), EncodedSet(*full[1], valid_y))
    model_coded, result_coded = _fit(EncodedSet(coded[0], coded[0].mask, train_y),
                                     EncodedSet(coded[1], coded[1].mask, valid_y))
    pd.testing.assert_frame_equal(result_full.history.drop(columns="seconds"),
                                  result_coded.history.drop(columns="seconds"))
    for key, value in result_full.best_state.items():
        assert torch.equal(value, result_coded.best_state[key]), key
    np.testing.assert_array_equal(predict_outputs(model_full, *full[1], 7, "cpu"),
                                  predict_outputs(model_coded, coded[1], coded[1].mask, 7, "cpu"))


def test_a_fold_keeps_codes_and_predicts_as_the_full_one_hot(tmp_path):
    seqs, y = _dataset(60, 4)
    prepared = pd.DataFrame({"id": [f"s{i}" for i in range(60)], "sequence": seqs, "target": y.numpy() + 1.0,
                             "group": "", "fold": 0, "split": ["train"] * 40 + ["valid"] * 10 + ["test"] * 10})
    config = {"model": {"d_model": 8, "d_state": 4, "position_aware": False},
              "trainer": {"epochs": 2, "batch_size": 16},
              "tasks": {"toy": {"input": {"format": "csv", "path": "toy.csv"}, "alphabet": "dna",
                                "task_type": "regression", "split": {"scheme": "column", "column": "split"}}}}
    task = task_from_config(config, "toy")
    train_fold(prepared, task, 0, tmp_path, "lyra", progress=False)
    predictions = pd.read_csv(tmp_path / "predictions.tsv", sep="\t")
    model, meta = load_model(tmp_path / "model.pt")
    x, mask = _one_hot_by_hand(seqs, "ACGT", 0.0)
    outputs = model.predict(torch.from_numpy(x), torch.from_numpy(mask), 16)
    np.testing.assert_allclose(predictions["y_pred"], TargetScaler.from_dict(meta["scaler"]).inverse(outputs[:, 0]),
                               rtol=1e-6, atol=1e-6)
    again = predict_sequences(model, meta, seqs, batch_size=9)
    np.testing.assert_allclose(again["y_pred"], predictions["y_pred"], rtol=1e-6, atol=1e-6)


def test_codes_spell_the_sequences_back_ambiguity_codes_included():
    seqs = ["ACGTN", "RY", "G"]
    inputs = CodedInputs(letter_codes(seqs, "dna", "zero"), code_table("dna", "zero"))
    assert inputs.sequences() == seqs
    assert inputs.subset([2, 0]).sequences() == ["G", "ACGTN"]
    assert inputs.lengths().tolist() == [5, 2, 1]
    assert inputs.blocks(letters=10) == [slice(0, 2), slice(2, 4)]  # two rows of width 5 a block


def test_prepared_table_read_as_codes_equals_the_text_read(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGTN"), size=rng.integers(1, 30))) for _ in range(200)]
    prepared = pd.DataFrame({"id": [f"s{i}" for i in range(200)], "sequence": seqs,
                             "target": rng.normal(size=200), "group": "", "fold": 0, "split": "train"})
    path = tmp_path / "prepared.tsv"
    write_prepared(prepared, path)
    text = read_prepared(path)
    table, inputs = read_prepared_coded(path, "dna", "uniform", letters=64)  # many small blocks
    pd.testing.assert_frame_equal(table, text.drop(columns="sequence"))
    assert inputs.sequences() == text["sequence"].tolist()
    np.testing.assert_array_equal(dense(inputs).numpy(), _one_hot_by_hand(seqs, "ACGT", 0.25)[0])


def test_predictions_written_from_codes_equal_those_written_from_text(tmp_path, monkeypatch):
    seqs = ["ACGT", "GG", "TTTAC"] * 30
    frame = pd.DataFrame({"id": [f"s{i}" for i in range(90)], "sequence": seqs, "split": "test", "fold": 0,
                          "y_true": np.linspace(0, 1, 90), "y_pred": np.linspace(1, 0, 90) / 3})
    write_predictions(frame, tmp_path / "text.tsv")
    inputs = CodedInputs(letter_codes(seqs, "dna"), code_table("dna"))
    monkeypatch.setattr(encode, "_CHUNK_LETTERS", 20)  # blocks of 4 rows of width 5
    write_predictions(frame.drop(columns="sequence"), tmp_path / "codes.tsv", inputs)
    assert (tmp_path / "codes.tsv").read_bytes() == (tmp_path / "text.tsv").read_bytes()


def test_a_fold_trained_from_codes_writes_what_the_text_route_writes(tmp_path):
    seqs, y = _dataset(60, 5)
    prepared = pd.DataFrame({"id": [f"s{i}" for i in range(60)], "sequence": seqs, "target": y.numpy() + 1.0,
                             "group": "", "fold": 0, "split": ["train"] * 40 + ["valid"] * 10 + ["test"] * 10})
    config = {"model": {"d_model": 8, "d_state": 4, "position_aware": "auto"},
              "trainer": {"epochs": 2, "batch_size": 16},
              "tasks": {"toy": {"input": {"format": "csv", "path": "toy.csv"}, "alphabet": "dna",
                                "task_type": "regression", "split": {"scheme": "column", "column": "split"}}}}
    task = task_from_config(config, "toy")
    write_prepared(prepared, tmp_path / "prepared.tsv")
    train_fold(read_prepared(tmp_path / "prepared.tsv"), task, 0, tmp_path / "text", "lyra", progress=False)
    table, inputs = read_prepared_coded(tmp_path / "prepared.tsv", "dna", "error")
    train_fold(table, task, 0, tmp_path / "codes", "lyra", progress=False, inputs=inputs)
    assert (tmp_path / "codes/predictions.tsv").read_bytes() == (tmp_path / "text/predictions.tsv").read_bytes()
