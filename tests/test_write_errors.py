"""A write the system refuses is one line naming the path and the cause, and leaves the old
file (or none) in place (issue 33, item 3).

The failures are real: a child process runs the writers under a file-size limit
(RLIMIT_FSIZE), so the operating system refuses the write itself (EFBIG, "file too
large"), as it refuses one on a full disk (ENOSPC). The wording of a full disk and of a
refused permission is checked by making the final rename fail with those errors.
"""

import errno
import json
import os
import subprocess
import sys

import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from lyra.io.atomic import atomic_path
from lyra.errors import WriteError
from lyra.report.plots import save_figure
from lyra.results import write_json, write_predictions, write_prepared
from lyra.io.tensorfile import save

LIMITED = """
import json, resource, signal, sys
import pandas as pd, torch
from matplotlib.figure import Figure
from lyra.errors import WriteError
from lyra.report.plots import save_figure
from lyra.results import write_json, write_predictions, write_prepared
from lyra.io.tensorfile import save

out = sys.argv[1]
table = pd.DataFrame({"id": [f"s{i}" for i in range(200)], "y_pred": [0.5] * 200})
fig = Figure()
fig.add_subplot().plot(range(100))
writers = {
    "prepared.tsv": lambda path: write_prepared(table, path),
    "predictions.tsv": lambda path: write_predictions(table, path),
    "metrics.json": lambda path: write_json({"values": list(range(500))}, path),
    "model.pt": lambda path: save({"weights": torch.zeros(1000)}, path),
    "figure.png": lambda path: save_figure(fig, path),
}
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
lines = {}
for name, write in writers.items():
    try:
        write(f"{out}/{name}")
        lines[name] = "written"
    except WriteError as error:
        lines[name] = str(error)
print(json.dumps(lines))
"""


def test_every_writer_names_the_path_and_the_cause_and_leaves_no_partial_file(tmp_path):
    result = subprocess.run([sys.executable, "-c", LIMITED, str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = json.loads(result.stdout)
    for name, line in lines.items():
        assert line == f"{tmp_path / name}: writing: file too large", (name, line)
    assert list(tmp_path.iterdir()) == []  # neither the outputs nor their temporary files


def test_the_cli_reports_a_refused_write_as_one_line(tmp_path):
    (tmp_path / "pred.tsv").write_text("id\tsplit\tfold\ty_true\ty_pred\n" +
                                      "".join(f"s{i}\ttest\t0\t{i}\t{i * 1.5}\n" for i in range(50)))
    script = ("import resource, signal, sys\nfrom lyra.cli import main\n"
              "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))\n"
              "sys.exit(main(sys.argv[1:]))\n")
    out = tmp_path / "metrics.json"
    result = subprocess.run([sys.executable, "-c", script, "evaluate", "--predictions", str(tmp_path / "pred.tsv"),
                             "--task-type", "regression", "--n-boot", "10", "--out", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr == f"lyra evaluate: error: {out}: writing: file too large\n"
    assert not out.exists()


@pytest.mark.parametrize("code, cause", [(errno.ENOSPC, "no space left on device"),
                                         (errno.EACCES, "permission denied")])
@pytest.mark.parametrize("writer", ["table", "json", "tensors", "figure"])
def test_a_full_disk_or_a_refused_permission_keeps_the_old_file(tmp_path, monkeypatch, code, cause, writer):
    path = tmp_path / {"table": "out.tsv", "json": "out.json", "tensors": "out.pt", "figure": "out.png"}[writer]
    path.write_text("the previous run's output\n")

    def refuse(src, dst):
        raise OSError(code, os.strerror(code), str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    fig = Figure()
    fig.add_subplot().plot([0, 1])
    write = {"table": lambda: write_predictions(pd.DataFrame({"y_pred": [1.0]}), path),
             "json": lambda: write_json({"a": 1}, path),
             "tensors": lambda: save({"weights": torch.zeros(3)}, path),
             "figure": lambda: save_figure(fig, path)}[writer]
    with pytest.raises(WriteError) as raised:
        write()
    assert str(raised.value) == f"{path}: writing: {cause}"
    assert path.read_text() == "the previous run's output\n"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_other_os_errors_in_the_block_keep_their_own_type(tmp_path):
    with pytest.raises(ConnectionResetError):
        with atomic_path(tmp_path / "download.csv"):
            raise ConnectionResetError(errno.ECONNRESET, "connection reset by peer")
    assert list(tmp_path.iterdir()) == []
