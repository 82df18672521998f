"""Provenance: checksums, config hashes, git state and the collected record."""

import copy
import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from lyra.io import provenance

CONFIG = {"alphabet": "dna", "split": {"scheme": "random", "fractions": [0.8, 0.1, 0.1], "seed": 0},
          "model": {"d_model": 64}, "crop": None}


def test_sha256_file_matches_hashlib(tmp_path):
    path = tmp_path / "x.bin"
    data = bytes(range(256)) * 5000
    path.write_bytes(data)
    assert provenance.sha256_file(path) == hashlib.sha256(data).hexdigest()


def _reordered(obj):
    if isinstance(obj, dict):
        return {k: _reordered(obj[k]) for k in reversed(list(obj))}
    return obj


def test_config_hash_ignores_key_order():
    shuffled = _reordered(CONFIG)
    assert list(shuffled) != list(CONFIG)
    assert provenance.config_hash(shuffled) == provenance.config_hash(CONFIG)


@pytest.mark.parametrize("edit", [
    lambda c: c.update(alphabet="rna"),
    lambda c: c["split"].update(seed=1),
    lambda c: c["split"]["fractions"].__setitem__(2, 0.2),
    lambda c: c.update(crop={"start": 0, "end": 10}),
    lambda c: c["model"].update(d_state=64),
])
def test_config_hash_changes_with_any_value(edit):
    changed = copy.deepcopy(CONFIG)
    edit(changed)
    assert provenance.config_hash(changed) != provenance.config_hash(CONFIG)


def test_git_commit_unknown_outside_a_repository(tmp_path):
    assert provenance.git_commit(tmp_path) == {"commit": None, "dirty": None, "state": "unknown"}


def test_git_commit_reports_head_and_dirty(tmp_path):
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "f.txt").write_text("a")
    subprocess.run([*git, "-C", str(tmp_path), "add", "f.txt"], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-q", "-m", "x"], check=True)
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert provenance.git_commit(tmp_path) == {"commit": head, "dirty": False, "state": "clean"}
    (tmp_path / "f.txt").write_text("b")
    assert provenance.git_commit(tmp_path)["dirty"] is True


def test_collect_is_json_ready(tmp_path):
    path = tmp_path / "in.fa"
    path.write_text(">a\nACGT\n")
    config = {**CONFIG, "path": Path("in.fa")}
    record = provenance.collect([path], config, seed=3, device="cpu", wall_time_s=1.5, repo_dir=tmp_path)
    json.dumps(record, allow_nan=False)
    assert record["inputs"] == [{"path": str(path), "bytes": 8, "sha256": hashlib.sha256(b">a\nACGT\n").hexdigest()}]
    assert record["config_hash"] == provenance.config_hash(config)
    assert record["seed"] == 3 and record["device"] == "cpu"
    assert record["packages"]["python"].count(".") == 2
