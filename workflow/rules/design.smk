# A task with a design: block: the next batch of variants to measure (lyra.analysis.design),
# scored by the members of the block's models (their folds and seeds) as one ensemble.
rule design:
    input:
        unpack(design_inputs),
    output:
        batch=report(
            "results/{task}/design/next_batch.tsv",
            caption="../report/design.rst",
            category="{task}",
            subcategory="design",
        ),
    log:
        "logs/{task}/design.log",
    benchmark:
        "results/benchmarks/{task}/design.tsv"
    wildcard_constraints:
        task=design_pattern(),
    conda:
        "../envs/lyra.yaml"
    params:
        task=lambda wildcards: task_params(wildcards.task),
    script:
        "../scripts/design.py"
