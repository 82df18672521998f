"""The workflow used as a Snakemake module from a lab's own project folder.

The project folder holds nothing of the checkout: only a config (the .test one), the data
slice it reads, and a Snakefile that loads this checkout's workflow/Snakefile as a
module (what ``snakedeploy deploy-workflow`` writes, with a local path instead of a
GitHub tag). Schemas, scripts, report captions and the conda environment must be found
in the checkout, and every result must land in the project folder.
"""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import write_test_data

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TEST_CONFIG = yaml.safe_load((REPO / ".test" / "config" / "config.yaml").read_text())

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data folder {DATA} is absent"),
]

MODULE_SNAKEFILE = """\
configfile: "config/config.yaml"


module lyra:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from lyra
"""


def _project(root: Path) -> Path:
    """A lab's folder: its config, its data (the GB1 slice the .test config reads from
    resources/test_data) and the module Snakefile; nothing copied from the checkout."""
    config = dict(TEST_CONFIG, data_root=str(DATA))
    (root / "config").mkdir(parents=True)
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    write_test_data(root)
    (root / "workflow").mkdir()
    (root / "workflow" / "Snakefile").write_text(MODULE_SNAKEFILE.format(snakefile=REPO / "workflow" / "Snakefile"))
    return root


def _snakemake(project: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    return subprocess.run(command, cwd=project, capture_output=True, text=True)


def _checkout_outputs() -> dict[str, int]:
    """Files under the checkout's own output folders, with their mtimes."""
    return {
        str(path): path.stat().st_mtime_ns
        for folder in ("results", "logs", "resources")
        for path in (REPO / folder).rglob("*")
        if path.is_file()
    }


def test_module_from_a_project_folder_writes_the_results_there(tmp_path):
    project = _project(tmp_path / "lab_project")
    before = _checkout_outputs()
    started = time.time()
    result = _snakemake(project)
    assert result.returncode == 0, result.stderr[-5000:]

    for task, spec in TEST_CONFIG["tasks"].items():
        for model in TEST_CONFIG["models"]:
            if model == "ridge_pairs" and spec["task_type"] != "regression":
                continue  # regression only: not trained on classification tasks
            folder = project / "results" / task / model
            assert (folder / "metrics.json").stat().st_mtime >= started
            assert (folder / "fold0" / "predictions.tsv").is_file()
            figures = ["roc", "confusion"] if spec["task_type"] != "regression" else ["scatter"]
            for name in ["learning_curve_fold0", *figures]:
                assert (folder / "figures" / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    assert (project / "results" / "summary.tsv").is_file()
    assert (project / "resources" / "synthetic" / "epistasis_small.csv").is_file()
    assert _checkout_outputs() == before, "the run wrote into the checkout"
    assert not (project / "schemas").exists() and not (project / "scripts").exists()

    # the report's captions and workflow description come from the checkout, too
    report = _snakemake(project, "--report", "report.html")
    assert report.returncode == 0, report.stderr[-5000:]
    html = (project / "report.html").read_text()
    assert "splice_uci" in html and "summary" in html
