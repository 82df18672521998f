"""Extract BED regions from a genome FASTA with pyfaidx.

The genome index (.fai) is used when it sits next to the genome. Otherwise (e.g. a
read-only data directory) pyfaidx builds it in a temporary directory for this call
and it is discarded afterwards; give large genomes a .fai (``samtools faidx``) to
avoid re-indexing on every run.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pandas as pd
import pyfaidx

from lyra.errors import LyraInputError
from lyra.io.tables import decode_error

log = logging.getLogger(__name__)

BED_COLUMNS = ["chrom", "start", "end", "name", "score", "strand"]
_HEADER_PREFIXES = ("#", "track", "browser")


def _bed_column_names(n_columns: int, extra_names: list[str] | None) -> list[str]:
    """BED6 names, then ``extra_names`` or 'label' for the 7th and col8, col9, ... beyond."""
    names = BED_COLUMNS[:n_columns]
    n_extra = n_columns - len(names)
    if extra_names is not None:
        if len(extra_names) != n_extra:
            raise ValueError(f"{n_extra} extra BED columns but {len(extra_names)} names given")
        return names + list(extra_names)
    return names + ["label" if k == 0 else f"col{7 + k}" for k in range(n_extra)]


def read_bed(
    bed_path: str | Path, extra_names: list[str] | None = None, require_strand: bool = False
) -> pd.DataFrame:
    """Read a BED file (0-based, half-open) with a ``line`` column (1-based file line).

    Comment, track and browser lines are skipped. Regions without a strand (fewer than
    six columns, or strand '.') are read as '+' and counted in a warning; with
    ``require_strand`` the first of them is an error naming its line.
    """
    bed_path = Path(bed_path)
    data = bed_path.read_bytes()
    try:
        lines = data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise decode_error(bed_path, data) from None
    skipped = [i for i, line in enumerate(lines) if not line.strip() or line.startswith(_HEADER_PREFIXES)]
    if len(skipped) == len(lines):
        raise LyraInputError(bed_path, "line 1", "no BED regions in the file")
    bed = pd.read_csv(bed_path, sep="\t", header=None, skiprows=skipped, dtype=str,
                      skip_blank_lines=False, encoding="utf-8-sig")
    if bed.shape[1] < 3:
        raise LyraInputError(bed_path, "line 1", "BED needs at least chrom, start and end columns")
    bed.columns = _bed_column_names(bed.shape[1], extra_names)
    skipped_set = set(skipped)
    bed["line"] = [i + 1 for i in range(len(lines)) if i not in skipped_set]
    for column in ("start", "end"):
        numbers = pd.to_numeric(bed[column], errors="coerce")
        bad = numbers.isna() | (numbers % 1 != 0) | (numbers < 0)
        if bad.any():
            row = bed[bad].iloc[0]
            raise LyraInputError(
                bed_path, f"line {row['line']}", f"{column} {row[column]!r} is not a non-negative integer"
            )
        bed[column] = numbers.astype(int)
    if "strand" not in bed:
        unstranded = pd.Series(True, index=bed.index)
        why = f"{bed.shape[1] - 1} columns, no strand column"
        bed["strand"] = "+"
    else:
        unstranded = bed["strand"] == "."
        why = "strand '.'"
    if unstranded.any():
        if require_strand:
            raise LyraInputError(
                bed_path, f"line {bed.loc[unstranded, 'line'].iloc[0]}",
                f"{why}, but input.require_strand is set; {int(unstranded.sum())} regions lack a strand",
            )
        log.warning("%s: %d of %d regions have no strand (%s); read as + (not reverse-complemented)",
                    bed_path, int(unstranded.sum()), len(bed), why)
        bed.loc[unstranded, "strand"] = "+"
    return bed


def _open_genome(genome_path: Path, index_dir: Path) -> pyfaidx.Fasta:
    index = genome_path.with_name(genome_path.name + ".fai")
    if index.is_file() and index.stat().st_mtime >= genome_path.stat().st_mtime:
        return pyfaidx.Fasta(str(genome_path), rebuild=False)
    log.info("%s: no up-to-date .fai next to the genome; indexing it in %s", genome_path, index_dir)
    return pyfaidx.Fasta(str(genome_path), indexname=str(index_dir / index.name), rebuild=False)


def read_bed_regions(
    bed_path: str | Path, genome_path: str | Path, extra_names: list[str] | None = None,
    require_strand: bool = False,
) -> pd.DataFrame:
    """Sequences of the BED regions: columns id, sequence, chrom, start, end, strand, line, + extras.

    ``id`` is the BED name (or ``chrom:start-end(strand)`` without one); minus-strand
    regions are reverse-complemented. end <= start, an end past the chromosome end, an
    unknown chromosome or a bad strand raise LyraInputError naming the BED line, and so
    does a region without a strand under ``require_strand`` (see :func:`read_bed`).
    """
    bed_path, genome_path = Path(bed_path), Path(genome_path)
    for path in (bed_path, genome_path):
        if not path.is_file():
            raise LyraInputError(path, "file", "no such file")
    bed = read_bed(bed_path, extra_names, require_strand)
    with tempfile.TemporaryDirectory(prefix="lyra-faidx-") as index_dir:
        try:
            genome = _open_genome(genome_path, Path(index_dir))
        except UnicodeDecodeError:
            raise decode_error(genome_path) from None
        except (pyfaidx.FastaIndexingError, pyfaidx.UnsupportedCompressionFormat, ValueError) as err:
            raise LyraInputError(genome_path, "genome index", str(err)) from None
        with genome:
            sequences = []
            for row in bed.itertuples(index=False):
                where = f"line {row.line}"
                if row.chrom not in genome:
                    raise LyraInputError(
                        bed_path, where, f"chromosome {row.chrom!r} is not in {genome_path.name} "
                        f"(it has {', '.join(list(genome.keys())[:5])}{' ...' if len(genome.keys()) > 5 else ''})"
                    )
                size = len(genome[row.chrom])
                if row.end <= row.start:
                    raise LyraInputError(bed_path, where, f"end {row.end} <= start {row.start}")
                if row.end > size:
                    raise LyraInputError(
                        bed_path, where, f"end {row.end} is past the end of {row.chrom} ({size} bp)"
                    )
                if row.strand not in ("+", "-"):
                    raise LyraInputError(bed_path, where, f"strand {row.strand!r} is not +, - or .")
                try:
                    sequences.append(
                        genome.get_seq(row.chrom, row.start + 1, row.end, rc=row.strand == "-").seq
                    )
                except UnicodeDecodeError:
                    raise decode_error(genome_path) from None
    bed["sequence"] = sequences
    if "name" in bed:
        bed["id"] = bed["name"]
    else:
        bed["id"] = [f"{r.chrom}:{r.start}-{r.end}({r.strand})" for r in bed.itertuples()]
    first = ["id", "sequence", "chrom", "start", "end", "strand", "line"]
    bed = bed[first + [c for c in bed.columns if c not in first]]
    bed.attrs["source"] = str(bed_path)
    return bed
