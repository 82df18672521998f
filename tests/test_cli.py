"""The ``lyra`` command on small files: train, predict, evaluate and its error messages."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from lyra.cli import build_parser, main
from lyra.data.synthetic import epistasis_landscape


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny Lyra trained by the CLI on a synthetic CSV."""
    root = tmp_path_factory.mktemp("cli")
    data = epistasis_landscape(400, 12, alphabet="dna", orders=(1,), n_terms=(12,), noise=0.0, seed=1)
    data.to_csv(root / "train.csv", index=False)
    out = root / "run"
    code = main(["train", "--input", str(root / "train.csv"), "--sequence-column", "sequence",
                 "--target-column", "target", "--id-column", "id", "--alphabet", "dna", "--epochs", "3",
                 "--model-option", "d_model=16", "--model-option", "d_state=8", "--out-dir", str(out), "--quiet"])
    assert code == 0
    return root, data, out


def test_help_explains_every_option():
    parser = build_parser()
    for action in parser._subparsers._group_actions[0].choices.values():
        for option in action._actions:
            if option.option_strings and option.dest != "help":
                assert option.help, f"{action.prog} {option.option_strings} has no help"


def test_train_writes_all_outputs(trained):
    _, data, out = trained
    for name in ("model.pt", "history.csv", "predictions.tsv", "metrics.json"):
        assert (out / name).stat().st_size > 0
    predictions = pd.read_csv(out / "predictions.tsv", sep="\t")
    assert sorted(predictions["id"]) == sorted(data["id"])
    assert set(predictions["split"]) == {"train", "valid", "test"}
    metrics = json.loads((out / "metrics.json").read_text())
    test = predictions[predictions["split"] == "test"]
    expected = spearmanr(test["y_true"], test["y_pred"]).statistic
    assert metrics["splits"]["test"]["value"]["value"] == pytest.approx(expected, abs=1e-6)
    assert len(pd.read_csv(out / "history.csv")) == 3


def test_predict_reloads_the_model_and_reproduces_training_predictions(trained):
    root, data, out = trained
    fasta = root / "new.fasta"
    fasta.write_text("".join(f">{i}\n{s.lower()}\n" for i, s in zip(data["id"][:20], data["sequence"][:20])))
    result = root / "new.tsv"
    assert main(["predict", "--model", str(out / "model.pt"), "--input", str(fasta), "--out", str(result)]) == 0
    new = pd.read_csv(result, sep="\t").set_index("id")
    old = pd.read_csv(out / "predictions.tsv", sep="\t").set_index("id")
    np.testing.assert_allclose(new["y_pred"], old.loc[new.index, "y_pred"], rtol=1e-5)


def test_evaluate_recomputes_metrics(trained, tmp_path):
    _, _, out = trained
    target = tmp_path / "m.json"
    assert main(["evaluate", "--predictions", str(out / "predictions.tsv"), "--task-type", "regression",
                 "--out", str(target)]) == 0
    again = json.loads(target.read_text())
    first = json.loads((out / "metrics.json").read_text())
    assert again["splits"]["test"]["value"] == first["splits"]["test"]["value"]


def test_bad_input_is_one_line_naming_file_and_leaves_no_output(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("sequence,target\nACGT,1.0\nAC9T,2.0\nACGA,3.0\n")
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "lyra.cli", "train", "--input", str(bad), "--sequence-column", "sequence",
         "--target-column", "target", "--alphabet", "dna", "--out-dir", str(out)],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    message = result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr
    assert "bad.csv" in message and "'9'" in message
    assert not out.exists() or not any(out.iterdir())


def test_missing_column_is_named(tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("seq,y\nACGT,1\nACGA,2\n")
    code = main(["train", "--input", str(table), "--sequence-column", "sequence", "--target-column", "y",
                 "--alphabet", "dna", "--out-dir", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert "'sequence'" in err and "t.csv" in err
    assert "'cli'" not in err and "task 't'" in err  # the task is named after the file, not internally


def test_train_prints_the_interval_and_predict_reads_the_training_column(tmp_path, capsys):
    """The printed headline carries metrics.json's 95% interval; predict reads the sequence
    column that training read (kept in model.pt) and names the line of a bad sequence."""
    data = epistasis_landscape(150, 10, alphabet="dna", orders=(1,), n_terms=(8,), noise=0.1, seed=4)
    data.rename(columns={"sequence": "guide"}).to_csv(tmp_path / "guides.csv", index=False)
    assert main(["train", "--input", str(tmp_path / "guides.csv"), "--sequence-column", "guide", "--target-column",
                 "target", "--alphabet", "dna", "--epochs", "1", "--model-option", "d_model=8",
                 "--model-option", "d_state=4", "--out-dir", str(tmp_path / "run"), "--quiet"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    ci = json.loads((tmp_path / "run" / "metrics.json").read_text())["splits"]["test"]["ci"]
    assert f"95% CI [{ci['low']:.4f}, {ci['high']:.4f}]" in printed
    new = tmp_path / "new.csv"
    new.write_text(f"guide\n{data['sequence'][0]}\n{data['sequence'][1][:-1]}Z\n")
    assert main(["predict", "--model", str(tmp_path / "run"), "--input", str(new), "--out", str(tmp_path / "p.tsv")]) != 0
    error = capsys.readouterr().err.strip()
    assert "new.csv: line 3:" in error and "'Z'" in error and "record" not in error
    new.write_text(f"guide\n{data['sequence'][0]}\n{data['sequence'][1]}\n")
    assert main(["predict", "--model", str(tmp_path / "run"), "--input", str(new), "--out", str(tmp_path / "p.tsv")]) == 0
    assert len(pd.read_csv(tmp_path / "p.tsv", sep="\t")) == 2


def test_predict_applies_the_tasks_length_rule(tmp_path, capsys):
    """A model trained on a task with ``length: 10`` refuses a sequence of another length at
    predict time, with one line naming the file and the record, and writes nothing."""
    data = epistasis_landscape(120, 10, alphabet="dna", orders=(1,), n_terms=(8,), noise=0.0, seed=3)
    data.to_csv(tmp_path / "landscape.csv", index=False)
    (tmp_path / "config.yaml").write_text(
        f"data_root: {tmp_path}\nmodel: {{d_model: 8, d_state: 4}}\ntrainer: {{epochs: 1}}\n"
        "tasks:\n  syn:\n    input: {format: csv, path: landscape.csv}\n"
        "    columns: {sequence: sequence, target: target, id: id}\n    length: 10\n"
        "    alphabet: dna\n    task_type: regression\n    split: {scheme: random, fractions: [0.8, 0.1, 0.1]}\n")
    assert main(["train", "--config", str(tmp_path / "config.yaml"), "--task", "syn", "--out-dir",
                 str(tmp_path / "run"), "--quiet"]) == 0
    good = tmp_path / "good.fasta"
    good.write_text(f">a\n{data['sequence'][0]}\n")
    assert main(["predict", "--model", str(tmp_path / "run"), "--input", str(good), "--out", str(tmp_path / "a.tsv")]) == 0
    bad = tmp_path / "bad.fasta"
    bad.write_text(f">a\n{data['sequence'][0]}\n>b\n{data['sequence'][1]}A\n")
    capsys.readouterr()
    assert main(["predict", "--model", str(tmp_path / "run"), "--input", str(bad), "--out", str(tmp_path / "b.tsv")]) != 0
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "bad.fasta" in error and "record 'b'" in error and "length" in error
    assert not (tmp_path / "b.tsv").exists()


def test_a_config_task_without_data_root_reads_the_default_data_folder(tmp_path, monkeypatch):
    """config/config.yaml sets no data_root: `lyra train --config` reads ../shared/data as the workflow does."""
    shared, work = tmp_path / "shared" / "data", tmp_path / "work"
    shared.mkdir(parents=True)
    work.mkdir()
    epistasis_landscape(60, 8, alphabet="dna", orders=(1,), n_terms=(4,), noise=0.0, seed=6).to_csv(
        shared / "x.csv", index=False)
    (work / "config.yaml").write_text("tasks:\n  t:\n    input: {format: csv, path: x.csv}\n    alphabet: dna\n"
                                      "    task_type: regression\n    split: {scheme: random}\n"
                                      "    model: {d_model: 8, d_state: 4}\n    trainer: {epochs: 1}\n")
    monkeypatch.chdir(work)
    assert main(["train", "--config", "config.yaml", "--task", "t", "--out-dir", "run", "--quiet"]) == 0
