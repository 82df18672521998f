"""The configuration, parsed once: schema validation, defaults, and a typed ``Task``.

The JSON Schemas ship with the package (``lyra/schemas/``), so a non-editable install
validates configs the same way as the workflow. ``load_workflow_config`` turns a whole
config (config.yaml, with the optional experiments overlay merged in) into a
``WorkflowConfig``; ``task_from_config`` builds one ``Task`` from it (the CLI's way in).
A ``Task`` crosses process boundaries (Snakemake params, model.pt) as the plain dict of
``Task.to_dict`` and is rebuilt with ``Task.from_dict``.

Nothing here imports torch, so Snakemake builds the DAG without it.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import yaml

from lyra.errors import LyraInputError

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
SPLIT_NAMES = ("train", "valid", "test")
CLASSIFICATION = ("binary", "multiclass")
KFOLD_SCHEMES = ("kfold_column", "group_kfold")
MODELS = ("lyra", "cnn", "transformer", "ridge", "ridge_pairs", "onehot_linear")
PRECISIONS = ("fp32", "tf32", "bf16")
SCHEDULERS = ("constant", "cosine", "warmup_cosine")


VALID_MODES = ("fold", "random", "none")
KFOLD_AGGREGATES = ("pooled", "fold_mean")


def kfold_valid(split: dict) -> str:
    """How a k-fold split block carves validation rows (``split.valid``): the value given,
    else ``fold`` for kfold_column (a whole other fold) and ``random`` for group_kfold
    (a seeded share of whole groups). Single-split schemes have no k-fold carving: ''."""
    if split.get("scheme") not in KFOLD_SCHEMES:
        return ""
    return split.get("valid") or ("fold" if split["scheme"] == "kfold_column" else "random")


# ---------------------------------------------------------------- schema
def schema_path(name: str = "config") -> Path:
    """Path of the shipped schema ``name`` (config, experiments or published)."""
    return SCHEMA_DIR / f"{name}.schema.yaml"


@functools.lru_cache(maxsize=None)
def _read_schema(name: str) -> dict:
    with open(schema_path(name)) as handle:
        return yaml.safe_load(handle)


def load_schema(name: str = "config") -> dict:
    """The JSON Schema ``name`` (YAML) shipped with the package (a copy: callers may change it)."""
    return copy.deepcopy(_read_schema(name))


def task_default(*keys: str):
    """The schema default of a task key, e.g. ``task_default("split", "fractions")``."""
    schema = load_schema()
    node = schema["$defs"]["task"]
    for key in keys:
        node = _resolve_ref(node, schema)["properties"][key]
    return copy.deepcopy(_resolve_ref(node, schema)["default"])


def default_metric(task_type: str) -> str:
    """The headline metric of a task that names none: spearman for regression, accuracy
    for classification (the schema's ``metric`` description says so)."""
    return "accuracy" if task_type in CLASSIFICATION else "spearman"


def metric_names() -> list[str]:
    """The headline metrics a task may name (the schema's list)."""
    return list(load_schema()["$defs"]["task"]["properties"]["metric"]["enum"])


def _resolve_ref(schema: dict, root: dict) -> dict:
    while "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def fill_defaults(instance: dict, schema: dict, root: dict) -> dict:
    """Set every missing property that has a schema default, recursing into objects; a
    mapping default (e.g. the top-level ``model`` block) lies under a given mapping key by key."""
    schema = _resolve_ref(schema, root)
    for key, sub in schema.get("properties", {}).items():
        sub = _resolve_ref(sub, root)
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        elif isinstance(instance.get(key), dict) and isinstance(sub.get("default"), dict):
            instance[key] = {**copy.deepcopy(sub["default"]), **instance[key]}
        if isinstance(instance.get(key), dict) and "properties" in sub:
            fill_defaults(instance[key], sub, root)
    return instance


def validate(instance: dict, name: str = "config", source: str = "config") -> None:
    """Validate against schema ``name``; LyraInputError naming the key of the first problem."""
    validator = jsonschema.Draft202012Validator(load_schema(name))
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = ".".join(str(p) for p in error.absolute_path) or "top level"
        raise LyraInputError(source, f"key {where}", error.message)


# ---------------------------------------------------------------- trainer
@dataclass(frozen=True)
class TrainerConfig:
    """Optimisation settings; every field can be overridden from a task's ``trainer:`` block."""

    epochs: int = 30
    batch_size: int = 128
    eval_batch_size: int = 1024
    lr: float = 1e-3
    weight_decay: float = 0.01
    patience: int = 10
    scheduler: str = "constant"  # constant | cosine | warmup_cosine (see lyra.training.loop.lr_factor)
    warmup_fraction: float = 0.1  # warmup_cosine: share of all optimiser steps spent warming up
    min_lr_ratio: float = 0.0  # warmup_cosine: final lr as a fraction of lr
    # ridge_init and freeze_ridge are the start lyra.models.estimators.NeuralModel gives the model before
    # lyra.training.loop.fit, which trains the model as it is given (lyra.nn.ridge_start.start_from_ridge)
    ridge_init: bool = False  # regression, Lyra(linear_skip=True): skip (and pair) weights start from the ridge fit
    freeze_ridge: bool = False  # with ridge_init: the ridge fit stays fixed, the rest learns its residual from zero
    standardize_targets: bool = True
    class_weights: bool = False
    selection_metric: str | None = None  # default: spearman (regression) / accuracy (classification)
    grad_clip: float | None = None
    seed: int = 0
    n_gpus: int = 1  # > 1: data-parallel over that many GPUs (CPU processes where there is none)
    n_seeds: int = 1  # > 1 on a single-split task: that many models (seeds seed, seed+1, ...) as an ensemble
    precision: str = "fp32"  # fp32 | tf32 | bf16 (see lyra.nn.run.precision_context)

    @classmethod
    def from_dict(cls, values: dict | None) -> "TrainerConfig":
        """Build from a dict, rejecting unknown keys and bad values by name."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown trainer option(s) {unknown}; known: {sorted(known)}")
        config = cls(**values)
        if config.n_seeds < 1:
            raise ValueError(f"trainer.n_seeds must be at least 1, got {config.n_seeds}")
        if config.n_gpus < 1:
            raise ValueError(f"trainer.n_gpus must be at least 1, got {config.n_gpus}")
        if config.scheduler not in SCHEDULERS:
            raise ValueError(f"trainer.scheduler must be one of {list(SCHEDULERS)}, got {config.scheduler!r}")
        if not 0.0 <= config.warmup_fraction < 1.0:
            raise ValueError(f"trainer.warmup_fraction must lie in [0, 1), got {config.warmup_fraction}")
        if not 0.0 <= config.min_lr_ratio <= 1.0:
            raise ValueError(f"trainer.min_lr_ratio must lie in [0, 1], got {config.min_lr_ratio}")
        if config.freeze_ridge and not config.ridge_init:
            raise ValueError("trainer.freeze_ridge keeps the ridge start fixed: it needs trainer.ridge_init: true")
        if config.precision not in PRECISIONS:
            raise ValueError(f"trainer.precision must be one of {list(PRECISIONS)}, got {config.precision!r}")
        return config

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def metric_for(self, task_type: str) -> str:
        """The validation metric that picks the epoch (and scores a tuning trial):
        ``selection_metric``, else the task type's default (``default_metric``)."""
        return self.selection_metric or default_metric(task_type)


# ---------------------------------------------------------------- task
@dataclass(frozen=True)
class Task:
    """One sequence-to-function task with every default filled (see docs/task-config.md).

    ``input``, ``columns``, ``split``, ``crop`` and ``target_transform`` keep the config's
    block structure; ``model`` holds the Lyra constructor options (top-level block
    overridden by the task's), ``trainer`` the typed trainer settings.
    """

    name: str
    input: dict
    alphabet: str
    task_type: str
    split: dict
    columns: dict = field(default_factory=dict)
    metric: str = "spearman"
    seed: int = 0
    model: dict = field(default_factory=dict)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    description: str = ""
    data_root: str | None = None
    source: list = field(default_factory=list)
    t_as_u: bool = False
    ambiguous: str = "error"
    max_length: int | None = None
    min_length: int | None = None
    length: int | None = None
    ambiguous_allowed: list | None = None
    crop: dict | None = None
    classes: tuple | None = None
    target_transform: dict | None = None
    target_note: str | None = None
    reference: str | None = None
    external_test: list = field(default_factory=list)
    published: dict = field(default_factory=dict)
    kfold_aggregate: str = "fold_mean"  # pooled | fold_mean (the k-fold headline; see lyra.metrics)
    encoding: list = field(default_factory=lambda: ["onehot"])  # lyra.data.features.build_encoder
    tune: dict | None = None
    design: dict | None = None  # lyra.analysis.design: the next batch (rule design; docs/design.md)

    @property
    def is_classification(self) -> bool:
        return self.task_type in CLASSIFICATION

    @property
    def n_folds(self) -> int:
        """Number of folds the config asks for (1 for single-split schemes)."""
        return int(self.split["n_folds"]) if self.split["scheme"] in KFOLD_SCHEMES else 1

    def model_options(self, model: str, variants: dict | None = None) -> tuple[str, dict]:
        """The base model and constructor options of ``model`` on this task.

        ``model`` is one of ``MODELS`` (Lyra takes the task's ``model`` block, the
        baselines their defaults) or a key of ``variants``, whose entries are
        ``{base: <model>, options: {...}}``; a variant's options override its base's.
        """
        if model in MODELS:
            return model, dict(self.model) if model == "lyra" else {}
        variants = variants or {}
        if model not in variants:
            raise ValueError(f"unknown model {model!r}; choose one of {list(MODELS)} or a variant {sorted(variants)}")
        base = variants[model]["base"]
        if base not in MODELS:
            raise ValueError(f"variant {model!r} has unknown base model {base!r}; choose one of {list(MODELS)}")
        return base, {**self.model_options(base)[1], **(variants[model].get("options") or {})}

    def not_applicable(self, model: str, variants: dict | None = None) -> str | None:
        """Why ``model`` is not trained on this task (its summary columns are then NA with
        this reason), or None: ``ridge_pairs`` screens position pairs on regression
        residuals, so it is for regression tasks only."""
        base = self.model_options(model, variants)[0]
        if base == "ridge_pairs" and self.is_classification:
            return "ridge_pairs screens position pairs on regression residuals: regression tasks only"
        return None

    def uses_tuning(self, model: str) -> bool:
        """Whether ``model`` trains with the settings of this task's search (``tune.use``)."""
        return bool(self.tune and self.tune.get("use") and model in self.tune.get("models", ()))

    def replace(self, **changes) -> "Task":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain (JSON/YAML-ready) form; ``Task.from_dict`` inverts it."""
        values = {f.name: copy.deepcopy(getattr(self, f.name)) for f in dataclasses.fields(self)}
        values["trainer"] = self.trainer.to_dict()
        values["classes"] = list(self.classes) if self.classes is not None else None
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "Task":
        values = dict(values)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown task key(s) {unknown}")
        trainer = {"seed": values.get("seed", 0), **(values.get("trainer") or {})}
        values["trainer"] = trainer if isinstance(trainer, TrainerConfig) else TrainerConfig.from_dict(trainer)
        if values.get("classes") is not None:
            values["classes"] = tuple(str(c) for c in values["classes"])
        task = cls(**values)
        if task.kfold_aggregate not in KFOLD_AGGREGATES:
            raise ValueError(f"kfold_aggregate must be one of {list(KFOLD_AGGREGATES)}, got {task.kfold_aggregate!r}")
        if task.kfold_aggregate == "pooled" and task.is_classification:
            raise ValueError("kfold_aggregate pooled z-scores targets per fold, so it needs a regression task")
        return task


def split_files(spec: dict) -> dict[str, dict]:
    """``input.files`` as {split: {"path": ..., "columns": {...}}}; an entry is a path or a
    mapping with ``path`` and an optional ``columns`` override for that file only."""
    entries = {}
    for split, entry in (spec.get("files") or {}).items():
        entry = {"path": entry} if isinstance(entry, str) else dict(entry)
        entry.setdefault("columns", {})
        entries[split] = entry
    return entries


# ---------------------------------------------------------------- whole config
def epistasis_tasks(spec: dict) -> tuple[dict, dict]:
    """Synthetic data sets and task entries of the interaction-order experiment.

    ``spec`` has ``orders`` (e.g. [1, 2, 3, 4, 5]), ``landscape`` (arguments of
    ``lyra.data.synthetic.epistasis_landscape`` other than ``orders``, with ``n_terms`` one
    number) and ``task`` (keys of a task entry: split, metric, model, trainer, ...).
    For each order k the landscape has only order-k terms, so k is the known
    interaction order. Returns ``({name: landscape arguments}, {name: task entry})``
    keyed ``epistasis_order<k>``; each task reads ``resources/synthetic/<name>.csv``.
    """
    landscape = dict(spec["landscape"])
    n_terms = landscape.pop("n_terms")
    synthetic, tasks = {}, {}
    for order in spec["orders"]:
        name = f"epistasis_order{order}"
        synthetic[name] = {**landscape, "orders": [order], "n_terms": [n_terms]}
        tasks[name] = {
            "description": f"Synthetic landscape with interaction order {order} only",
            "data_root": "resources/synthetic",
            "input": {"format": "csv", "path": f"{name}.csv", "header": True},
            "columns": {"sequence": "sequence", "target": "target", "id": "id"},
            "alphabet": landscape.get("alphabet", "protein"),
            "task_type": "regression",
            **spec.get("task", {}),
        }
    return synthetic, tasks


def _build_task(full: dict, entry: dict, name: str, schema: dict, source: str = "config") -> Task:
    """A task entry with schema defaults and the top-level model/trainer/seed merged in."""
    entry = fill_defaults(copy.deepcopy(entry), schema["$defs"]["task"], schema)
    entry["model"] = {**full.get("model", {}), **entry.get("model", {})}
    entry["trainer"] = {**full.get("trainer", {}), **entry.get("trainer", {})}
    entry.setdefault("seed", full.get("seed", 0))
    entry.setdefault("metric", default_metric(entry["task_type"]))
    root = Path(entry.get("data_root") or full.get("data_root", "."))
    entry["encoding"] = [part if isinstance(part, str) or "aaindex" in part else
                         {"key": "id", **part, "embeddings": str(root / part["embeddings"])}
                         for part in entry.get("encoding", ["onehot"])]
    if entry["split"]["scheme"] in KFOLD_SCHEMES:
        entry["split"]["valid"] = kfold_valid(entry["split"])
    try:
        task = Task.from_dict({**entry, "name": name})
    except ValueError as error:
        raise LyraInputError(source, f"task '{name}'", str(error)) from None
    problem = design_problem(task, full.get("models", ()), full.get("model_variants") or {})
    if problem:
        raise LyraInputError(source, f"task '{name}' key design", problem)
    if task.n_folds > 1 and task.trainer.n_seeds > 1:
        raise LyraInputError(source, f"task '{name}'", "trainer.n_seeds applies to single-split tasks; "
                             "the folds of a k-fold task are its ensemble")
    return task


def design_problem(task: Task, models, variants: dict) -> str | None:
    """Why the task's ``design:`` block cannot run (None when it can or there is none):
    it needs a regression task with a reference, one candidate space, and models that
    the workflow trains on the task."""
    design = task.design
    if not design:
        return None
    if task.is_classification:
        return "design ranks predicted values: regression tasks only"
    if not task.reference:
        return "design needs the task's reference (the sequence the variants mutate)"
    if design.get("sites") and design.get("candidates"):
        return "give sites or candidates, not both"
    for model in design["models"]:
        if model not in models:
            return f"model '{model}' is not in the models list {list(models)}, so it is not trained"
        try:
            reason = task.not_applicable(model, variants)
        except ValueError as error:
            return str(error)
        if reason:
            return f"model '{model}' is not trained on this task ({reason})"
    return None


@dataclass(frozen=True)
class WorkflowConfig:
    """A validated config: every task typed, plus the workflow-level settings.

    ``tasks`` holds every task, including those an experiment adds (the
    interaction-order landscapes); ``default_tasks`` names the config's own tasks,
    the ones the default target builds.
    """

    raw: dict
    tasks: dict
    default_tasks: tuple
    models: tuple
    variants: dict
    experiments: dict
    synthetic: dict


def load_workflow_config(config: dict, source: str = "config") -> WorkflowConfig:
    """Validate ``config`` (and its experiments overlay keys), fill defaults, type every task."""
    validate(config, "config", source)
    validate(config, "experiments", source)
    schema = load_schema()
    full = fill_defaults(copy.deepcopy(config), schema, schema)
    experiments = full.get("experiments") or {}
    synthetic = dict(full.get("synthetic") or {})
    entries = dict(full["tasks"])
    if "epistasis" in experiments:
        extra_synthetic, extra_tasks = epistasis_tasks(experiments["epistasis"])
        clash = sorted(set(extra_tasks) & set(entries))
        if clash:
            raise LyraInputError(source, "key experiments.epistasis", f"would redefine the config tasks {clash}")
        synthetic.update(extra_synthetic)
        entries.update(extra_tasks)
        validate({"tasks": extra_tasks}, "config", source)
    tasks = {name: _build_task(full, entry, name, schema, source) for name, entry in entries.items()}
    return WorkflowConfig(
        raw=full,
        tasks=tasks,
        default_tasks=tuple(full["tasks"]),
        models=tuple(full["models"]),
        variants=dict(full.get("model_variants") or {}),
        experiments=experiments,
        synthetic=synthetic,
    )


def data_roots_by_file(config: dict, files: list[dict], command_line: dict | None = None) -> dict:
    """``config``, the merge of the config ``files`` (their contents, in merge order) and the
    ``command_line`` values, with ``data_root`` read per file: a file that defines tasks gives
    its data_root to those tasks (a task's own data_root still wins), so a lab's config
    merged over config/config.yaml moves only its own tasks; the data_root of a file without
    tasks stays top-level, for every task without one, and one on the command line
    (``--config data_root=...``) is top-level for every task without its own."""
    config = copy.deepcopy(config)
    if not files or "data_root" in (command_line or {}):
        return config
    roots, shared = {}, None
    for content in files:
        if "data_root" not in content:
            continue
        if content.get("tasks"):
            roots.update({name: content["data_root"] for name in content["tasks"]})
        else:
            shared = content["data_root"]
    for name, entry in (config.get("tasks") or {}).items():
        if name in roots and isinstance(entry, dict):
            entry.setdefault("data_root", roots[name])
    if shared is None:
        config.pop("data_root", None)
    else:
        config["data_root"] = shared
    return config


def task_from_config(config: dict, name: str, source: str = "config") -> Task:
    """Task ``name`` of ``config``, validated and with every default filled."""
    if name not in config.get("tasks", {}):
        raise LyraInputError(source, f"task '{name}'", f"no such task; tasks: {', '.join(config.get('tasks', {}))}")
    validate(config, "config", source)
    schema = load_schema()
    full = fill_defaults(copy.deepcopy(config), schema, schema)
    return _build_task(full, full["tasks"][name], name, schema, source)
