"""Provenance records: input checksums, config hash, code version, packages, run facts."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np

PACKAGES = {  # reported name -> distribution name
    "lyra": "lyra-workflow",
    "torch": "torch",
    "numpy": "numpy",
    "pandas": "pandas",
    "snakemake": "snakemake",
}
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _json_default(obj):
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot hash a {type(obj).__name__} in a config: {obj!r}")


def config_hash(obj) -> str:
    """Hex SHA-256 of ``obj`` as canonical JSON (sorted keys, no whitespace).

    Key order does not matter; any value change does (note 1 and 1.0 differ).
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _git(repo_dir: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=repo_dir, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_commit(repo_dir: str | Path = _PACKAGE_ROOT) -> dict:
    """``{"commit", "dirty", "state"}`` of the git checkout at ``repo_dir``.

    ``state`` is "clean", "dirty" (tracked files modified) or "unknown" (not a git
    repository, or git missing), in which case ``commit`` and ``dirty`` are None.
    """
    commit = _git(Path(repo_dir), "rev-parse", "HEAD")
    status = _git(Path(repo_dir), "status", "--porcelain", "--untracked-files=no")
    if commit is None or status is None:
        return {"commit": None, "dirty": None, "state": "unknown"}
    dirty = bool(status.strip())
    return {"commit": commit.strip(), "dirty": dirty, "state": "dirty" if dirty else "clean"}


def package_versions() -> dict:
    """Installed versions of lyra and its main dependencies (None if not installed), and python."""
    versions = {}
    for name, dist in PACKAGES.items():
        try:
            versions[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["python"] = platform.python_version()
    return versions


def collect(
    inputs: list[Path], task_config: dict, seed: int, device: str, wall_time_s: float, repo_dir: str | Path = _PACKAGE_ROOT
) -> dict:
    """JSON-ready provenance of one run: input files with sizes and SHA-256, the task
    config and its hash, seed, device, wall time, git state, package versions, host."""
    return {
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inputs": [
            {"path": str(p), "bytes": Path(p).stat().st_size, "sha256": sha256_file(p)} for p in inputs
        ],
        "task_config": json.loads(json.dumps(task_config, default=_json_default)),
        "config_hash": config_hash(task_config),
        "seed": seed,
        "device": device,
        "wall_time_s": float(wall_time_s),
        "git": git_commit(repo_dir),
        "packages": package_versions(),
        "platform": platform.platform(),
    }
