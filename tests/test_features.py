"""Encodings (lyra.data.features) and the ProteinGym One-Hot baseline (onehot_linear), on small
generated tables."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from lyra.data import splits
from lyra.config import task_from_config
from lyra.data.encode import one_hot
from lyra.errors import LyraInputError
from lyra.data.features import blosum62_table, encoder_for
from lyra.models.estimators import OneHotLinearModel
from lyra.models.fold import train_fold
from lyra.models.saved import load_model, predict_sequences

LETTERS = "ACDEFGHIKLMNPQRSTVWY"


def _protein_records(n=120, length=10, seed=0):
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list(LETTERS), length)) for _ in range(n)]
    hydrophobic = np.array([[c in "AILMFVW" for c in s] for s in seqs], dtype=float)
    return pd.DataFrame({"id": [f"s{i}" for i in range(n)], "sequence": seqs, "group": "",
                         "target": hydrophobic.sum(1) + rng.normal(scale=0.1, size=n)})


def _task(**overrides):
    entry = {"input": {"format": "csv", "path": "x.csv"}, "alphabet": "protein", "task_type": "regression",
             "split": {"scheme": "random", "fractions": [0.7, 0.15, 0.15], "seed": 0}, **overrides}
    config = {"data_root": "/data", "model": {"d_model": 8, "d_state": 8},
              "trainer": {"epochs": 1, "batch_size": 32}, "tasks": {"t": entry}}
    return task_from_config(config, "t")


# ---------------------------------------------------------------- encodings
def test_blosum62_rows_are_biopythons_matrix_and_padding_stays_zero():
    from Bio.Align import substitution_matrices

    matrix = substitution_matrices.load("BLOSUM62")
    table = blosum62_table("protein")
    assert table.shape == (20, 20)
    assert table[LETTERS.index("W"), LETTERS.index("W")] == matrix["W", "W"] / 4 == 11 / 4
    assert table[LETTERS.index("I"), LETTERS.index("L")] == matrix["I", "L"] / 4
    x, mask = one_hot(["ACW", "IL"], "protein")
    features = encoder_for(["onehot", "blosum62"], "protein")(x, mask, ["a", "b"], ["ACW", "IL"])
    assert features.shape == (2, 3, 40)
    assert torch.equal(features[:, :, :20], x)
    assert torch.allclose(features[1, 1, 20:], torch.from_numpy(table[LETTERS.index("L")]))
    assert not features[1, 2].any()  # padding
    with pytest.raises(ValueError, match="blosum62 is for protein"):
        encoder_for(["blosum62"], "dna")


def _embeddings_file(path, keys, length=4, width=3, seed=0):
    values = np.random.default_rng(seed).normal(size=(len(keys), length, width)).astype(np.float32)
    np.savez(path, keys=np.array(keys), values=values)
    return values


def test_embeddings_by_id_and_by_sequence_with_clear_errors(tmp_path):
    seqs = ["ACD", "EF"]
    x, mask = one_hot(seqs, "protein")
    values = _embeddings_file(tmp_path / "by_id.npz", ["b", "a", "c"])
    encoder = encoder_for(["onehot", {"embeddings": str(tmp_path / "by_id.npz")}], "protein")
    assert encoder.width() == 23
    out = encoder(x, mask, ["a", "b"], seqs)
    assert torch.allclose(out[0, :, 20:], torch.from_numpy(values[1, :3]))
    assert torch.allclose(out[1, :2, 20:], torch.from_numpy(values[0, :2]))
    assert not out[1, 2].any()  # past the end of "EF": zero, as one-hot padding

    by_seq = _embeddings_file(tmp_path / "by_seq.npz", seqs)
    out = encoder_for([{"embeddings": str(tmp_path / "by_seq.npz"), "key": "sequence"}], "protein")(
        x, mask, ["?", "?"], seqs)
    assert torch.allclose(out[0], torch.from_numpy(by_seq[0, :3]))

    with pytest.raises(LyraInputError, match=r"by_id.npz: key 'zz': 1 of 2 rows have no embedding"):
        encoder(x, mask, ["a", "zz"], seqs)
    _embeddings_file(tmp_path / "short.npz", ["a", "b"], length=2)
    with pytest.raises(LyraInputError, match="short.npz: key 'a': the embeddings have 2 positions but the sequence has 3"):
        encoder_for([{"embeddings": str(tmp_path / "short.npz")}], "protein")(x, mask, ["a", "b"], seqs)
    np.savez(tmp_path / "flat.npz", keys=np.array(["a", "b"]), values=np.zeros((2, 3)))
    with pytest.raises(LyraInputError, match=r"flat.npz: arrays: 'values' must be \(n, L, E\)"):
        encoder_for([{"embeddings": str(tmp_path / "flat.npz")}], "protein").width()
    np.savez(tmp_path / "unnamed.npz", np.zeros((2, 3, 1)))
    with pytest.raises(LyraInputError, match="needs arrays 'keys' and 'values'"):
        encoder_for([{"embeddings": str(tmp_path / "unnamed.npz")}], "protein").width()


def test_config_resolves_embeddings_against_data_root():
    task = _task(encoding=["onehot", {"embeddings": "emb/x.npz"}])
    assert task.encoding == ["onehot", {"key": "id", "embeddings": "/data/emb/x.npz"}]
    assert _task().encoding == ["onehot"]


def test_training_on_blosum_features_sets_d_input_and_reloads(tmp_path):
    task = _task(encoding=["onehot", "blosum62"])
    prepared = splits.assign(_protein_records(), task.split, task.name)
    train_fold(prepared, task, 0, tmp_path, "ridge", progress=False)
    model, meta = load_model(tmp_path / "model.pt")
    assert meta["d_input"] == 40 and meta["encoding"] == ["onehot", "blosum62"]
    written = pd.read_csv(tmp_path / "predictions.tsv", sep="\t")
    again = predict_sequences(model, meta, written["sequence"].tolist())
    assert np.allclose(again["y_pred"], written["y_pred"], atol=1e-5)


def test_lyra_substitution_fast_path_on_blosum_features_equals_scoring_mutants(tmp_path):
    """predict_substitutions (Lyra's fast single-substitution path) encodes the reference
    and each letter as training did: on one-hot + BLOSUM62 it equals predict_sequences on
    the mutated sequences; ridge has no fast path (None)."""
    from lyra.models.saved import predict_substitutions

    task = _task(encoding=["onehot", "blosum62"])
    prepared = splits.assign(_protein_records(), task.split, task.name)
    train_fold(prepared, task, 0, tmp_path / "lyra", "lyra", progress=False)
    model, meta = load_model(tmp_path / "lyra" / "model.pt")
    reference = prepared["sequence"].iloc[0]
    positions = [p for p in range(len(reference)) for _ in LETTERS]
    letters = list(LETTERS) * len(reference)
    fast = predict_substitutions(model, meta, reference, positions, letters)
    mutants = [reference[:p] + m + reference[p + 1:] for p, m in zip(positions, letters)]
    expected = predict_sequences(model, meta, mutants)
    assert np.allclose(fast["y_pred"], expected["y_pred"], rtol=1e-4, atol=1e-5)
    train_fold(prepared, task, 0, tmp_path / "ridge", "ridge", progress=False)
    assert predict_substitutions(*load_model(tmp_path / "ridge" / "model.pt"), reference, [0], ["A"]) is None


# ---------------------------------------------------------------- onehot_linear
def test_onehot_linear_learning_rate_follows_proteinnpts_warmup_and_cosine():
    model = OneHotLinearModel(20, 1)
    lr = lambda step: model._lr_factor(step) * 3e-4  # noqa: E731
    assert lr(1) == pytest.approx(3e-6) and lr(100) == pytest.approx(3e-4)
    midway = 100 + (10_000 - 100) / 2
    assert lr(midway) == pytest.approx(1e-5 + 0.5 * (3e-4 - 1e-5))
    assert lr(10_000) == pytest.approx(1e-5)
    assert model.options["batch_size"] == 64 and model.options["weight_decay"] == 5e-3
    with pytest.raises(ValueError, match="bad option for model 'onehot_linear'"):
        OneHotLinearModel(20, 1, {"epochs": 3})


def test_onehot_linear_trains_fixed_steps_keeps_final_weights_and_reloads(tmp_path):
    task = _task(split={"scheme": "random", "fractions": [0.7, 0.15, 0.15], "seed": 0})
    prepared = splits.assign(_protein_records(), task.split, task.name)
    variants = {"ohe_short": {"base": "onehot_linear", "options": {"steps": 300, "log_every": 100, "lr": 0.01}}}
    summary = train_fold(prepared, task, 0, tmp_path, "ohe_short", progress=False, variants=variants)
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["step"].tolist() == [100, 200, 300]
    assert summary["n_parameters"] == 10 * 20 + 1 and summary["best_epoch"] is None
    written = pd.read_csv(tmp_path / "predictions.tsv", sep="\t")
    test = written[written["split"] == "test"]
    assert np.corrcoef(test["y_true"], test["y_pred"])[0, 1] > 0.5  # a position-wise effect is learnable
    model, meta = load_model(tmp_path / "model.pt")
    again = predict_sequences(model, meta, written["sequence"].tolist())
    assert np.allclose(again["y_pred"], written["y_pred"], atol=1e-5)
    assert "up to 10 long" in model.unscorable_reason(["A" * 11])
    assert math.isfinite(summary["best_valid_score"])


def test_aaindex_columns_are_standardised_indices():
    pytest.importorskip("aaindex")
    from aaindex import aaindex1

    table = encoder_for([{"aaindex": ["KYTJ820101"]}], "protein")
    x, mask = one_hot(["IR"], "protein")
    out = table(x, mask, ["a"], ["IR"])
    kd = np.array([aaindex1["KYTJ820101"].values[a] for a in LETTERS])
    assert out.shape == (1, 2, 1)
    assert out[0, 0, 0].item() == pytest.approx((4.5 - kd.mean()) / kd.std(), rel=1e-5)  # I: 4.5
    assert out[0, 0, 0] > 0 > out[0, 1, 0]  # isoleucine hydrophobic, arginine not
    assert _task(encoding=[{"aaindex": ["KYTJ820101"]}]).encoding == [{"aaindex": ["KYTJ820101"]}]
    with pytest.raises(ValueError, match="unknown AAindex1 index 'NOPE1'"):
        encoder_for([{"aaindex": ["NOPE1"]}], "protein")
