"""Write a synthetic epistasis landscape (snakemake rule ``synthetic``) as CSV."""

import logging

from lyra.atomic import atomic_path
from lyra.synthetic import epistasis_landscape

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)

table = epistasis_landscape(**snakemake.params.spec)
with atomic_path(snakemake.output[0]) as tmp:
    table.to_csv(tmp, index=False)
