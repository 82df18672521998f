"""The configuration's one home (lyra.config): the shipped schema agrees with the code that
implements each choice, tasks are typed once, and the package layout has no import circles
and works installed without the repository."""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lyra import metrics
from lyra.data import transforms
from lyra.cli import build_parser, main
from lyra.config import MODELS, Task, TrainerConfig, load_schema, load_workflow_config, metric_names, task_from_config
from lyra.errors import LyraInputError
from lyra.data.synthetic import epistasis_landscape

REPO = Path(__file__).resolve().parents[1]
TASK_PROPERTIES = load_schema()["$defs"]["task"]["properties"]


def _choices(parser, command: str, option: str) -> list:
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return list(next(a for a in sub._actions if option in a.option_strings).choices)


def test_schema_choices_are_the_ones_the_code_implements():
    assert set(metric_names()) == set(metrics.METRICS)
    assert set(TASK_PROPERTIES["target_transform"]["properties"]["name"]["enum"]) == set(transforms.TRANSFORMS) - {"none"}
    assert load_schema()["properties"]["models"]["items"]["enum"] == list(MODELS)
    parser = build_parser()
    assert _choices(parser, "train", "--metric") == metric_names()
    assert _choices(parser, "train", "--model") == list(MODELS)


def test_lyra_train_with_metric_mse_runs(tmp_path):
    """The CLI offered --metric mse while the schema rejected it; now both take it."""
    data = epistasis_landscape(200, 10, alphabet="dna", orders=(1,), n_terms=(8,), noise=0.0, seed=2)
    data.to_csv(tmp_path / "train.csv", index=False)
    code = main(["train", "--input", str(tmp_path / "train.csv"), "--sequence-column", "sequence",
                 "--target-column", "target", "--alphabet", "dna", "--metric", "mse", "--epochs", "1",
                 "--model-option", "d_model=8", "--model-option", "d_state=4", "--out-dir", str(tmp_path / "run"),
                 "--quiet"])
    assert code == 0
    written = (tmp_path / "run" / "metrics.json").read_text()
    assert '"metric": "mse"' in written


def test_a_task_round_trips_through_its_plain_form():
    config = {"trainer": {"epochs": 4}, "seed": 3, "model": {"d_model": 16},
              "tasks": {"t": {"input": {"format": "csv", "path": "x.csv"}, "alphabet": "dna", "task_type": "binary",
                              "classes": ["no", "yes"], "split": {"scheme": "random"}, "model": {"d_state": 8}}}}
    task = task_from_config(config, "t")
    assert task.trainer == TrainerConfig(epochs=4, seed=3)
    # the top-level block is laid over the package's model key by key, the task's over both
    assert task.model == {"d_model": 16, "d_state": 8, "dropout": 0.2, "position_aware": "auto"}
    assert task.split["valid_fraction"] == 0.15  # a schema default
    assert task.metric == "accuracy"  # a binary task that names no metric
    assert task.classes == ("no", "yes") and task.is_classification
    assert Task.from_dict(task.to_dict()) == task


def test_bad_trainer_option_is_a_config_error_naming_the_task():
    config = {"tasks": {"t": {"input": {"format": "csv", "path": "x.csv"}, "alphabet": "dna",
                              "task_type": "regression", "split": {"scheme": "random"},
                              "trainer": {"epochz": 3}}}}
    with pytest.raises(LyraInputError, match="task 't'.*epochz"):
        task_from_config(config, "t")


def test_experiment_tasks_are_typed_but_not_default_targets():
    import yaml

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(yaml.safe_load((REPO / "config" / "experiments.yaml").read_text()))
    workflow = load_workflow_config(config)
    assert "epistasis_order1" in workflow.tasks and "epistasis_order1" not in workflow.default_tasks
    assert set(workflow.default_tasks) == set(yaml.safe_load((REPO / "config" / "config.yaml").read_text())["tasks"])
    assert "epistasis_order1" in workflow.synthetic


def _module_imports(path: Path, package_modules: set[str]) -> set[str]:
    """Every lyra module that ``path`` imports, at top level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lyra"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("lyra"))
    return found & package_modules


def test_the_package_has_no_import_circles_and_no_private_names_across_modules():
    files = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
             for p in (REPO / "lyra").rglob("*.py")}
    graph = {name: _module_imports(path, set(files)) - {name} for name, path in files.items()}
    graph["lyra"] = set()  # the package's lazy attribute access is not a dependency of its modules

    def visit(name, stack):
        assert name not in stack, f"import circle: {' -> '.join([*stack, name])}"
        for dep in graph.get(name, ()):
            if dep != "lyra" and not dep.startswith(f"{name}."):
                visit(dep, [*stack, name])

    for name in graph:
        visit(name, [])
    for path in [*files.values(), *(REPO / "workflow" / "scripts").glob("*.py"), *(REPO / "benchmarks").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lyra"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports private {private} from {node.module}"


def test_building_the_workflow_config_does_not_import_torch():
    code = "import sys, yaml; from lyra.config import load_workflow_config; " \
           "load_workflow_config(yaml.safe_load(open('config/config.yaml'))); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


@pytest.mark.slow
def test_a_non_editable_install_trains_a_config_task(tmp_path):
    """``pip install .`` (not editable) ships the schemas: train a shipped-style task from a
    folder that is not the repository, importing lyra from the installed copy only."""
    source, target = tmp_path / "source", tmp_path / "site"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "lyra", source / "lyra", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True)
    data = epistasis_landscape(150, 10, alphabet="dna", orders=(1,), n_terms=(8,), noise=0.0, seed=3)
    data.to_csv(tmp_path / "landscape.csv", index=False)
    (tmp_path / "config.yaml").write_text(
        "data_root: .\nmodel: {d_model: 8, d_state: 4}\ntrainer: {epochs: 1}\n"
        "tasks:\n  syn:\n    input: {format: csv, path: landscape.csv}\n"
        "    columns: {sequence: sequence, target: target, id: id}\n"
        "    alphabet: dna\n    task_type: regression\n    split: {scheme: random, fractions: [0.8, 0.1, 0.1]}\n")
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import lyra.config as c; print(c.SCHEMA_DIR)"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(target)), where
    done = subprocess.run([sys.executable, "-m", "lyra.cli", "train", "--config", "config.yaml", "--task", "syn",
                           "--out-dir", "run", "--quiet"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "metrics.json").exists()


def test_the_paper_overlay_changes_only_the_budget_of_every_task():
    import yaml
    from snakemake.utils import update_config

    base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    merged = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    update_config(merged, yaml.safe_load((REPO / "config" / "paper.yaml").read_text()))
    workflow = load_workflow_config(merged)
    assert set(workflow.tasks) == set(base["tasks"])
    for name, task in workflow.tasks.items():
        own = task_from_config(base, name)
        assert (task.trainer.epochs, task.trainer.patience) == (100, 20)
        assert task.trainer.batch_size == own.trainer.batch_size and task.model == own.model, name
