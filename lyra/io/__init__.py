"""Reading and writing files: delimited tables, FASTA, BED + genome FASTA, atomic writes, model files, provenance."""

from lyra.io.fasta import read_fasta
from lyra.io.genome import read_bed_regions
from lyra.io.tables import read_table, table_line

__all__ = ["read_fasta", "read_bed_regions", "read_table", "table_line"]
