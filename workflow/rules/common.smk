import copy
import re
from pathlib import Path

import yaml
from snakemake.utils import validate

from lyra.data import fill_defaults, load_schema, resolve_task, split_files
from lyra.splits import KFOLD_SCHEMES

validate(config, "../schemas/config.schema.yaml", set_default=False)
# from this file's folder, not workflow.basedir: that is the folder of the main Snakefile,
# a lab's own project folder when this workflow is used as a module
SCHEMA = load_schema(workflow.source_path("../schemas/config.schema.yaml"))
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


def located_input(task_name, spec):
    """An input block with every file path replaced by where it is read from (see
    ``locate``), so that scripts read them relative to the working directory."""
    spec = copy.deepcopy(spec)
    for key in ("path", "genome", "labels_table"):
        if spec.get(key):
            spec[key] = locate(task_name, spec[key])
    if spec.get("files"):
        spec["files"] = {
            split: {**entry, "path": locate(task_name, entry["path"])}
            for split, entry in split_files(spec).items()
        }
    return spec


def input_files(task_name, spec=None):
    """The input files of a task (or of the input block ``spec``) as {key: located
    path}; keys are the config keys (``path``, ``genome``, ``labels_table``, or
    ``files.<split>``)."""
    spec = located_input(task_name, spec or config["tasks"][task_name]["input"])
    found = {k: spec[k] for k in ("path", "genome", "labels_table") if spec.get(k)}
    found.update({f"files.{s}": e["path"] for s, e in split_files(spec).items()})
    return found


def prepared_task(task_name):
    """The resolved task config with its input paths located."""
    task = copy.deepcopy(TASK_CONFIGS[task_name])
    task["input"] = located_input(task_name, task["input"])
    return task


def external_sets(task_name):
    """The task's external test sets, keyed by name."""
    return {e["name"]: e for e in TASK_CONFIGS[task_name].get("external_test") or []}


def external_task(task_name, name):
    """The task config that scores external set ``name``: the task's alphabet, ambiguity
    policy, task type and classes with the set's located input, columns and crop."""
    task = copy.deepcopy(TASK_CONFIGS[task_name])
    spec = external_sets(task_name)[name]
    task.update(
        name=f"{task_name}:{name}",
        description=spec.get("description", ""),
        input=located_input(task_name, spec["input"]),
        columns={"id": None, "group": None, **(spec.get("columns") or {})},
        crop=spec.get("crop", task.get("crop")),
        split={},
        external_test=[],
    )
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


def published_references():
    """Reference numbers per task: the table named by ``published_table`` (validated
    against schemas/published.schema.yaml) plus each task's own ``published`` entry."""
    table = {"version": None, "tasks": {}}
    if config.get("published_table"):
        with open(config["published_table"]) as handle:
            table = yaml.safe_load(handle)
        validate(table, "../schemas/published.schema.yaml")
    references = {task: list(table["tasks"].get(task, [])) for task in TASKS}
    for task in TASKS:
        for metric, entry in TASK_CONFIGS[task]["published"].items():
            entry = entry if isinstance(entry, dict) else {"value": entry}
            references[task].append(
                {
                    "model": "published",
                    "metric": metric,
                    "kind": "published",
                    "status": "quoted",
                    **entry,
                }
            )
    return {"version": table["version"], "tasks": references}
