"""Model files and checkpoints hold only tensors and plain values, and nothing in a file runs
when it is opened (issue 33, items 0 and 1).

The hostile file is a real pickle whose loading would create a marker file (as a model
from elsewhere could run any command); each loader must refuse it with one line naming
the file, and the marker must never appear. A damaged checkpoint is ignored with one
warning, and training then gives what an uninterrupted run gives.
"""

import logging
import os

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegressionCV, RidgeCV

from lyra.data import splits
from lyra.nn.baselines import RIDGE_ALPHAS, LinearWeights, fit_linear
from lyra.cli import main
from lyra.config import task_from_config
from lyra.analysis.ensemble import load_ensemble
from lyra.errors import LyraInputError
from lyra.nn.lyra import Lyra
from lyra.models.fold import train_fold
from lyra.models.saved import load_model, predict_sequences
from lyra.data.synthetic import epistasis_landscape
from lyra.nn.run import EncodedSet
from lyra.training.loop import TrainerConfig, fit


class _RunsCode:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _hostile_model(path, marker):
    """A model.pt-shaped file whose unpickling would run a command (the issue's evil.pt)."""
    torch.save({"model_name": "lyra", "d_input": _RunsCode(marker), "state_dict": {}}, path)
    return path


def _damaged_files(root, good):
    """The ways a file can be unreadable: cut to half its size, another program's file, empty."""
    data = good.read_bytes()
    (root / "truncated.pt").write_bytes(data[: len(data) // 2])
    (root / "text.pt").write_text("id,sequence\n1,ACGT\n")
    (root / "empty.pt").write_bytes(b"")
    return [root / "truncated.pt", root / "text.pt", root / "empty.pt"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny Lyra (DNA regression) trained by ``lyra train``: run/model.pt and the table it was trained on."""
    root = tmp_path_factory.mktemp("models")
    data = epistasis_landscape(200, 10, alphabet="dna", orders=(1,), n_terms=(10,), noise=0.0, seed=2)
    data.to_csv(root / "train.csv", index=False)
    code = main(["train", "--input", str(root / "train.csv"), "--sequence-column", "sequence", "--target-column",
                 "target", "--id-column", "id", "--alphabet", "dna", "--epochs", "1", "--model-option", "d_model=8",
                 "--model-option", "d_state=4", "--out-dir", str(root / "run"), "--quiet"])
    assert code == 0
    return root


# ---------------------------------------------------------------- a model file that would run code
@pytest.mark.parametrize("command", ["predict", "mutagenesis", "score-variants"])
def test_the_cli_refuses_a_model_whose_loading_runs_code_with_one_line(trained, tmp_path, capsys, command):
    marker = tmp_path / "code_ran"
    evil = _hostile_model(tmp_path / "evil.pt", marker)
    (tmp_path / "in.fasta").write_text(">a\nACGTACGTAC\n")
    (tmp_path / "variants.csv").write_text("variant\nA1C\n")
    args = {"predict": ["--input", str(tmp_path / "in.fasta")],
            "mutagenesis": ["--sequence", "ACGTACGTAC"],
            "score-variants": ["--reference", "ACGTACGTAC", "--variants", str(tmp_path / "variants.csv")]}[command]
    out = tmp_path / "out.tsv"
    assert main([command, "--model", str(evil), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"lyra {command}: error: {evil}: contents: holds a Python object (posix.system)"), err
    assert not marker.exists(), "unpickling the model file ran its code"
    assert not out.exists()


def test_the_ensemble_loader_refuses_it_even_beside_good_models(trained, tmp_path):
    marker = tmp_path / "code_ran"
    evil = _hostile_model(tmp_path / "evil.pt", marker)
    with pytest.raises(LyraInputError, match=f"^{evil}: contents: holds a Python object"):
        load_ensemble([trained / "run", evil])
    assert not marker.exists()


def test_checkpoint_resume_ignores_it_without_running_it(tmp_path, caplog):
    marker = tmp_path / "code_ran"
    checkpoint = tmp_path / "ckpt.pt"
    torch.save({"fingerprint": "run", "model": _RunsCode(marker)}, checkpoint)
    with caplog.at_level(logging.WARNING):
        _, result = _fit(checkpoint)
    assert not marker.exists()
    assert result.resumed_from_epoch == 0
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"ignoring checkpoint {checkpoint}: contents: holds a Python object (posix.system) besides tensors and "
        "plain values; not loaded, since unpickling it could run code; training from the start"]


def test_a_damaged_or_foreign_model_file_is_one_line_naming_it(trained, tmp_path, capsys):
    (tmp_path / "in.fasta").write_text(">a\nACGTACGTAC\n")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)  # a torch file, but not a lyra model
    for path in [*_damaged_files(tmp_path, trained / "run" / "model.pt"), foreign]:
        assert main(["predict", "--model", str(path), "--input", str(tmp_path / "in.fasta"),
                     "--out", str(tmp_path / "out.tsv")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"lyra predict: error: {path}: contents: "), err
        expected = "not a lyra model file" if path == foreign else "not a readable torch file"
        assert expected in err, err


# ---------------------------------------------------------------- what a model file holds
def _plain(value) -> bool:
    """Whether ``value`` is built only of tensors and plain Python values."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (torch.Tensor, str, bool, int, float))


def _task(task_type, classes=None):
    entry = {"input": {"format": "csv", "path": "x.csv"}, "alphabet": "dna", "task_type": task_type,
             "split": {"scheme": "random", "fractions": [0.7, 0.15, 0.15], "seed": 0}}
    if classes:
        entry["classes"] = classes
    config = {"model": {"d_model": 8, "d_state": 8}, "trainer": {"epochs": 1, "batch_size": 32}, "tasks": {"t": entry}}
    return task_from_config(config, "t")


@pytest.mark.parametrize("model_name, task_type", [("ridge", "regression"), ("ridge", "binary"),
                                                   ("ridge", "multiclass"), ("lyra", "regression"),
                                                   ("onehot_linear", "regression")])
def test_saved_model_holds_plain_values_and_reloads_to_identical_predictions(tmp_path, model_name, task_type):
    classes = {"regression": None, "binary": ["lo", "hi"], "multiclass": ["a", "b", "c"]}[task_type]
    task = _task(task_type, classes)
    records = epistasis_landscape(160, 12, "dna", orders=[1], n_terms=[8], noise=0.1, seed=1).assign(group="")
    if classes:
        edges = np.quantile(records["target"], np.linspace(0, 1, len(classes) + 1)[1:-1])
        records["target"] = np.digitize(records["target"], edges)
    prepared = splits.assign(records, task.split, task.name)
    variants = {"short": {"base": "onehot_linear", "options": {"steps": 20}}}
    train_fold(prepared, task, 0, tmp_path, "short" if model_name == "onehot_linear" else model_name,
               progress=False, variants=variants)
    saved = torch.load(tmp_path / "model.pt", weights_only=True)  # torch's own safe reader accepts it
    assert _plain(saved)
    model, meta = load_model(tmp_path / "model.pt")
    written = pd.read_csv(tmp_path / "predictions.tsv", sep="\t")
    again = predict_sequences(model, meta, written["sequence"].tolist())
    columns = ["y_pred"] + [f"prob_{c}" for c in classes or []]
    np.testing.assert_allclose(again[columns].to_numpy(float), written[columns].to_numpy(float), rtol=1e-8, atol=0)


@pytest.mark.parametrize("task_type", ["regression", "binary", "multiclass"])
def test_linear_weights_predict_exactly_as_scikit_learn(task_type):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 30)).astype(np.float32)  # float32, as the one-hot features
    y = x[:, :3].sum(1) + rng.normal(scale=0.1, size=120)
    if task_type != "regression":
        y = np.digitize(y, np.quantile(y, [0.5] if task_type == "binary" else [1 / 3, 2 / 3]))
    estimator = fit_linear(x, y, task_type)
    if task_type != "regression":
        assert isinstance(estimator, LogisticRegressionCV)
    weights = LinearWeights.of(estimator)
    test = rng.normal(size=(50, 30)).astype(np.float32)
    if task_type == "regression":  # more rows than features: fit_sparse_ridge's route, RidgeCV's fit
        np.testing.assert_array_equal(weights.decision(test), estimator.predict(test))
        ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(x, y)
        assert estimator.alpha_ == ridge.alpha_
        np.testing.assert_allclose(weights.decision(test), ridge.predict(test), rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_array_equal(weights.predict_proba(test), estimator.predict_proba(test))


# ---------------------------------------------------------------- an unreadable checkpoint
def _dataset(n, seed, length=12):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, 4, (n, length), generator=g)
    y = (tokens[:, : length // 2] == 2).float().sum(1)
    return EncodedSet(torch.nn.functional.one_hot(tokens, 4).float(), torch.ones(n, length, dtype=torch.bool),
                      (y - y.mean()) / y.std())


def _fit(checkpoint=None, epochs=3, fingerprint="run", model=None):
    torch.manual_seed(0)
    model = model or Lyra(4, 1, d_model=8, d_state=4, dropout=0.1)
    config = TrainerConfig(epochs=epochs, batch_size=16, seed=3)
    return model, fit(model, _dataset(96, 1), _dataset(48, 2), "regression", config, torch.device("cpu"),
                      checkpoint_path=checkpoint, fingerprint=fingerprint, progress=False)


def _same_run(result, reference):
    assert result.resumed_from_epoch == 0
    np.testing.assert_array_equal(result.history["train_loss"], reference.history["train_loss"])
    np.testing.assert_array_equal(result.history["valid_loss"], reference.history["valid_loss"])
    for key, value in reference.best_state.items():
        assert torch.equal(value, result.best_state[key]), key


def test_a_damaged_checkpoint_is_one_warning_then_the_uninterrupted_result(tmp_path, caplog):
    _, uninterrupted = _fit()
    _fit(tmp_path / "good.pt", epochs=1)  # a real checkpoint, after one epoch
    for checkpoint in _damaged_files(tmp_path, tmp_path / "good.pt"):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            _, result = _fit(checkpoint)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and warnings[0].startswith(f"ignoring checkpoint {checkpoint}: contents: not a "
                                                             "readable torch file"), warnings
        _same_run(result, uninterrupted)
        assert torch.load(checkpoint, weights_only=True)["state"]["epoch"] == 3  # replaced by this run's


def test_a_checkpoint_that_does_not_fit_the_model_is_one_warning_then_the_uninterrupted_result(tmp_path, caplog):
    _, uninterrupted = _fit()
    checkpoint = tmp_path / "ckpt.pt"
    _fit(checkpoint, epochs=1, model=Lyra(4, 1, d_model=16, d_state=4, dropout=0.1))  # same fingerprint, wider model
    with caplog.at_level(logging.WARNING):
        _, result = _fit(checkpoint)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith(f"ignoring checkpoint {checkpoint}: it does not fit this run")
    _same_run(result, uninterrupted)


def test_a_checkpoint_is_resumed_through_the_safe_reader(tmp_path):
    _, uninterrupted = _fit()
    _fit(tmp_path / "ckpt.pt", epochs=1)
    torch.load(tmp_path / "ckpt.pt", weights_only=True)  # no NumPy arrays or other objects inside
    _, resumed = _fit(tmp_path / "ckpt.pt")
    assert resumed.resumed_from_epoch == 1
    np.testing.assert_array_equal(resumed.history["train_loss"], uninterrupted.history["train_loss"])
    for key, value in uninterrupted.best_state.items():
        assert torch.equal(value, resumed.best_state[key]), key
