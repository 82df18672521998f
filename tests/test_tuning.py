"""Settings chosen on validation (lyra.models.tuning): trials are recorded, the task's own settings
are trial 0, the test rows never reach a trial, and the best settings are applied as given."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.linear_model import RidgeCV

pytest.importorskip("optuna")

from lyra.data import splits  # noqa: E402
from lyra.config import task_from_config  # noqa: E402
from lyra.data.synthetic import epistasis_landscape  # noqa: E402
from lyra.models.tuning import apply_settings, current_settings, search_space, tune  # noqa: E402


def _task(**tune):
    entry = {"input": {"format": "csv", "path": "x.csv"}, "alphabet": "dna", "task_type": "regression",
             "split": {"scheme": "random", "fractions": [0.7, 0.15, 0.15], "seed": 0},
             "model": {"d_model": 8, "d_state": 4}, "trainer": {"epochs": 3, "batch_size": 32},
             "tune": {"trials": 4, "minutes": 5, "space": {"model.d_model": {"choices": [8, 16]},
                                                           "model.dropout": None}, **tune}}
    return task_from_config({"tasks": {"t": entry}}, "t")


def _prepared(task):
    records = epistasis_landscape(150, 10, "dna", orders=[1], n_terms=[8], noise=0.1, seed=1).assign(group="")
    return splits.assign(records, task.split, task.name)


def test_space_overrides_and_removals_and_current_settings():
    task = _task()
    space = search_space(task)
    assert "model.dropout" not in space and space["model.d_model"] == {"choices": [8, 16]}
    assert "trainer.lr" in space  # from the default space
    current = current_settings(task, "lyra", None, space)
    assert current["model.d_model"] == 8 and current["trainer.lr"] == pytest.approx(1e-3)


def test_trials_are_recorded_and_test_rows_are_never_used():
    task = _task()
    prepared = _prepared(task)
    trials, best = tune(prepared, task)
    assert len(trials) == 4 and trials["trial"].tolist() == [0, 1, 2, 3]
    assert best["untuned_settings"] == current_settings(task, "lyra", None, search_space(task))
    assert best["value"] >= best["untuned_value"]  # trial 0 is the task's own settings
    assert {c for c in trials if c.startswith("param_")} == {f"param_{k}" for k in search_space(task)}
    # poison every test target: a search that never sees the test rows is unchanged
    test = splits.view(prepared, 0, task.split)["split"].to_numpy() == "test"
    poisoned = prepared.copy()
    poisoned.loc[test, "target"] = 1e6
    again, best_again = tune(poisoned, task)
    pd.testing.assert_frame_equal(trials.drop(columns="seconds"), again.drop(columns="seconds"))
    assert best_again["settings"] == best["settings"]


def test_a_trial_scores_the_network_not_a_ridge_model():
    # position-aware Lyra holds a ridge model in its skip head; a trial must report the
    # trained network's own score, not that of ridge (the same fit in every trial)
    from lyra.data.encode import one_hot
    from lyra.models.fold import fit_on_rows

    task = task_from_config({"tasks": {"t": {
        "input": {"format": "csv", "path": "x.csv"}, "alphabet": "dna", "task_type": "regression",
        "split": {"scheme": "random", "fractions": [0.7, 0.15, 0.15], "seed": 0},
        "model": {"d_model": 8, "d_state": 4, "position_aware": True}, "trainer": {"epochs": 1, "batch_size": 32}}}},
        "t")
    view = splits.view(_prepared(task), 0, task.split)
    rows = view[view["split"] != "test"].reset_index(drop=True)
    score, _ = fit_on_rows(rows, task)
    train, valid = (rows[rows["split"] == part] for part in ("train", "valid"))
    flat = [one_hot(part["sequence"].tolist(), "dna", "error")[0].reshape(len(part), -1).numpy() for part in (train, valid)]
    ridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(flat[0], train["target"])
    ridge_score = spearmanr(ridge.predict(flat[1]), valid["target"]).statistic
    assert ridge_score > 0.9  # an additive landscape: ridge would win
    assert score < ridge_score - 0.1  # one epoch of a tiny network, reported as such


def test_best_settings_are_laid_over_the_task():
    task = _task()
    tuned = apply_settings(task, {"model.d_model": 16, "trainer.lr": 0.002})
    assert tuned.model == {**task.model, "d_model": 16}
    assert tuned.trainer.lr == 0.002 and tuned.trainer.epochs == task.trainer.epochs
    assert task.model["d_model"] == 8  # the task itself is unchanged (frozen)
    assert not task.uses_tuning("lyra") and _task(use=True).uses_tuning("lyra")
