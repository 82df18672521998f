"""Campaign replay on one landscape (rule ``experiment_campaign``): every strategy's
seeded runs, a table of rounds and a figure of best-so-far / max by round."""

import logging

import numpy as np

from lyra.data.alphabets import get_alphabet
from lyra.io.atomic import atomic_path
from lyra.campaign import Strategy, campaign_plot, gb1_landscape, replay, synthetic_landscape
from lyra.errors import exit_on_input_error

exit_on_input_error(snakemake.log[0])
logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)

spec = snakemake.params.spec
source = spec
if source["kind"] == "gb1":
    landscape = gb1_landscape(snakemake.input.files)
    letters = get_alphabet("protein").letters
    wild_type = np.array([letters.index(c) for c in source["wild_type"]]) if "wild_type" in source else None
else:
    landscape = synthetic_landscape(**source.get("options", {}))
    wild_type = None
landscape.name = snakemake.wildcards.landscape
strategies = [Strategy(name=name, **options) for name, options in snakemake.params.strategies.items()]
runs = list(range(spec.get("first_run", 0), spec.get("first_run", 0) + spec["runs"]))
rounds = replay(landscape, strategies, runs, snakemake.params.protocol, wild_type, workers=snakemake.threads)
with atomic_path(snakemake.output.table) as tmp:
    rounds.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
campaign_plot(rounds, snakemake.output.figure, f"Campaign replay: {snakemake.wildcards.landscape}")
