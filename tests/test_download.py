"""The download rule and the data-location switch, against a local HTTP server.

A tiny config names one task whose input file is absent under data_root but has a
``source`` entry; the workflow must fetch it into resources/data/, keep it only when its
SHA-256 matches, and plan no download when the file is present under data_root.
"""

import functools
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
RELATIVE = "demo/landscape.csv"
CONTENT = "sequence,target\nACGT,1.0\nAGGT,2.0\nTCGA,0.5\nTTTT,3.0\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Base URL of an HTTP server on 127.0.0.1 serving CONTENT as /landscape.csv."""
    served = tmp_path_factory.mktemp("served")
    (served / "landscape.csv").write_text(CONTENT)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join()


def _workdir(tmp_path: Path, url: str, sha256: str) -> Path:
    """A working directory with the workflow, an empty data_root and a one-task config."""
    shutil.copytree(REPO / "workflow", tmp_path / "workflow")
    (tmp_path / "data").mkdir()
    config = {
        "data_root": "data",
        "tasks": {
            "demo": {
                "input": {"format": "csv", "path": RELATIVE, "header": True},
                "source": [{"url": url, "sha256": sha256, "path": RELATIVE}],
                "alphabet": "dna",
                "task_type": "regression",
                "split": {"scheme": "random", "fractions": [0.5, 0.25, 0.25]},
            }
        },
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}
    command = [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "config.yaml",
               "--replace-workflow-config", *args]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=env)


def test_good_checksum_keeps_the_file(tmp_path, server):
    digest = hashlib.sha256(CONTENT.encode()).hexdigest()
    workdir = _workdir(tmp_path, f"{server}/landscape.csv", digest)
    result = _snakemake(workdir, f"resources/data/{RELATIVE}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (workdir / "resources" / "data" / RELATIVE).read_text() == CONTENT


def test_wrong_checksum_fails_and_leaves_nothing(tmp_path, server):
    wrong = hashlib.sha256(b"something else").hexdigest()
    workdir = _workdir(tmp_path, f"{server}/landscape.csv", wrong)
    result = _snakemake(workdir, f"resources/data/{RELATIVE}")
    assert result.returncode != 0
    assert f"does not match the configured {wrong}" in result.stderr
    target_dir = workdir / "resources" / "data" / "demo"
    assert not target_dir.exists() or list(target_dir.iterdir()) == []


def test_prepare_reads_data_root_when_the_file_is_there(tmp_path, server):
    digest = hashlib.sha256(CONTENT.encode()).hexdigest()
    workdir = _workdir(tmp_path, f"{server}/landscape.csv", digest)
    planned = _snakemake(workdir, "--dry-run", "results/demo/prepared.tsv")
    assert planned.returncode == 0, planned.stderr[-3000:]
    assert "rule download" in planned.stdout + planned.stderr
    (workdir / "data" / "demo").mkdir()
    (workdir / "data" / RELATIVE).write_text(CONTENT)
    planned = _snakemake(workdir, "--dry-run", "results/demo/prepared.tsv")
    assert planned.returncode == 0, planned.stderr[-3000:]
    assert "rule download" not in planned.stdout + planned.stderr
    assert f"data/{RELATIVE}" in planned.stdout + planned.stderr
