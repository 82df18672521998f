from lyra.experiments import epistasis_tasks
from lyra.runner import resolve_model

# Model variants and the experiments of target `experiments`: given by a config overlay,
# `--configfile config/experiments.yaml` (merged over config/config.yaml), which also
# widens `models` to the baselines so that results/summary.tsv has their columns.
validate(config, "../schemas/experiments.schema.yaml")
EXPERIMENTS = config.get("experiments") or {}
VARIANTS = config.get("model_variants") or {}
EXPERIMENT_DIR = "results/experiments"

# The interaction-order landscapes are ordinary tasks (rules synthetic, prepare, train,
# evaluate) that only target `experiments` asks for.
if "epistasis" in EXPERIMENTS:
    _synthetic, _tasks = epistasis_tasks(EXPERIMENTS["epistasis"])
    _clash = sorted(set(_tasks) & set(config["tasks"]))
    if _clash:
        raise ValueError(
            f"experiments.epistasis would redefine the config tasks {_clash}"
        )
    config.setdefault("synthetic", {}).update(_synthetic)
    config["tasks"].update(_tasks)
    TASK_CONFIGS.update({name: resolve_task(config, name) for name in _tasks})


# This checkout (the parent of workflow/), also when the workflow runs as a module from
# a lab's own project folder (the working directory).
CHECKOUT = Path(str(workflow.current_basedir)).resolve().parent.parent


def checkout_file(relative):
    """The path of a file of this checkout, for an input: relative to the working
    directory when that is the checkout (the usual run), otherwise absolute."""
    path = CHECKOUT / relative
    cwd = Path.cwd().resolve()
    return str(path.relative_to(cwd) if path.is_relative_to(cwd) else path)


def require_tasks(tasks, where):
    """Fail with the missing names when ``tasks`` are not all tasks of the config."""
    missing = [t for t in tasks if t not in TASK_CONFIGS]
    if missing:
        raise ValueError(
            f"{where} names tasks {missing} that are not in the config; tasks: {sorted(TASK_CONFIGS)}"
        )
    return tasks


def model_dir(task, model):
    """Results folder of ``model`` on ``task``; a variant whose resolved options equal its
    base model's for this task shares the base model's folder."""
    if model in VARIANTS:
        base, options = resolve_model(model, TASK_CONFIGS[task], VARIANTS)
        if options == resolve_model(base, TASK_CONFIGS[task])[1]:
            model = base
    return f"results/{task}/{model}"


def comparison_entries(tasks, models):
    """{task, model, metrics} for every task and model of a comparison figure."""
    return [
        {"task": t, "model": m, "metrics": f"{model_dir(t, m)}/metrics.json"}
        for t in tasks
        for m in models
    ]


def ablation_entries(name):
    ablations = EXPERIMENTS["ablations"]
    tasks = require_tasks(ablations["tasks"], "experiments.ablations.tasks")
    return comparison_entries(tasks, ablations["comparisons"][name])


def baseline_entries():
    return comparison_entries(TASKS, MODELS)


def epistasis_entries():
    spec = EXPERIMENTS["epistasis"]
    return [
        {"order": order, **entry}
        for order in spec["orders"]
        for entry in comparison_entries([f"epistasis_order{order}"], spec["models"])
    ]


def entry_files(entries_of):
    """Input function: the metrics files of the entries ``entries_of(wildcards)``."""
    return lambda wildcards: [e["metrics"] for e in entries_of(wildcards)]


def experiment_targets():
    """Everything target `experiments` builds: the baselines on every task (with their
    figures and the summary), one figure per ablation, the interaction-order sweep and
    the scaling measurement."""
    if not EXPERIMENTS:
        raise ValueError(
            "target `experiments` needs the experiments config: "
            "snakemake experiments --configfile config/experiments.yaml"
        )
    targets = all_targets()
    if len(MODELS) > 1:
        targets.append(f"{EXPERIMENT_DIR}/baselines.png")
    for name in (EXPERIMENTS.get("ablations") or {}).get("comparisons", {}):
        targets.append(f"{EXPERIMENT_DIR}/ablation_{name}.png")
    if "epistasis" in EXPERIMENTS:
        targets.append(f"{EXPERIMENT_DIR}/epistasis.png")
    if "scaling" in EXPERIMENTS:
        targets.append(f"{EXPERIMENT_DIR}/scaling.png")
    return targets
