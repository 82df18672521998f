"""A training that diverges stops with one line and writes nothing (issue 33, item 2).

With a learning rate of 1e6 the loss is NaN within the first epoch; before, every epoch
logged NaN, the run "succeeded" and wrote empty predictions that crashed evaluation.
"""

import dataclasses
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from lyra.data import splits
from lyra.cli import main
from lyra.config import task_from_config
from lyra.errors import LyraInputError, TrainingDiverged
from lyra.nn.lyra import Lyra
from lyra.results import evaluate_task, read_predictions
from lyra.models.fold import train_fold
from lyra.data.synthetic import epistasis_landscape
from lyra.nn.run import EncodedSet
from lyra.training.loop import TrainerConfig, fit

REPO = Path(__file__).resolve().parents[1]
LINE = re.compile(r"epoch 1: (?:training|validation) loss is (\S+) at learning rate 1e\+06: "
                  r"training diverged; lower trainer.lr$")


def _task(**trainer):
    entry = {"input": {"format": "csv", "path": "x.csv"}, "alphabet": "dna", "task_type": "regression",
             "split": {"scheme": "random", "fractions": [0.7, 0.15, 0.15], "seed": 0}}
    config = {"model": {"d_model": 8, "d_state": 8}, "trainer": {"epochs": 3, "batch_size": 32, **trainer},
              "tasks": {"t": entry}}
    return task_from_config(config, "t")


def _prepared(task):
    records = epistasis_landscape(160, 12, "dna", orders=[1], n_terms=[8], noise=0.1, seed=1).assign(group="")
    return splits.assign(records, task.split, task.name)


def test_fit_stops_in_the_first_epoch_naming_the_loss_and_learning_rate(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (64, 10), generator=g), 4).float()
    data = EncodedSet(x, torch.ones(64, 10, dtype=torch.bool), torch.randn(64, generator=g))
    checkpoint = tmp_path / "ckpt.pt"
    with pytest.raises(TrainingDiverged) as raised:
        fit(Lyra(4, 1, d_model=8, d_state=4), data, data, "regression", TrainerConfig(epochs=5, lr=1e6),
            torch.device("cpu"), checkpoint_path=checkpoint, progress=False)
    found = LINE.search(str(raised.value))
    assert found and not math.isfinite(float(found.group(1))), str(raised.value)
    assert not checkpoint.exists()


def test_train_fold_names_task_model_and_fold_and_writes_nothing(tmp_path):
    task = _task(lr=1e6)
    with pytest.raises(TrainingDiverged, match=r"^task 't', model 'lyra', fold 0: epoch 1: training loss is "):
        train_fold(_prepared(task), task, 0, tmp_path, "lyra", progress=False)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


def test_data_parallel_training_reports_the_same_line(tmp_path):
    task = _task(lr=1e6, n_gpus=2)  # two CPU processes where there is no GPU
    with pytest.raises(TrainingDiverged, match=r"^task 't', model 'lyra', fold 0: epoch 1: "):
        train_fold(_prepared(task), task, 0, tmp_path, "lyra", progress=False, device="cpu")
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


def test_non_finite_predictions_of_a_model_with_its_own_learning_rate_are_refused(tmp_path):
    task = _task()
    variants = {"wild": {"base": "onehot_linear", "options": {"steps": 20, "lr": float("inf")}}}
    with pytest.raises(TrainingDiverged, match=r"^task 't', model 'wild', fold 0: predictions: 160 of 160 rows "
                                               r"have a non-finite output"):
        train_fold(_prepared(task), task, 0, tmp_path, "wild", progress=False, variants=variants)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_sane_learning_rate_still_trains(tmp_path):
    task = _task(lr=1e-3)
    train_fold(_prepared(task), task, 0, tmp_path, "lyra", progress=False)
    assert read_predictions(tmp_path / "predictions.tsv")["y_pred"].notna().all()


def test_evaluate_refuses_an_empty_prediction_with_one_line(tmp_path, capsys):
    task = _task()
    train_fold(_prepared(task), task, 0, tmp_path, "ridge", progress=False)
    table = pd.read_csv(tmp_path / "predictions.tsv", sep="\t", dtype=str, keep_default_na=False)
    table.loc[3, "y_pred"] = ""  # what a diverged run wrote before
    bad = tmp_path / "bad.tsv"
    table.to_csv(bad, sep="\t", index=False)
    with pytest.raises(LyraInputError, match=f"^{bad}: id '{table.loc[3, 'id']}': 1 of 160 rows have no finite "
                                             r"prediction \(y_pred empty, NaN or infinite\)"):
        evaluate_task(read_predictions(bad), task, n_boot=10, source=str(bad))
    out = tmp_path / "metrics.json"
    assert main(["evaluate", "--predictions", str(bad), "--task-type", "regression", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}: id '{table.loc[3, 'id']}'" in err and not out.exists()


@pytest.mark.slow
def test_workflow_with_a_diverging_learning_rate_ends_with_one_line_and_no_results(tmp_path):
    """The .test configuration, its synthetic task only, with trainer.lr 1e6."""
    config = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())
    config["tasks"] = {"synthetic_epistasis": config["tasks"]["synthetic_epistasis"]}
    config["models"] = ["lyra"]
    config["trainer"]["lr"] = 1000000.0
    shutil.copytree(REPO / "workflow", tmp_path / "workflow")
    (tmp_path / "diverging.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "diverging.yaml",
         "--replace-workflow-config", "results/synthetic_epistasis/lyra/metrics.json"],
        cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode != 0
    line = ("error: task 'synthetic_epistasis', model 'lyra', fold 0: epoch 1: training loss is nan at learning "
            "rate 1e+06: training diverged; lower trainer.lr")
    assert line in result.stderr.splitlines(), result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert (tmp_path / "logs/synthetic_epistasis/lyra/train_fold0.log").read_text().endswith(line + "\n")
    lyra_dir = tmp_path / "results/synthetic_epistasis/lyra"
    assert [str(p) for p in lyra_dir.rglob("*") if p.is_file()] == []
