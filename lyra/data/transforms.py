"""Target transforms for regression training, undone for predictions.

A task's ``target_transform: {name: log, offset: 0.001}`` trains on ``log(y + offset)``
(useful for heavy-tailed fitness such as GB1); standardisation then centres and scales
the transformed training targets. Predictions are mapped back to the original units.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

TRANSFORMS = ("none", "log")


@dataclass
class TargetScaler:
    """``z = (f(y) - mean) / std`` with ``f`` the task's transform; identity for classification."""

    transform: str = "none"
    offset: float = 0.0
    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def fit(cls, y_train: np.ndarray, task_type: str, transform: dict | None, standardize: bool) -> "TargetScaler":
        """Fit on training targets; ``transform`` is a task's ``target_transform`` block.
        Classification tasks get the identity."""
        if task_type != "regression":
            return cls()
        spec = transform or {}
        scaler = cls(transform=spec.get("name", "none"), offset=float(spec.get("offset", 0.0)))
        if scaler.transform not in TRANSFORMS:
            raise ValueError(f"target_transform.name must be one of {TRANSFORMS}, got {scaler.transform!r}")
        transformed = scaler._forward(np.asarray(y_train, dtype=np.float64))
        if standardize and len(transformed):
            std = float(transformed.std())
            scaler.mean, scaler.std = float(transformed.mean()), std if std > 0 else 1.0
        return scaler

    def _forward(self, y: np.ndarray) -> np.ndarray:
        if self.transform == "log":
            shifted = y + self.offset
            if np.any(shifted <= 0):
                bad = float(y[np.argmax(shifted <= 0)])
                raise ValueError(
                    f"target_transform log needs y + offset > 0, but a target is {bad} with offset {self.offset}"
                )
            return np.log(shifted)
        return y

    def transform_targets(self, y: np.ndarray) -> np.ndarray:
        """Original units -> training units."""
        return (self._forward(np.asarray(y, dtype=np.float64)) - self.mean) / self.std

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Training units -> original units."""
        y = np.asarray(z, dtype=np.float64) * self.std + self.mean
        return np.exp(y) - self.offset if self.transform == "log" else y

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TargetScaler":
        return cls(**values)
