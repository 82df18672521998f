"""Settings chosen on validation: an Optuna search over a task's model and trainer options.

Every trial trains on fold 0's train rows and is scored on its validation rows with the
task's selection metric; the test rows are removed before anything is encoded, so a
search can never see them. The sampler is TPE (seeded), the pruner Optuna's median
pruner on the per-epoch validation metric. The budget is ``tune.trials`` trials and
``tune.minutes`` minutes, whichever ends first.

A search space maps ``model.<option>`` or ``trainer.<option>`` to ``{low, high[, log]}``
(a float, or an int when both ends are ints) or ``{choices: [...]}``. A task's
``tune.space`` overrides entries of ``DEFAULT_SPACE`` (``null`` removes one).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time

import pandas as pd

from lyra.data import splits
from lyra.config import Task
from lyra.errors import TrainingDiverged

log = logging.getLogger(__name__)

DEFAULT_SPACE = {
    "trainer.lr": {"low": 3e-4, "high": 3e-3, "log": True},
    "trainer.weight_decay": {"low": 1e-3, "high": 0.1, "log": True},
    "model.dropout": {"low": 0.0, "high": 0.4},
    "model.d_model": {"choices": [32, 64, 128]},
}


def search_space(task: Task) -> dict:
    """``DEFAULT_SPACE`` with the task's ``tune.space`` entries laid over it."""
    space = {**DEFAULT_SPACE, **((task.tune or {}).get("space") or {})}
    bad = sorted(k for k in space if k.split(".")[0] not in ("model", "trainer") or k.count(".") != 1)
    if bad:
        raise ValueError(f"tune.space keys must be model.<option> or trainer.<option>, got {bad}")
    return {k: v for k, v in space.items() if v is not None}


def _suggest(trial, name: str, spec: dict):
    if "choices" in spec:
        return trial.suggest_categorical(name, list(spec["choices"]))
    low, high = spec["low"], spec["high"]
    if isinstance(low, int) and isinstance(high, int) and not isinstance(low, bool):
        return trial.suggest_int(name, low, high, log=bool(spec.get("log", False)))
    return trial.suggest_float(name, float(low), float(high), log=bool(spec.get("log", False)))


def current_settings(task: Task, model_name: str, variants: dict | None, space: dict) -> dict:
    """The task's own value of every searched option (the model's constructor default where
    the task sets none), clipped into the searched range or choices."""
    import inspect

    from lyra.nn.architectures import MODULES

    base, options = task.model_options(model_name, variants)
    defaults = {k: p.default for k, p in inspect.signature(MODULES[base]).parameters.items()
                if p.default is not inspect.Parameter.empty}
    values = {}
    for name, spec in space.items():
        block, option = name.split(".", 1)
        value = getattr(task.trainer, option) if block == "trainer" else options.get(option, defaults.get(option))
        if "choices" in spec:
            values[name] = value if value in spec["choices"] else spec["choices"][0]
        else:
            values[name] = min(max(value, spec["low"]), spec["high"])
    return values


def apply_settings(task: Task, settings: dict) -> Task:
    """``task`` with ``{"model.x": ..., "trainer.y": ...}`` laid over its Lyra options and trainer."""
    model = dict(task.model)
    trainer = {}
    for key, value in settings.items():
        block, option = key.split(".", 1)
        if block == "model":
            model[option] = value
        else:
            trainer[option] = value
    return task.replace(model=model, trainer=dataclasses.replace(task.trainer, **trainer))


def tune(prepared: pd.DataFrame, task: Task, model_name: str = "lyra", variants: dict | None = None,
         progress: bool = False) -> tuple[pd.DataFrame, dict]:
    """Run the search; returns one row per trial and ``{"settings", "value", ...}`` of the best."""
    import optuna

    from lyra.models.fold import fit_on_rows  # torch is imported only when a search runs

    spec = task.tune or {}
    space = search_space(task)
    view = splits.view(prepared, 0, task.split)
    seen = view[view["split"].isin(["train", "valid"])].reset_index(drop=True)  # the test rows never enter
    sampler = optuna.samplers.TPESampler(seed=int(spec.get("seed", 0)))
    pruner = optuna.pruners.MedianPruner(n_startup_trials=int(spec.get("startup_trials", 3)), n_warmup_steps=2)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    untuned = current_settings(task, model_name, variants, space)
    study.enqueue_trial(untuned)  # trial 0: the task's own settings, the baseline the search must beat

    def objective(trial):
        settings = {name: _suggest(trial, name, entry) for name, entry in space.items()}
        trial_task = apply_settings(task, settings)

        def report(epoch: int, score: float) -> bool:
            trial.report(score if math.isfinite(score) else -1.0, epoch)
            return trial.should_prune()

        score, pruned_at = fit_on_rows(seen, trial_task, model_name, variants, epoch_callback=report)
        if pruned_at is not None:
            raise optuna.TrialPruned(f"pruned after epoch {pruned_at}")
        return score if math.isfinite(score) else -1.0

    started = time.perf_counter()
    # a trial whose settings make training diverge fails (state "fail" in the table); the search goes on
    study.optimize(objective, n_trials=int(spec.get("trials", 20)), timeout=60.0 * float(spec.get("minutes", 30)),
                   show_progress_bar=progress, catch=(TrainingDiverged,))
    rows = []
    for t in study.trials:
        rows.append({"trial": t.number, "state": t.state.name.lower(), "value": t.value,
                     "seconds": (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else None,
                     **{f"param_{k}": v for k, v in t.params.items()}})
    table = pd.DataFrame(rows)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError("no tuning trial completed; raise tune.trials or tune.minutes")
    best = study.best_trial
    first = study.trials[0]
    summary = {"model": model_name, "settings": best.params, "value": best.value, "trial": best.number,
               "metric": task.trainer.metric_for(task.task_type),
               "n_trials": len(study.trials), "n_complete": len(complete),
               "n_pruned": int(sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)),
               "seconds": time.perf_counter() - started, "space": space,
               "untuned_settings": untuned,
               "untuned_value": first.value if first.state == optuna.trial.TrialState.COMPLETE else None}
    log.info("tuning %s on %s: best %s %.4f (trial %d of %d)", model_name, task.name, summary["metric"],
             best.value, best.number, len(study.trials))
    return table, summary
