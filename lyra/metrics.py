"""Evaluation metrics, bootstrap confidence intervals and the metrics.json summary.

Every metric returns a :class:`MetricValue`. A metric that is mathematically undefined
for the given data (a correlation with constant predictions or truths, AUROC with a
single class, ...) gives ``value = nan`` and a ``reason``; it is never reported as a
float-noise number.

Constancy rule: a vector counts as constant when its spread (max - min) is at most
``CONSTANT_RTOL * max(1, |mean|)`` with ``CONSTANT_RTOL = 1e-6``. This catches exact
constants and float32 model outputs that differ only in their last bits (float32 has
about 7 significant digits), whose ranks and correlations would be noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats
from sklearn import metrics as skm

from lyra.errors import LyraInputError

CONSTANT_RTOL = 1e-6
SPLITS = ("train", "valid", "test")
REGRESSION_METRICS = ("spearman", "pearson", "r2", "mse")
CLASSIFICATION_METRICS = ("accuracy", "mcc", "auroc")
_BOOT_CHUNK_ELEMENTS = 4_000_000  # resample matrix size per vectorised chunk


@dataclass(frozen=True)
class MetricValue:
    """A metric value, or NaN with the reason it is undefined."""

    value: float
    reason: str | None = None

    @property
    def undefined(self) -> bool:
        return self.reason is not None

    def __float__(self) -> float:
        return float(self.value)

    def to_json(self) -> dict:
        """JSON form: ``{"value": float|null, "undefined": bool[, "reason": str]}``."""
        if self.undefined:
            return {"value": None, "undefined": True, "reason": self.reason}
        return {"value": float(self.value), "undefined": False}


def undefined_value(reason: str) -> MetricValue:
    return MetricValue(math.nan, reason)


def _spread_threshold(x: np.ndarray, axis=None) -> np.ndarray:
    return CONSTANT_RTOL * np.maximum(1.0, np.abs(np.mean(x, axis=axis)))


def _is_constant(x: np.ndarray, axis=None) -> np.ndarray | bool:
    """True where ``x`` is constant up to float noise (see module docstring)."""
    return np.ptp(x, axis=axis) <= _spread_threshold(x, axis=axis)


def _check_pair(y_true, y_pred, min_n: int = 1) -> tuple[np.ndarray, np.ndarray, str | None]:
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} rows but y_pred has {len(y_pred)}")
    if len(y_true) < min_n:
        return y_true, y_pred, f"needs at least {min_n} rows, got {len(y_true)}"
    if not np.all(np.isfinite(y_true)):
        return y_true, y_pred, "y_true contains non-finite values"
    if not np.all(np.isfinite(y_pred)):
        return y_true, y_pred, "y_pred contains non-finite values"
    return y_true, y_pred, None


def _correlation_problem(y_true: np.ndarray, y_pred: np.ndarray) -> str | None:
    if _is_constant(y_pred):
        return f"predictions are constant (spread <= {CONSTANT_RTOL:g} * max(1, |mean|))"
    if _is_constant(y_true):
        return f"true values are constant (spread <= {CONSTANT_RTOL:g} * max(1, |mean|))"
    return None


def pearson(y_true, y_pred) -> MetricValue:
    """Pearson correlation; undefined for constant inputs or fewer than 2 rows."""
    y_true, y_pred, problem = _check_pair(y_true, y_pred, min_n=2)
    problem = problem or _correlation_problem(y_true, y_pred)
    if problem:
        return undefined_value(problem)
    return MetricValue(float(stats.pearsonr(y_true, y_pred).statistic))


def spearman(y_true, y_pred) -> MetricValue:
    """Spearman rank correlation; undefined for constant inputs or fewer than 2 rows."""
    y_true, y_pred, problem = _check_pair(y_true, y_pred, min_n=2)
    problem = problem or _correlation_problem(y_true, y_pred)
    if problem:
        return undefined_value(problem)
    return MetricValue(float(stats.spearmanr(y_true, y_pred).statistic))


def r2(y_true, y_pred) -> MetricValue:
    """Coefficient of determination; undefined when the true values are constant."""
    y_true, y_pred, problem = _check_pair(y_true, y_pred, min_n=2)
    if problem is None and _is_constant(y_true):
        problem = "true values are constant, so R^2 has no denominator"
    if problem:
        return undefined_value(problem)
    return MetricValue(float(skm.r2_score(y_true, y_pred)))


def mse(y_true, y_pred) -> MetricValue:
    """Mean squared error."""
    y_true, y_pred, problem = _check_pair(y_true, y_pred)
    if problem:
        return undefined_value(problem)
    return MetricValue(float(skm.mean_squared_error(y_true, y_pred)))


def accuracy(y_true, y_pred) -> MetricValue:
    """Fraction of predicted class indices equal to the true ones."""
    y_true, y_pred, problem = _check_pair(y_true, y_pred)
    if problem:
        return undefined_value(problem)
    return MetricValue(float(skm.accuracy_score(y_true, y_pred)))


def mcc(y_true, y_pred) -> MetricValue:
    """Matthews correlation (binary or multiclass); undefined if either side has one class."""
    y_true, y_pred, problem = _check_pair(y_true, y_pred, min_n=2)
    if problem is None and len(np.unique(y_pred)) < 2:
        problem = "predictions are a single class"
    if problem is None and len(np.unique(y_true)) < 2:
        problem = "true values are a single class"
    if problem:
        return undefined_value(problem)
    return MetricValue(float(skm.matthews_corrcoef(y_true, y_pred)))


def auroc(y_true, y_score) -> MetricValue:
    """Area under the ROC curve.

    Binary: ``y_score`` is P(class 1), shape (n,) (or (n, 2), whose column 1 is used).
    Multiclass: ``y_score`` is a (n, C) probability matrix and the result is the macro
    average of the one-vs-rest AUROCs; undefined when a class is absent from ``y_true``.
    """
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=float)
    if y_score.ndim == 2 and y_score.shape[1] == 2:
        y_score = y_score[:, 1]
    if len(y_true) != len(y_score):
        raise ValueError(f"y_true has {len(y_true)} rows but y_score has {len(y_score)}")
    if not np.all(np.isfinite(y_score)):
        return undefined_value("scores contain non-finite values")
    if y_score.ndim == 1:
        if len(np.unique(y_true)) < 2:
            return undefined_value("true values are a single class")
        return MetricValue(float(skm.roc_auc_score(y_true, y_score)))
    n_classes = y_score.shape[1]
    absent = [c for c in range(n_classes) if not np.any(y_true == c)]
    if absent:
        return undefined_value(f"class index(es) {absent} absent from true values")
    per_class = [skm.roc_auc_score(y_true == c, y_score[:, c]) for c in range(n_classes)]
    return MetricValue(float(np.mean(per_class)))


METRICS: dict[str, Callable[..., MetricValue]] = {
    "spearman": spearman,
    "pearson": pearson,
    "r2": r2,
    "mse": mse,
    "accuracy": accuracy,
    "mcc": mcc,
    "auroc": auroc,
}
LOWER_IS_BETTER = {"mse"}


def higher_is_better(value: float, metric: str) -> float:
    """``value`` of ``metric`` turned so that higher is better (an error such as mse is
    negated; the others are as they are). Applied twice it gives the value back, so it also
    turns such a score into the metric's own value for a table."""
    return -value if metric in LOWER_IS_BETTER else value


# ---- vectorised versions used by bootstrap_ci: rows of (b, n) arrays are resamples ----


def _pearson_rows(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    tc = t - t.mean(axis=1, keepdims=True)
    pc = p - p.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (tc * pc).sum(axis=1) / np.sqrt((tc**2).sum(axis=1) * (pc**2).sum(axis=1))
    r[_is_constant(t, axis=1) | _is_constant(p, axis=1)] = np.nan
    return np.clip(r, -1.0, 1.0)


def _spearman_rows(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    constant = _is_constant(t, axis=1) | _is_constant(p, axis=1)
    r = _pearson_rows(stats.rankdata(t, axis=1), stats.rankdata(p, axis=1))
    r[constant] = np.nan
    return r


def _r2_rows(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    ss_res = ((t - p) ** 2).sum(axis=1)
    ss_tot = ((t - t.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 1.0 - ss_res / ss_tot
    out[_is_constant(t, axis=1)] = np.nan
    return out


_ROW_METRICS = {
    spearman: _spearman_rows,
    pearson: _pearson_rows,
    r2: _r2_rows,
    mse: lambda t, p: ((t - p) ** 2).mean(axis=1),
    accuracy: lambda t, p: (t == p).mean(axis=1),
}


class BootstrapCI(NamedTuple):
    """Percentile bootstrap interval; ``n_undefined`` resamples gave no value."""

    low: float
    high: float
    n_boot: int
    n_undefined: int


def bootstrap_ci(
    y_true, y_pred, metric_fn: Callable, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> BootstrapCI:
    """Percentile bootstrap (1 - alpha) interval of ``metric_fn(y_true, y_pred)``.

    Rows are resampled with replacement (``y_pred`` may be a (n, C) probability matrix).
    Resamples where the metric is undefined are ignored and counted. The metrics of this
    module with a closed form (spearman, pearson, r2, mse, accuracy) are computed on all
    resamples at once; any other callable is called per resample.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    n = len(y_true)
    if n == 0 or n_boot < 1:
        return BootstrapCI(math.nan, math.nan, n_boot, n_boot)
    rng = np.random.default_rng(seed)
    row_metric = _ROW_METRICS.get(metric_fn)
    values = np.empty(n_boot)
    chunk = max(1, _BOOT_CHUNK_ELEMENTS // n)
    for start in range(0, n_boot, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_boot - start), n))
        if row_metric is not None:
            values[start : start + len(idx)] = row_metric(
                y_true[idx].astype(float), y_pred[idx].astype(float)
            )
        else:
            values[start : start + len(idx)] = [float(metric_fn(y_true[i], y_pred[i])) for i in idx]
    finite = values[np.isfinite(values)]
    n_undefined = n_boot - len(finite)
    if len(finite) == 0:
        return BootstrapCI(math.nan, math.nan, n_boot, n_undefined)
    low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return BootstrapCI(float(low), float(high), n_boot, n_undefined)


# ---- predictions.tsv -> metrics.json ----


def _class_columns(predictions: pd.DataFrame, classes: list | None, source: str) -> list[str]:
    if classes is None:
        cols = [c for c in predictions.columns if str(c).startswith("prob_")]
    else:
        cols = [f"prob_{c}" for c in classes]
        missing = [c for c in cols if c not in predictions.columns]
        if missing:
            raise LyraInputError(source, "header", f"missing probability columns {missing}")
    if len(cols) < 2:
        raise LyraInputError(source, "header", "classification needs at least two prob_<class> columns")
    return cols


def _metric_inputs(frame: pd.DataFrame, task_type: str, prob_cols: list[str]) -> dict:
    """Map each applicable metric name to its (y_true, y_pred) arrays."""
    y_true = frame["y_true"].to_numpy(dtype=float)
    y_pred = frame["y_pred"].to_numpy(dtype=float)
    if task_type == "regression":
        return {name: (y_true, y_pred) for name in REGRESSION_METRICS}
    probs = frame[prob_cols].to_numpy(dtype=float)
    scores = probs[:, 1] if task_type == "binary" else probs
    return {"accuracy": (y_true, y_pred), "mcc": (y_true, y_pred), "auroc": (y_true, scores)}


def _split_summary(frame: pd.DataFrame, task_type: str, metric: str, prob_cols: list[str]) -> dict:
    inputs = _metric_inputs(frame, task_type, prob_cols)
    values = {name: METRICS[name](*args).to_json() for name, args in inputs.items()}
    return {"n": int(len(frame)), "value": values[metric], "metrics": values}


def pooled_zscored(predictions: pd.DataFrame, metric: str = "spearman") -> tuple[MetricValue, int]:
    """ProteinGym's k-fold number: one metric over every fold's test rows pooled, after
    z-scoring each fold's test ``y_true`` and ``y_pred`` with the mean and (population)
    standard deviation of that fold's training targets.

    This is what proteingym/merge_supervised.py computes from ProteinNPT-style fold
    outputs (predictions and labels in each fold's training-standardised units). Needs the
    train rows of every fold (predictions.tsv has them). Returns (value, test rows pooled).

    Undefined when a fold's test predictions are constant: the pooled value would then
    rank that fold's rows only by the fold's offset against the others (a model that
    predicts each fold's training mean gets a nonzero number from the folds' levels alone).
    """
    constant = [int(fold) for fold, rows in predictions[predictions["split"] == "test"].groupby("fold", sort=True)
                if len(rows) > 1 and _is_constant(rows["y_pred"].to_numpy(dtype=float))]
    if constant:
        return undefined_value(f"predictions are constant within test fold(s) {constant}; pooled over folds, the "
                               f"value would only rank the folds' offsets"), 0
    truths, preds = [], []
    for fold, rows in predictions.groupby("fold", sort=True):
        test = rows[rows["split"] == "test"]
        if not len(test):
            continue
        train = rows.loc[rows["split"] == "train", "y_true"].to_numpy(dtype=float)
        if len(train) < 2 or _is_constant(train):
            return undefined_value(f"fold {fold} has {'constant' if len(train) > 1 else 'no'} training targets "
                                   f"to z-score its test rows with"), 0
        mean, std = train.mean(), train.std()
        truths.append((test["y_true"].to_numpy(dtype=float) - mean) / std)
        preds.append((test["y_pred"].to_numpy(dtype=float) - mean) / std)
    if not truths:
        return undefined_value("no test rows"), 0
    y_true, y_pred = np.concatenate(truths), np.concatenate(preds)
    return METRICS[metric](y_true, y_pred), len(y_true)


def _fold_summary(test: pd.DataFrame, task_type: str, metric: str, prob_cols: list[str]) -> dict:
    per_fold = []
    for fold, rows in test.groupby("fold", sort=True):
        value = METRICS[metric](*_metric_inputs(rows, task_type, prob_cols)[metric])
        per_fold.append({"fold": int(fold), "n": int(len(rows)), "value": value.to_json()})
    finite = [f["value"]["value"] for f in per_fold if not f["value"]["undefined"]]
    return {
        "n_folds": len(per_fold),
        "per_fold": per_fold,
        "n_undefined_folds": len(per_fold) - len(finite),
        "mean": float(np.mean(finite)) if finite else None,
        "std": float(np.std(finite, ddof=1)) if len(finite) > 1 else None,
    }


def _check_finite_predictions(predictions: pd.DataFrame, columns: list[str], source: str) -> None:
    """LyraInputError naming the first row whose prediction is empty, NaN or infinite (a
    model that diverged), rather than metrics computed from it."""
    values = predictions[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if len(bad):
        first = predictions.iloc[bad[0]]
        where = f"id {first['id']!r}" if "id" in predictions.columns else f"row {bad[0] + 1}"
        raise LyraInputError(source, where, f"{len(bad)} of {len(predictions)} rows have no finite prediction "
                                            f"({', '.join(columns)} empty, NaN or infinite); retrain the model")


def evaluate_predictions(
    predictions: pd.DataFrame,
    task_type: str,
    metric: str,
    classes: list | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    source: str = "predictions table",
    kfold_aggregate: str = "fold_mean",
) -> dict:
    """Summarise a predictions table (the predictions.tsv contract) as a JSON-ready dict.

    Result keys:
    - ``metric``, ``task_type``, ``classes``;
    - ``splits``: for each split present, ``{"n", "value" (main metric), "metrics" (all
      applicable metrics)}``; metric entries are ``MetricValue.to_json()`` dicts (null
      value + ``undefined: true`` + reason when undefined). With several folds each split
      pools its rows across folds, so ``splits.test`` is the pooled test value;
    - ``splits.test.ci``: percentile bootstrap 95% interval of the main metric on test
      rows (``low``, ``high``, ``level``, ``n_boot``, ``n_undefined``);
    - ``kfold`` (only with several folds): per-fold test values, their mean and sample
      standard deviation (undefined folds left out and counted); for regression also
      ``pooled_zscored`` (:func:`pooled_zscored`, ProteinGym's number); ``aggregate``
      (``kfold_aggregate``: ``fold_mean`` or ``pooled``) and ``headline``, the value it picks.

    ``source`` names the table in error messages (e.g. the file path).
    """
    if task_type not in ("regression", "binary", "multiclass"):
        raise ValueError(f"unknown task_type {task_type!r}")
    applicable = REGRESSION_METRICS if task_type == "regression" else CLASSIFICATION_METRICS
    if metric not in applicable:
        raise ValueError(f"metric {metric!r} does not apply to {task_type}; choose from {applicable}")
    missing = [c for c in ("split", "fold", "y_true", "y_pred") if c not in predictions.columns]
    if missing:
        raise LyraInputError(source, "header", f"missing columns {missing}")
    unknown = sorted(set(predictions["split"].astype(str)) - set(SPLITS))
    if unknown:
        raise LyraInputError(source, "column 'split'", f"unknown split values {unknown}; expected {SPLITS}")
    prob_cols = [] if task_type == "regression" else _class_columns(predictions, classes, source)
    if task_type == "binary" and len(prob_cols) != 2:
        raise LyraInputError(source, "header", f"binary task needs 2 prob_ columns, found {prob_cols}")

    _check_finite_predictions(predictions, ["y_pred", *prob_cols], source)

    result = {
        "metric": metric,
        "task_type": task_type,
        "classes": [c[len("prob_") :] for c in prob_cols] or None,
        "splits": {},
    }
    for split in SPLITS:
        rows = predictions[predictions["split"] == split]
        if len(rows):
            result["splits"][split] = _split_summary(rows, task_type, metric, prob_cols)

    test = predictions[predictions["split"] == "test"]
    if len(test):
        ci = bootstrap_ci(*_metric_inputs(test, task_type, prob_cols)[metric], METRICS[metric], n_boot, seed)
        result["splits"]["test"]["ci"] = {
            "low": None if math.isnan(ci.low) else ci.low,
            "high": None if math.isnan(ci.high) else ci.high,
            "level": 0.95,
            "n_boot": ci.n_boot,
            "n_undefined": ci.n_undefined,
        }
        if test["fold"].nunique() > 1:
            kfold = _fold_summary(test, task_type, metric, prob_cols)
            if task_type == "regression":
                value, n = pooled_zscored(predictions, metric)
                kfold["pooled_zscored"] = {"n": n, "value": value.to_json()}
            if kfold_aggregate == "pooled" and "pooled_zscored" not in kfold:
                raise ValueError("kfold_aggregate pooled needs a regression task")
            kfold["aggregate"] = kfold_aggregate
            kfold["headline"] = (kfold["pooled_zscored"]["value"]["value"] if kfold_aggregate == "pooled"
                                 else kfold["mean"])
            result["kfold"] = kfold
    return result


def calibration(valid: tuple, test: tuple) -> dict:
    """How well an ensemble's spread tracks its errors (regression).

    ``valid`` and ``test`` are ``(y_true, mean, std)`` arrays of the ensemble on those
    rows. Returns, as JSON-ready entries: ``spearman_abs_error_std`` (Spearman between
    |y_true - mean| and std on test rows), ``variance_scale`` (s fitted on valid rows only:
    the root mean square of (y_true - mean) / std, so that s * std is a calibrated spread)
    and ``coverage_1sd`` / ``coverage_2sd`` (share of test rows within mean +- k * s * std;
    about 0.68 and 0.95 when the errors are Gaussian and calibrated). Rows whose std is 0
    up to float noise (at most ``CONSTANT_RTOL * max(1, |mean|)``, as for constant
    predictions) are left out of the fit; the entries are undefined when nothing is left.
    """
    y_valid, mean_valid, std_valid = (np.asarray(a, dtype=float) for a in valid)
    y_test, mean_test, std_test = (np.asarray(a, dtype=float) for a in test)
    result = {"n_valid": int(len(y_valid)), "n_test": int(len(y_test)),
              "spearman_abs_error_std": spearman(np.abs(y_test - mean_test), std_test).to_json()}
    spread = std_valid > CONSTANT_RTOL * np.maximum(1.0, np.abs(mean_valid))
    if not spread.any():
        reason = "the ensemble std is 0 (up to float noise) on every validation row: identical members"
        scale = undefined_value(reason)
    else:
        scale = MetricValue(float(np.sqrt(np.mean(((y_valid - mean_valid)[spread] / std_valid[spread]) ** 2))))
    result["variance_scale"] = scale.to_json()
    for k in (1, 2):
        if scale.undefined or not len(y_test):
            value = undefined_value(scale.reason or "no test rows")
        else:
            value = MetricValue(float(np.mean(np.abs(y_test - mean_test) <= k * scale.value * std_test)))
        result[f"coverage_{k}sd"] = value.to_json()
    return result
