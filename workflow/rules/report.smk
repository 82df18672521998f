rule figures_regression:
    input:
        predictions=fold_files("predictions.tsv"),
        history="results/{task}/{model}/fold0/history.csv",
        metrics="results/{task}/{model}/metrics.json",
    output:
        learning_curve=report(
            "results/{task}/{model}/figures/learning_curve_fold0.png",
            caption="../report/learning_curve.rst",
            category="{task}",
            subcategory="{model}",
        ),
        scatter=report(
            "results/{task}/{model}/figures/scatter.png",
            caption="../report/scatter.rst",
            category="{task}",
            subcategory="{model}",
        ),
    log:
        "logs/{task}/{model}/figures.log",
    benchmark:
        "results/benchmarks/{task}/{model}/figures.tsv"
    wildcard_constraints:
        task=task_pattern("regression"),
    conda:
        "../envs/lyra.yaml"
    params:
        note=lambda wildcards: TASK_CONFIGS[wildcards.task].target_note,
    script:
        "../scripts/figures.py"


rule figures_classification:
    input:
        predictions=fold_files("predictions.tsv"),
        history="results/{task}/{model}/fold0/history.csv",
        metrics="results/{task}/{model}/metrics.json",
    output:
        learning_curve=report(
            "results/{task}/{model}/figures/learning_curve_fold0.png",
            caption="../report/learning_curve.rst",
            category="{task}",
            subcategory="{model}",
        ),
        roc=report(
            "results/{task}/{model}/figures/roc.png",
            caption="../report/roc.rst",
            category="{task}",
            subcategory="{model}",
        ),
        confusion=report(
            "results/{task}/{model}/figures/confusion.png",
            caption="../report/confusion.rst",
            category="{task}",
            subcategory="{model}",
        ),
    log:
        "logs/{task}/{model}/figures.log",
    benchmark:
        "results/benchmarks/{task}/{model}/figures.tsv"
    wildcard_constraints:
        task=task_pattern("binary", "multiclass"),
    conda:
        "../envs/lyra.yaml"
    script:
        "../scripts/figures.py"


rule figure_calibration:
    input:
        predictions=member_files("predictions.tsv"),
        metrics="results/{task}/{model}/metrics.json",
    output:
        report(
            "results/{task}/{model}/figures/calibration.png",
            caption="../report/calibration.rst",
            category="{task}",
            subcategory="{model}",
        ),
    log:
        "logs/{task}/{model}/figure_calibration.log",
    wildcard_constraints:
        task=ensemble_pattern(),
    conda:
        "../envs/lyra.yaml"
    script:
        "../scripts/figure_calibration.py"


rule summary:
    input:
        metrics=[
            f"results/{task}/{model}/metrics.json"
            for task in TASKS
            for model in task_models(task)
        ],
        external=[
            f"results/{task}/{model}/external_{name}.json"
            for task in TASKS
            for model in task_models(task)
            for name in external_sets(task)
        ],
        leakage=expand("results/{task}/leakage.json", task=TASKS),
    output:
        table=report(
            "results/summary.tsv",
            caption="../report/summary_table.rst",
            category="Summary",
        ),
        figure=report(
            "results/summary.png",
            caption="../report/summary.rst",
            category="Summary",
        ),
    log:
        "logs/summary.log",
    benchmark:
        "results/benchmarks/summary.tsv"
    conda:
        "../envs/lyra.yaml"
    params:
        tasks=TASKS,
        models=MODELS,
        not_applicable=not_applicable_models(),
        published=published_references(),
    script:
        "../scripts/summary.py"


# docs/results.md from this run's summary (`snakemake --cores 1 results_page`; not part
# of the default target): generated, stamped with the run's commit, dates, machine and
# job time, never typed by hand.
rule results_page:
    input:
        table="results/summary.tsv",
        metrics=expand("results/{task}/{model}/metrics.json", task=TASKS, model=MODELS),
    output:
        "docs/results.md",
    log:
        "logs/results_page.log",
    conda:
        "../envs/lyra.yaml"
    script:
        "../scripts/results_page.py"
