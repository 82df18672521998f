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
    # one thread: on a CPU, two 1-thread trainings side by side finish 1.3-1.4x sooner
    # than two 2-thread ones in turn (benchmarks/training_threads.py); --set-threads
    # train=N gives one job more threads when it runs alone
    threads: 1
    resources:
        gpu=train_gpus,
    params:
        task=lambda wildcards: task_params(wildcards.task),
        variants=job_variants,
        fold=lambda wildcards: int(wildcards.fold),
        seed_offset=0,
    script:
        "../scripts/train.py"


rule train_seed:
    input:
        prepared="results/{task}/prepared.tsv",
        tuned=lambda wildcards: tuned_settings(wildcards.task, wildcards.model),
    output:
        model="results/{task}/{model}/seed{seed}/model.pt",
        history="results/{task}/{model}/seed{seed}/history.csv",
        predictions="results/{task}/{model}/seed{seed}/predictions.tsv",
        info="results/{task}/{model}/seed{seed}/train.json",
    log:
        "logs/{task}/{model}/train_seed{seed}.log",
    benchmark:
        "results/benchmarks/{task}/{model}/train_seed{seed}.tsv"
    conda:
        "../envs/lyra.yaml"
    # one thread, as rule train
    threads: 1
    resources:
        gpu=train_gpus,
    params:
        # an extra ensemble member of a single-split task (trainer.n_seeds): the same
        # split and settings, trainer seed + {seed}
        task=lambda wildcards: task_params(wildcards.task),
        variants=job_variants,
        fold=0,
        seed_offset=lambda wildcards: int(wildcards.seed),
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
        variants=job_variants,
    script:
        "../scripts/tune.py"
