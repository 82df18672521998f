rule experiments:
    input:
        lambda wildcards: experiment_targets(),


rule experiment_baselines:
    input:
        entry_files(lambda wildcards: baseline_entries()),
    output:
        table=f"{EXPERIMENT_DIR}/baselines.tsv",
        figure=report(
            f"{EXPERIMENT_DIR}/baselines.png",
            caption="../report/experiment_baselines.rst",
            category="Experiments",
            subcategory="Baselines",
        ),
    log:
        "logs/experiments/baselines.log",
    benchmark:
        "results/benchmarks/experiments/baselines.tsv"
    conda:
        "../envs/lyra.yaml"
    params:
        entries=lambda wildcards: baseline_entries(),
        models=MODELS,
        title="Lyra and the baselines, same splits",
    script:
        "../scripts/experiment_comparison.py"


rule experiment_ablation:
    input:
        entry_files(lambda wildcards: ablation_entries(wildcards.name)),
    output:
        table=f"{EXPERIMENT_DIR}/ablation_{{name}}.tsv",
        figure=report(
            f"{EXPERIMENT_DIR}/ablation_{{name}}.png",
            caption="../report/experiment_ablation.rst",
            category="Experiments",
            subcategory="Ablations",
        ),
    log:
        "logs/experiments/ablation_{name}.log",
    benchmark:
        "results/benchmarks/experiments/ablation_{name}.tsv"
    conda:
        "../envs/lyra.yaml"
    params:
        entries=lambda wildcards: ablation_entries(wildcards.name),
        models=lambda wildcards: EXPERIMENTS["ablations"]["comparisons"][wildcards.name],
        title=lambda wildcards: f"Ablation: {wildcards.name}",
    script:
        "../scripts/experiment_comparison.py"


rule experiment_epistasis:
    input:
        entry_files(lambda wildcards: epistasis_entries()),
    output:
        table=f"{EXPERIMENT_DIR}/epistasis.tsv",
        figure=report(
            f"{EXPERIMENT_DIR}/epistasis.png",
            caption="../report/experiment_epistasis.rst",
            category="Experiments",
            subcategory="Interaction order",
        ),
    log:
        "logs/experiments/epistasis.log",
    benchmark:
        "results/benchmarks/experiments/epistasis.tsv"
    conda:
        "../envs/lyra.yaml"
    params:
        entries=lambda wildcards: epistasis_entries(),
    script:
        "../scripts/experiment_epistasis.py"


rule experiment_scaling:
    output:
        table=f"{EXPERIMENT_DIR}/scaling.tsv",
        figure=report(
            f"{EXPERIMENT_DIR}/scaling.png",
            caption="../report/experiment_scaling.rst",
            category="Experiments",
            subcategory="Long-sequence scaling",
        ),
    log:
        "logs/experiments/scaling.log",
    benchmark:
        "results/benchmarks/experiments/scaling.tsv"
    conda:
        "../envs/lyra.yaml"
    # every core (Snakemake lowers it to --cores), so that the timings run alone
    threads: 256
    params:
        lengths=lambda wildcards: EXPERIMENTS["scaling"]["lengths"],
        repeats=lambda wildcards: EXPERIMENTS["scaling"].get("repeats", 3),
    script:
        "../scripts/experiment_scaling.py"


rule experiment_campaign:
    input:
        files=lambda wildcards: campaign_files(wildcards.landscape),
    output:
        table=f"{EXPERIMENT_DIR}/campaign_{{landscape}}.tsv",
        figure=report(
            f"{EXPERIMENT_DIR}/campaign_{{landscape}}.png",
            caption="../report/experiment_campaign.rst",
            category="Experiments",
            subcategory="Campaign replay",
        ),
    log:
        "logs/experiments/campaign_{landscape}.log",
    benchmark:
        "results/benchmarks/experiments/campaign_{landscape}.tsv"
    conda:
        "../envs/lyra.yaml"
    threads: 2
    params:
        spec=lambda wildcards: campaign_spec(wildcards.landscape),
        strategies=lambda wildcards: EXPERIMENTS["campaign"]["strategies"],
        protocol=lambda wildcards: EXPERIMENTS["campaign"].get("protocol", {}),
    script:
        "../scripts/experiment_campaign.py"
