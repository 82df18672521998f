rule evaluate:
    input:
        data=lambda wildcards: list(input_files(wildcards.task).values()),
        prepared="results/{task}/prepared.tsv",
        predictions=fold_files("predictions.tsv"),
        info=fold_files("train.json"),
        seed_predictions=seed_files("predictions.tsv"),
    output:
        "results/{task}/{model}/metrics.json",
    log:
        "logs/{task}/{model}/evaluate.log",
    benchmark:
        "results/benchmarks/{task}/{model}/evaluate.tsv"
    conda:
        "../envs/lyra.yaml"
    params:
        task=lambda wildcards: task_params(wildcards.task),
        n_boot=WORKFLOW.raw["n_boot"],
        seed=WORKFLOW.raw["seed"],
    script:
        "../scripts/evaluate.py"


rule external_test:
    input:
        data=lambda wildcards: list(
            input_files(
                wildcards.task, external_sets(wildcards.task)[wildcards.name]["input"]
            ).values()
        ),
        models=member_files("model.pt"),
    output:
        metrics="results/{task}/{model}/external_{name}.json",
        predictions="results/{task}/{model}/external_{name}.tsv",
    log:
        "logs/{task}/{model}/external_{name}.log",
    benchmark:
        "results/benchmarks/{task}/{model}/external_{name}.tsv"
    conda:
        "../envs/lyra.yaml"
    params:
        task=lambda wildcards: external_task(wildcards.task, wildcards.name),
        n_boot=WORKFLOW.raw["n_boot"],
        seed=WORKFLOW.raw["seed"],
    script:
        "../scripts/external.py"
