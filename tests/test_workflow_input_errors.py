"""Bad input ends a workflow job with one located line, not a Python traceback (issue 18, case 12).

The workflow scripts call ``lyra.errors.exit_on_input_error(snakemake.log[0])``: an
uncaught LyraInputError is written as ``error: <file>: <line or record>: <problem>`` to
stderr and to the job's log, and the script exits with status 1; any other exception (a
bug) keeps its traceback.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BAD = Path(__file__).parent / "data" / "bad"

SCRIPT = """
import sys
from lyra.errors import LyraInputError, exit_on_input_error
exit_on_input_error(sys.argv[1])
if sys.argv[2] == "input":
    raise LyraInputError("data/x.csv", "line 3", "target 'abc' is not a number")
raise KeyError("a bug")
"""


@pytest.mark.parametrize("kind", ["input", "bug"])
def test_input_errors_are_one_line_and_bugs_keep_their_traceback(tmp_path, kind):
    log = tmp_path / "job.log"
    log.write_text("INFO:lyra:earlier message\n")
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(log), kind], capture_output=True, text=True)
    assert result.returncode == 1
    if kind == "input":
        line = "error: data/x.csv: line 3: target 'abc' is not a number"
        assert result.stderr == line + "\n"
        assert log.read_text() == "INFO:lyra:earlier message\n" + line + "\n"
    else:
        assert "Traceback" in result.stderr and "KeyError: 'a bug'" in result.stderr
        assert log.read_text() == "INFO:lyra:earlier message\n"


@pytest.mark.slow
def test_snakemake_run_on_bad_input_shows_the_line_without_a_traceback(tmp_path):
    shutil.copytree(REPO / "workflow", tmp_path / "workflow")
    config = {
        "data_root": str(BAD),
        "models": ["ridge"],
        "tasks": {
            "not_utf8": {"input": {"format": "csv", "path": "cp1252_row.csv"},
                         "columns": {"target": "fitness"}, "alphabet": "protein",
                         "task_type": "regression", "split": {"scheme": "random"}},
            "class_in_test_only": {"input": {"format": "csv", "path": "class_only_in_test.csv"},
                                   "columns": {"target": "label"}, "alphabet": "dna",
                                   "task_type": "multiclass", "split": {"scheme": "column", "column": "set"}},
        },
    }
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--keep-going", "--configfile", "bad.yaml",
         "--replace-workflow-config", "results/not_utf8/prepared.tsv", "results/class_in_test_only/prepared.tsv"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert result.returncode != 0
    expected = {
        "not_utf8": f"error: {BAD}/cp1252_row.csv: line 3: byte 0x96 is not valid UTF-8",
        "class_in_test_only": f"error: {BAD}/class_only_in_test.csv: task 'class_in_test_only': class 'ie'",
    }
    for task, line in expected.items():
        assert line in result.stderr, result.stderr[-3000:]
        assert line in (tmp_path / "logs" / task / "prepare.log").read_text()
        assert not (tmp_path / "results" / task / "prepared.tsv").exists()
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
