"""Read FASTA files (plain or gzip) into a table, with key=value header tokens as columns."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pandas as pd
from Bio.SeqIO.FastaIO import SimpleFastaParser

from lyra.errors import LyraInputError
from lyra.io.tables import compression_of, decode_error


def _read_text(path: Path) -> str:
    opener = gzip.open if compression_of(path) == "gzip" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise decode_error(path, data) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_header_fields(description: str) -> dict[str, str]:
    """``key=value`` tokens of a FASTA header description (``label=ei TARGET=0.5``)."""
    fields = {}
    for token in description.split():
        key, sep, value = token.partition("=")
        if sep and key:
            fields[key] = value
    return fields


def read_fasta(path: str | Path) -> pd.DataFrame:
    """Read a FASTA file into columns id, sequence, description, line, + header fields.

    ``line`` is the 1-based line of each record's header. Text before the first '>',
    a record without sequence (including a truncated last record), an empty file and
    duplicate ids raise LyraInputError naming the record.
    """
    path = Path(path)
    if not path.is_file():
        raise LyraInputError(path, "file", "no such file")
    text = _read_text(path)
    lines = text.splitlines()
    content = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    if not content:
        raise LyraInputError(path, "line 1", "file is empty")
    first_line, first = content[0]
    if not first.startswith(">"):
        raise LyraInputError(
            path, f"line {first_line}", f"text before the first '>' header: {first[:40]!r}"
        )
    header_lines = [n for n, line in content if line.startswith(">")]

    rows = []
    seen: dict[str, int] = {}
    records = list(SimpleFastaParser(io.StringIO(text)))
    for k, ((title, sequence), line) in enumerate(zip(records, header_lines)):
        record_id, _, description = title.strip().partition(" ")
        location = f"record '{record_id}' (line {line})"
        if not record_id:
            raise LyraInputError(path, f"line {line}", "header has no id after '>'")
        if not sequence:
            problem = (
                "truncated last record: header with no sequence at the end of the file"
                if k == len(records) - 1
                else "empty record: header with no sequence"
            )
            raise LyraInputError(path, location, problem)
        if record_id in seen:
            raise LyraInputError(
                path, location, f"duplicate id '{record_id}' (first seen at line {seen[record_id]})"
            )
        seen[record_id] = line
        rows.append(
            {**parse_header_fields(description), "id": record_id, "sequence": sequence,
             "description": description.strip(), "line": line}
        )
    table = pd.DataFrame(rows)
    table.attrs["source"] = str(path)
    return table
