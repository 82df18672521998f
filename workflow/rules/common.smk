import copy
import re
from pathlib import Path

from snakemake.utils import validate

from lyra.data import fill_defaults, load_schema, resolve_task
from lyra.splits import KFOLD_SCHEMES

validate(config, "../schemas/config.schema.yaml", set_default=False)
SCHEMA = load_schema(Path(workflow.basedir) / "schemas" / "config.schema.yaml")
fill_defaults(config, SCHEMA, SCHEMA)

TASKS = list(config["tasks"])
# Each task with schema defaults and the top-level model/trainer/seed merged in.
TASK_CONFIGS = {name: resolve_task(config, name) for name in TASKS}
MODELS = list(config["models"])
CLASSIFICATION = ("binary", "multiclass")
DOWNLOAD_DIR = Path("resources/data")


wildcard_constraints:
    task="[^/]+",
    model="[^/]+",
    fold=r"\d+",
    name="[^/]+",


def task_sources(task_name):
    """The task's download sources keyed by their path relative to data_root."""
    return {s["path"]: s for s in config["tasks"][task_name].get("source", [])}


def source_for(path):
    """The source entry (url, sha256, path) that downloads ``path``, from any task."""
    for name in TASKS:
        if path in task_sources(name):
            return task_sources(name)[path]
    raise ValueError(f"no task lists a source with path {path!r}")


def locate(task_name, relative):
    """Where ``relative`` is read from: under the task's data_root when it is there or
    no source can fetch it (then a rule such as ``synthetic`` may make it), otherwise
    the download rule's target under resources/data."""
    entry = config["tasks"][task_name]
    local = Path(entry.get("data_root") or config["data_root"]) / relative
    if local.exists() or relative not in task_sources(task_name):
        return str(local)
    return str(DOWNLOAD_DIR / relative)


def input_files(task_name):
    """The task's input files as {key: located path}; keys are the config keys
    (``path``, ``genome``, ``labels_table``, or ``files.<split>``)."""
    spec = config["tasks"][task_name]["input"]
    found = {k: spec[k] for k in ("path", "genome", "labels_table") if spec.get(k)}
    found.update({f"files.{s}": p for s, p in (spec.get("files") or {}).items()})
    return {key: locate(task_name, rel) for key, rel in found.items()}


def prepared_task(task_name):
    """The resolved task config with its input paths replaced by located ones, so
    that the prepare step reads them relative to the working directory."""
    task = copy.deepcopy(TASK_CONFIGS[task_name])
    spec = dict(task["input"])
    files = dict(spec.get("files") or {})
    for key, path in input_files(task_name).items():
        if key.startswith("files."):
            files[key.removeprefix("files.")] = path
        else:
            spec[key] = path
    if files:
        spec["files"] = files
    task["input"] = spec
    return task


def folds(task_name):
    """Fold indices of a task, known from its config before anything is prepared."""
    split = TASK_CONFIGS[task_name]["split"]
    return range(int(split["n_folds"]) if split["scheme"] in KFOLD_SCHEMES else 1)


def fold_files(name):
    """Input function: ``name`` (e.g. predictions.tsv) of every fold of a task/model."""

    def files(wildcards):
        return expand(
            "results/{task}/{model}/fold{fold}/{name}",
            task=wildcards.task,
            model=wildcards.model,
            fold=folds(wildcards.task),
            name=name,
        )

    return files


def task_pattern(*task_types):
    """Wildcard pattern matching exactly the tasks of the given types."""
    names = [t for t in TASKS if TASK_CONFIGS[t]["task_type"] in task_types]
    return "|".join(re.escape(t) for t in names) or "(?!)"


def figure_names(task_name):
    """The figures that apply to a task's type."""
    if TASK_CONFIGS[task_name]["task_type"] in CLASSIFICATION:
        return ["learning_curve_fold0", "roc", "confusion"]
    return ["learning_curve_fold0", "scatter"]


def all_targets():
    """Every per-task output, each task's figures, and the summary."""
    targets = ["results/summary.tsv", "results/summary.png"]
    for task in TASKS:
        targets += [f"results/{task}/prepared.tsv", f"results/{task}/leakage.json"]
        for model in MODELS:
            targets.append(f"results/{task}/{model}/metrics.json")
            targets += [
                f"results/{task}/{model}/figures/{fig}.png"
                for fig in figure_names(task)
            ]
    return targets
