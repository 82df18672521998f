# Model variants and the experiments of target `experiments`: given by a config overlay,
# `--configfile config/experiments.yaml` (merged over config/config.yaml), which also
# widens `models` to the baselines so that results/summary.tsv has their columns. The
# interaction-order landscapes are ordinary tasks (rules synthetic, prepare, train,
# evaluate) that lyra.config adds to TASK_CONFIGS and only target `experiments` asks for.
EXPERIMENTS = WORKFLOW.experiments
VARIANTS = WORKFLOW.variants
EXPERIMENT_DIR = "results/experiments"


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
        base, options = TASK_CONFIGS[task].model_options(model, VARIANTS)
        if options == TASK_CONFIGS[task].model_options(base)[1]:
            model = base
    return f"results/{task}/{model}"


def comparison_entries(tasks, models):
    """{task, model, metrics} for every task and model of a comparison figure that
    applies to the task (``Task.not_applicable``)."""
    return [
        {"task": t, "model": m, "metrics": f"{model_dir(t, m)}/metrics.json"}
        for t in tasks
        for m in models
        if TASK_CONFIGS[t].not_applicable(m, VARIANTS) is None
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
    for name in (EXPERIMENTS.get("campaign") or {}).get("landscapes", {}):
        targets.append(f"{EXPERIMENT_DIR}/campaign_{name}.png")
    return targets


def campaign_spec(name):
    """One campaign landscape's entry with the runs it takes (its own or the campaign's)."""
    campaign = EXPERIMENTS["campaign"]
    spec = dict(campaign["landscapes"][name])
    spec.setdefault("runs", campaign["runs"])
    spec["first_run"] = campaign.get("first_run", 0)
    return spec


def campaign_files(name):
    """The data files a campaign landscape reads (none for a synthetic one)."""
    root = Path(WORKFLOW.raw["data_root"])
    return [str(root / f) for f in campaign_spec(name).get("files", [])]
