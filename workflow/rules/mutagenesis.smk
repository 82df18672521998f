rule mutagenesis:
    input:
        prepared="results/{task}/prepared.tsv",
        models=member_files("model.pt"),
    output:
        table=report(
            "results/{task}/{model}/mutagenesis.tsv",
            caption="../report/mutagenesis_table.rst",
            category="{task}",
            subcategory="{model}",
        ),
        heatmap=report(
            "results/{task}/{model}/mutagenesis.png",
            caption="../report/mutagenesis.rst",
            category="{task}",
            subcategory="{model}",
        ),
    log:
        "logs/{task}/{model}/mutagenesis.log",
    benchmark:
        "results/benchmarks/{task}/{model}/mutagenesis.tsv"
    wildcard_constraints:
        task=reference_pattern(kfold=False),
    conda:
        "../envs/lyra.yaml"
    params:
        task=lambda wildcards: task_params(wildcards.task),
    script:
        "../scripts/mutagenesis.py"


# a k-fold task: the same map and table, plus the cross-validated map and its check
rule mutagenesis_cross_validated:
    input:
        prepared="results/{task}/prepared.tsv",
        models=member_files("model.pt"),
    output:
        table=report(
            "results/{task}/{model}/mutagenesis.tsv",
            caption="../report/mutagenesis_cv_table.rst",
            category="{task}",
            subcategory="{model}",
        ),
        heatmap=report(
            "results/{task}/{model}/mutagenesis.png",
            caption="../report/mutagenesis.rst",
            category="{task}",
            subcategory="{model}",
        ),
        comparison=report(
            "results/{task}/{model}/mutagenesis_cv.png",
            caption="../report/mutagenesis_cv.rst",
            category="{task}",
            subcategory="{model}",
        ),
        check="results/{task}/{model}/mutagenesis_cv.json",
    log:
        "logs/{task}/{model}/mutagenesis_cv.log",
    benchmark:
        "results/benchmarks/{task}/{model}/mutagenesis_cv.tsv"
    wildcard_constraints:
        task=reference_pattern(kfold=True),
    conda:
        "../envs/lyra.yaml"
    params:
        task=lambda wildcards: task_params(wildcards.task),
    script:
        "../scripts/mutagenesis_cv.py"
