rule evaluate:
    input:
        data=lambda wildcards: list(input_files(wildcards.task).values()),
        prepared="results/{task}/prepared.tsv",
        predictions=fold_files("predictions.tsv"),
        info=fold_files("train.json"),
    output:
        "results/{task}/{model}/metrics.json",
    log:
        "logs/{task}/{model}/evaluate.log",
    benchmark:
        "results/benchmarks/{task}/{model}/evaluate.tsv"
    conda:
        "../envs/lyra.yaml"
    params:
        task=lambda wildcards: TASK_CONFIGS[wildcards.task],
        n_boot=config["n_boot"],
        seed=config["seed"],
    script:
        "../scripts/evaluate.py"
