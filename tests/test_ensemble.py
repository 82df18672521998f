"""Ensemble prediction (lyra.analysis.ensemble, lyra predict with several models): the mean, std and
member columns equal what the members predict one by one."""

import numpy as np
import pandas as pd
import pytest
import torch

from lyra.cli import main
from lyra.analysis.ensemble import load_ensemble, model_files
from lyra.errors import LyraInputError
from lyra.models.saved import load_model, predict_sequences

torch.set_num_threads(1)


def _member_predictions(paths, sequences, column="y_pred"):
    """Each model's own predictions, through lyra.models.saved.predict_sequences (no ensemble code)."""
    out = []
    for path in paths:
        model, meta = load_model(path)
        out.append(predict_sequences(model, meta, sequences)[column].to_numpy())
    return np.array(out)


def test_a_directory_expands_to_its_member_models(protein_members):
    assert model_files([protein_members]) == [protein_members / f"seed{k}" / "model.pt" for k in range(3)]
    assert model_files([protein_members / "seed1"]) == [protein_members / "seed1" / "model.pt"]
    with pytest.raises(LyraInputError, match="no such model"):
        model_files([protein_members / "absent"])


def test_predict_writes_mean_std_and_members(protein_members, tmp_path):
    data = pd.read_csv(protein_members / "train.csv").head(30)
    data.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "pred.tsv"
    assert main(["predict", "--model", str(protein_members), "--input", str(tmp_path / "new.csv"),
                 "--id-column", "id", "--out", str(out)]) == 0
    frame = pd.read_csv(out, sep="\t")
    paths = [protein_members / f"seed{k}" / "model.pt" for k in range(3)]
    members = _member_predictions(paths, data["sequence"].tolist())
    for k in range(3):
        np.testing.assert_allclose(frame[f"y_pred_seed{k}"], members[k], rtol=1e-6)
    np.testing.assert_allclose(frame["y_pred"], [np.mean(col) for col in members.T], rtol=1e-6)
    expected_std = [np.sqrt(np.mean((col - np.mean(col)) ** 2)) for col in members.T]
    np.testing.assert_allclose(frame["y_std"], expected_std, rtol=1e-5, atol=1e-9)
    assert (frame["y_std"] > 0).all()


def test_repeated_model_flags_form_the_same_ensemble(protein_members, tmp_path):
    data = pd.read_csv(protein_members / "train.csv").head(5)
    data.to_csv(tmp_path / "new.csv", index=False)
    outs = []
    for models in ([str(protein_members)], [str(protein_members / f"seed{k}" / "model.pt") for k in range(3)]):
        out = tmp_path / f"p{len(outs)}.tsv"
        flags = [x for m in models for x in ("--model", m)]
        assert main(["predict", *flags, "--input", str(tmp_path / "new.csv"), "--out", str(out)]) == 0
        outs.append(pd.read_csv(out, sep="\t"))
    np.testing.assert_allclose(outs[0]["y_pred"], outs[1]["y_pred"])
    np.testing.assert_allclose(outs[0]["y_std"], outs[1]["y_std"])


def test_classifiers_average_probabilities(dna_members):
    data = pd.read_csv(dna_members / "train.csv").head(20)
    ensemble = load_ensemble([dna_members])
    prediction = ensemble.predict(data["sequence"].tolist())
    paths = [dna_members / f"seed{k}" / "model.pt" for k in range(2)]
    for i, name in enumerate(["no", "yes"]):
        members = _member_predictions(paths, data["sequence"].tolist(), f"prob_{name}")
        np.testing.assert_allclose(prediction.mean[:, i], members.mean(axis=0), rtol=1e-6)
        np.testing.assert_allclose(prediction.std[:, i], members.std(axis=0), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(prediction.mean.sum(axis=1), 1.0)


def test_members_that_predict_different_things_are_refused(protein_members, dna_members):
    with pytest.raises(ValueError, match="alphabet"):
        load_ensemble([protein_members / "seed0", dna_members / "seed0"])
