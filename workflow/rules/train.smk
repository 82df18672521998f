rule train:
    input:
        prepared="results/{task}/prepared.tsv",
        # the best settings of the task's search, when its tune block says use: true
        tuned=lambda wildcards: tuned_settings(wildcards.task, wildcards.model),
    output:
        model="results/{task}/{model}/fold{fold}/model.pt",
        history="results/{task}/{model}/fold{fold}/history.csv",
        predictions="results/{task}/{model}/fold{fold}/predictions.tsv",
        info="results/{task}/{model}/fold{fold}/train.json",
    log:
        "logs/{task}/{model}/train_fold{fold}.log",
    benchmark:
        "results/benchmarks/{task}/{model}/train_fold{fold}.tsv"
    conda:
        "../envs/lyra.yaml"
    threads: 2
    resources:
        # one GPU per data-parallel process (trainer.n_gpus); ridge needs none
        gpu=lambda wildcards: (
            0
            if wildcards.model == "ridge"
            else TASK_CONFIGS[wildcards.task].trainer.n_gpus
        ),
    params:
        task=lambda wildcards: task_params(wildcards.task),
        # a named model variant (e.g. an ablation, config/experiments.yaml) is trained by the
        # same rule; only this job's own variant is a parameter, so editing one reruns only it
        variants=lambda wildcards: {
            name: spec
            for name, spec in WORKFLOW.variants.items()
            if name == wildcards.model
        },
    script:
        "../scripts/train.py"


rule tune_model:
    input:
        prepared="results/{task}/prepared.tsv",
    output:
        table="results/{task}/{model}/tuning.tsv",
        figure=report(
            "results/{task}/{model}/tuning.png",
            caption="../report/tuning.rst",
            category="{task}",
            subcategory="{model}",
        ),
        best="results/{task}/{model}/tuning.json",
    log:
        "logs/{task}/{model}/tune.log",
    benchmark:
        "results/benchmarks/{task}/{model}/tune.tsv"
    conda:
        "../envs/lyra.yaml"
    threads: 2
    resources:
        gpu=1,
    params:
        task=lambda wildcards: task_params(wildcards.task),
        variants=lambda wildcards: {
            name: spec
            for name, spec in WORKFLOW.variants.items()
            if name == wildcards.model
        },
    script:
        "../scripts/tune.py"
