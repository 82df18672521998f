rule download:
    output:
        "resources/data/{path}",
    log:
        "logs/download/{path}.log",
    benchmark:
        "results/benchmarks/download/{path}.tsv"
    conda:
        "../envs/lyra.yaml"
    params:
        source=lambda wildcards: source_for(wildcards.path),
    script:
        "../scripts/download.py"


rule synthetic:
    output:
        "resources/synthetic/{name}.csv",
    log:
        "logs/synthetic/{name}.log",
    benchmark:
        "results/benchmarks/synthetic/{name}.tsv"
    conda:
        "../envs/lyra.yaml"
    params:
        spec=lambda wildcards: WORKFLOW.synthetic[wildcards.name],
    script:
        "../scripts/synthetic.py"


rule prepare:
    input:
        lambda wildcards: list(input_files(wildcards.task).values()),
    output:
        prepared="results/{task}/prepared.tsv",
        leakage="results/{task}/leakage.json",
    log:
        "logs/{task}/prepare.log",
    benchmark:
        "results/benchmarks/{task}/prepare.tsv"
    conda:
        "../envs/lyra.yaml"
    params:
        task=lambda wildcards: prepared_task(wildcards.task),
        n_folds=lambda wildcards: len(folds(wildcards.task)),
    script:
        "../scripts/prepare.py"
