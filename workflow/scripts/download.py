"""Fetch one source file (snakemake rule ``download``) and check its SHA-256."""

import logging
import shutil
import urllib.request

from lyra.io.atomic import atomic_path
from lyra.errors import exit_on_input_error
from lyra.io.provenance import sha256_file

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input or a refused write: one line, no traceback
logger = logging.getLogger("download")

source = snakemake.params.source
target = snakemake.output[0]
with atomic_path(target) as tmp:
    logger.info("fetching %s", source["url"])
    with urllib.request.urlopen(source["url"], timeout=60) as response, open(tmp, "wb") as out:
        shutil.copyfileobj(response, out)
    digest = sha256_file(tmp)
    if digest != source["sha256"].lower():
        raise ValueError(
            f"{source['url']}: sha256 {digest} does not match the configured "
            f"{source['sha256']} for {source['path']}; the file was not kept"
        )
    logger.info("sha256 %s verified; wrote %s", digest, target)
