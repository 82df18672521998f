"""Write a synthetic epistasis landscape (snakemake rule ``synthetic``) as CSV."""

import logging

from lyra.io.atomic import atomic_path
from lyra.errors import exit_on_input_error
from lyra.data.synthetic import epistasis_landscape

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input or a refused write: one line, no traceback

table = epistasis_landscape(**snakemake.params.spec)
with atomic_path(snakemake.output[0]) as tmp:
    table.to_csv(tmp, index=False)
