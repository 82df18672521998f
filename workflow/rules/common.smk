import copy
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import yaml

from lyra.config import data_roots_by_file, load_workflow_config, split_files, validate
from lyra.errors import LyraInputError


def config_files():
    """The config files merged into ``config``, in merge order: the workflow's own
    (config/config.yaml, unless --replace-workflow-config) and then the --configfile ones.
    """
    settings = workflow.config_settings
    given = [Path(f).absolute() for f in settings.configfiles]
    own = [Path(f).absolute() for f in workflow.configfiles]
    own = [] if settings.replace_workflow_config else [f for f in own if f not in given]
    return [f for f in own + given if f.is_file()]


def load_config():
    """The whole config, validated against the schemas shipped in the lyra package, with
    defaults filled, each config file's data_root given to its own tasks and every task
    typed (lyra.config.Task). A bad config ends the run with one line naming the file.
    """
    files = config_files()
    source = ", ".join(str(f) for f in files) or "config"
    try:
        contents = [yaml.safe_load(f.read_text()) or {} for f in files]
        merged = data_roots_by_file(
            config, contents, dict(workflow.config_settings.config)
        )
        return load_workflow_config(merged, source)
    except LyraInputError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


# The whole config, parsed here once.
WORKFLOW = load_config()
TASKS = list(WORKFLOW.default_tasks)  # what the default target builds
TASK_CONFIGS = WORKFLOW.tasks  # every task, including those an experiment adds
MODELS = list(WORKFLOW.models)
DOWNLOAD_DIR = Path("resources/data")


wildcard_constraints:
    task="[^/]+",
    model="[^/]+",
    fold=r"\d+",
    seed=r"\d+",
    name="[^/]+",


def task_models(task_name):
    """The models of ``models:`` trained on a task: those that apply to it
    (``Task.not_applicable``)."""
    task = TASK_CONFIGS[task_name]
    return [m for m in MODELS if task.not_applicable(m, WORKFLOW.variants) is None]


def not_applicable_models():
    """{task: {model: reason}} for the models of ``models:`` a task does not train."""
    reasons = {}
    for task in TASKS:
        for model in MODELS:
            reason = TASK_CONFIGS[task].not_applicable(model, WORKFLOW.variants)
            if reason:
                reasons.setdefault(task, {})[model] = reason
    return reasons


def task_sources(task_name):
    """The task's download sources keyed by their path relative to data_root."""
    return {s["path"]: s for s in TASK_CONFIGS[task_name].source}


def source_for(path):
    """The source entry (url, sha256, path) that downloads ``path``, from any task."""
    for name in TASK_CONFIGS:
        if path in task_sources(name):
            return task_sources(name)[path]
    raise ValueError(f"no task lists a source with path {path!r}")


def locate(task_name, relative):
    """Where ``relative`` is read from: under the task's data_root when it is there or
    no source can fetch it (then a rule such as ``synthetic`` may make it), otherwise
    the download rule's target under resources/data."""
    local = (
        Path(TASK_CONFIGS[task_name].data_root or WORKFLOW.raw["data_root"]) / relative
    )
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
    spec = located_input(task_name, spec or TASK_CONFIGS[task_name].input)
    found = {k: spec[k] for k in ("path", "genome", "labels_table") if spec.get(k)}
    found.update({f"files.{s}": e["path"] for s, e in split_files(spec).items()})
    return found


def task_params(task_name):
    """The task as a rule parameter (``Task.to_dict``; scripts rebuild it with ``Task.from_dict``)."""
    return TASK_CONFIGS[task_name].to_dict()


def prepared_task(task_name):
    """The task with its input paths located, as a rule parameter."""
    task = TASK_CONFIGS[task_name]
    return task.replace(input=located_input(task_name, task.input)).to_dict()


def external_sets(task_name):
    """The task's external test sets, keyed by name."""
    return {e["name"]: e for e in TASK_CONFIGS[task_name].external_test}


def external_task(task_name, name):
    """The task that scores external set ``name``, as a parameter of rule external_test.
    It has the task's alphabet, ambiguity policy, task type and classes, with the set's
    located input, columns and crop."""
    task = TASK_CONFIGS[task_name]
    spec = external_sets(task_name)[name]
    return task.replace(
        name=f"{task_name}:{name}",
        description=spec.get("description", ""),
        input=located_input(task_name, spec["input"]),
        columns={"id": None, "group": None, **(spec.get("columns") or {})},
        crop=spec.get("crop", task.crop),
        split={},
        external_test=[],
    ).to_dict()


def folds(task_name):
    """Fold indices of a task, known from its config before anything is prepared."""
    return range(TASK_CONFIGS[task_name].n_folds)


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


def seeds(task_name, model):
    """The extra seed members of a single-split task (``trainer.n_seeds``): 1 .. n_seeds - 1;
    none for ridge and ridge_pairs, which are deterministic (every seed gives one model).
    """
    task = TASK_CONFIGS[task_name]
    if task.model_options(model, WORKFLOW.variants)[0] in ("ridge", "ridge_pairs"):
        return range(0)
    return range(1, task.trainer.n_seeds)


def seed_files(name):
    """Input function: ``name`` of every extra seed member of a task/model."""

    def files(wildcards):
        return expand(
            "results/{task}/{model}/seed{seed}/{name}",
            task=wildcards.task,
            model=wildcards.model,
            seed=seeds(wildcards.task, wildcards.model),
            name=name,
        )

    return files


def member_files(name):
    """Input function: ``name`` of every ensemble member of a task/model, its folds then
    its extra seeds."""

    def files(wildcards):
        return fold_files(name)(wildcards) + seed_files(name)(wildcards)

    return files


def train_gpus(wildcards):
    """GPUs of a training job: one per data-parallel process (trainer.n_gpus); ridge and
    ridge_pairs need none."""
    base = TASK_CONFIGS[wildcards.task].model_options(
        wildcards.model, WORKFLOW.variants
    )[0]
    if base in ("ridge", "ridge_pairs"):
        return 0
    return TASK_CONFIGS[wildcards.task].trainer.n_gpus


def job_variants(wildcards):
    """The named model variant (e.g. an ablation, config/experiments.yaml) a training job
    trains; only this job's own variant is a parameter, so editing one reruns only it.
    """
    return {
        name: spec
        for name, spec in WORKFLOW.variants.items()
        if name == wildcards.model
    }


def names_pattern(names):
    """Wildcard pattern matching exactly ``names`` (nothing when empty)."""
    return "|".join(re.escape(t) for t in names) or "(?!)"


def task_pattern(*task_types):
    """Wildcard pattern matching exactly the tasks of the given types."""
    return names_pattern(
        [t for t in TASK_CONFIGS if TASK_CONFIGS[t].task_type in task_types]
    )


def reference_pattern(kfold):
    """Wildcard pattern matching exactly the tasks that name a ``reference`` and are
    (``kfold`` True) or are not (False) k-fold tasks."""
    return names_pattern(
        [
            t
            for t in TASK_CONFIGS
            if TASK_CONFIGS[t].reference and (TASK_CONFIGS[t].n_folds > 1) == kfold
        ]
    )


def design_pattern():
    """Wildcard pattern matching exactly the tasks with a ``design:`` block."""
    return names_pattern([t for t in TASK_CONFIGS if TASK_CONFIGS[t].design])


def design_inputs(wildcards):
    """What the design rule reads, keyed by name. The prepared table, every member of
    the design block's models (folds, then seeds) and its candidate file, if any."""
    design = TASK_CONFIGS[wildcards.task].design
    models = []
    for model in design["models"]:
        models += member_files("model.pt")(
            SimpleNamespace(task=wildcards.task, model=model)
        )
    inputs = {"prepared": f"results/{wildcards.task}/prepared.tsv", "models": models}
    if design.get("candidates"):
        inputs["candidates"] = locate(wildcards.task, design["candidates"])
    return inputs


def ensemble_pattern():
    """Wildcard pattern matching exactly the regression tasks that train seed ensembles
    (``trainer.n_seeds`` > 1): they get a calibration figure."""
    return names_pattern(
        [
            t
            for t in TASK_CONFIGS
            if TASK_CONFIGS[t].trainer.n_seeds > 1
            and not TASK_CONFIGS[t].is_classification
        ]
    )


def figure_names(task_name):
    """The figures that apply to a task's type."""
    if TASK_CONFIGS[task_name].is_classification:
        return ["learning_curve_fold0", "roc", "confusion"]
    return ["learning_curve_fold0", "scatter"]


def all_targets():
    """Every per-task output, each task's figures (a seed ensemble's calibration too),
    mutagenesis for a task with a reference (a k-fold one also gets the cross-validated
    map), the next batch of a task with a design block, and the summary."""
    targets = ["results/summary.tsv", "results/summary.png"]
    for task in TASKS:
        targets += [f"results/{task}/prepared.tsv", f"results/{task}/leakage.json"]
        for model in task_models(task):
            targets.append(f"results/{task}/{model}/metrics.json")
            targets += [
                f"results/{task}/{model}/figures/{fig}.png"
                for fig in figure_names(task)
            ]
            if TASK_CONFIGS[task].reference:
                targets += [
                    f"results/{task}/{model}/mutagenesis.{kind}"
                    for kind in ("tsv", "png")
                ]
            if len(seeds(task, model)) and not TASK_CONFIGS[task].is_classification:
                targets.append(f"results/{task}/{model}/figures/calibration.png")
            if TASK_CONFIGS[task].reference and TASK_CONFIGS[task].n_folds > 1:
                targets.append(f"results/{task}/{model}/mutagenesis_cv.json")
        if TASK_CONFIGS[task].design:
            targets.append(f"results/{task}/design/next_batch.tsv")
    return targets


def tuned_settings(task_name, model):
    """The search result a training of ``model`` on the task uses ([] when it uses none)."""
    if TASK_CONFIGS[task_name].uses_tuning(model):
        return [f"results/{task_name}/{model}/tuning.json"]
    return []


def tune_targets():
    """What target `tune` builds: the search of every model a task's tune block names."""
    targets = [
        f"results/{task}/{model}/tuning.{ext}"
        for task in TASKS
        if TASK_CONFIGS[task].tune
        for model in TASK_CONFIGS[task].tune["models"]
        for ext in ("tsv", "png", "json")
    ]
    if not targets:
        raise ValueError(
            "target `tune` found no task with a tune: block; add one (docs/task-config.md)"
        )
    return targets


def published_references():
    """Reference numbers per task: the table named by ``published_table`` (validated
    against schemas/published.schema.yaml) plus each task's own ``published`` entry."""
    table = {"version": None, "tasks": {}}
    if WORKFLOW.raw["published_table"]:
        with open(WORKFLOW.raw["published_table"]) as handle:
            table = yaml.safe_load(handle)
        validate(table, "published", WORKFLOW.raw["published_table"])
    references = {task: list(table["tasks"].get(task, [])) for task in TASKS}
    for task in TASKS:
        for metric, entry in TASK_CONFIGS[task].published.items():
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
