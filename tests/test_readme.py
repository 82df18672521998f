"""README.md and .ci/run agree on the test command, and README's commands exist."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    block = re.search(r"```bash\n# 1\..*?\n(.*?)\n\n# 2\..*?\n(.*?)\n```", (REPO / "README.md").read_text(), re.S)
    assert block, "README.md lost its two quick-start commands"
    return [block.group(1).strip(), block.group(2).strip()]


def test_ci_runs_the_readme_test_command():
    _, test_command = _readme_commands()
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_readme_main_command_runs_snakemake_on_the_default_config():
    main_command, _ = _readme_commands()
    assert "snakemake" in main_command
    assert "--configfile" not in main_command  # the default config/config.yaml


def test_readme_commands_install_the_locked_environment():
    """Both set up a fresh .venv from requirements.lock (PyTorch 2.13.0's CPU build in it)."""
    for command in _readme_commands():
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install -q -r requirements.lock -e "), command
    assert "torch==2.13.0+cpu" in (REPO / "requirements.lock").read_text().splitlines()


def test_readme_is_a_short_product_page_without_dated_measurements():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert not re.findall(r"\b20\d\d-\d\d-\d\d\b", text), "dated measurements belong in docs/performance.md"


def test_readme_own_data_route_is_the_starter_config_run_alone():
    """The route tests/test_own_data.py runs end to end: the starter config, without the benchmark."""
    text = (REPO / "README.md").read_text()
    assert "cp config/my_tasks.yaml config/my_lab.yaml" in text
    assert ".venv/bin/snakemake --cores all --configfile config/my_lab.yaml --replace-workflow-config" in text
    assert (REPO / "config" / "my_tasks.yaml").is_file()


def test_readme_links_exist():
    """Every relative link resolves, except the results page that a run generates."""
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", (REPO / "README.md").read_text())
    missing = [link for link in links if not link.startswith("http") and not (REPO / link).exists()]
    assert set(missing) <= {"docs/results.md"}, missing
