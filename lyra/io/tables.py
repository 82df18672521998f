"""Read delimited tables (csv/tsv) robustly: gzip/zip, BOM, CRLF or CR-only line ends."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from lyra.errors import LyraInputError

_SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": "\t"}
_COMPRESSED_SUFFIXES = {".gz", ".zip"}


def compression_of(path: Path) -> str | None:
    """'gzip' or 'zip' from the file's magic bytes, else None."""
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic[:2] == b"\x1f\x8b":
        return "gzip"
    if magic == b"PK\x03\x04":
        return "zip"
    return None


def _read_bytes(path: Path) -> bytes:
    """The file's content, decompressed (gzip, or the first member of a zip)."""
    compression = compression_of(path)
    if compression == "gzip":
        import gzip

        with gzip.open(path, "rb") as handle:
            return handle.read()
    if compression == "zip":
        import zipfile

        with zipfile.ZipFile(path) as archive:
            return archive.read(archive.namelist()[0])
    return path.read_bytes()


def decode_error(path: str | Path, data: bytes | None = None) -> LyraInputError:
    """The LyraInputError for a file that is not UTF-8: the line, the byte and the fix.

    ``data`` is the (decompressed) content when the caller has it; otherwise the file is
    read again, which only happens once a reader has already failed to decode it.
    """
    path = Path(path)
    data = _read_bytes(path) if data is None else data
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = len(re.findall(rb"\r\n|\r|\n", data[: err.start])) + 1
        byte = data[err.start]
        return LyraInputError(
            path, f"line {line}",
            f"byte 0x{byte:02x} is not valid UTF-8 (a Windows-1252 or Latin-1 character?); "
            "save the file as UTF-8",
        )
    return LyraInputError(path, "file", "cannot be decoded as UTF-8; save the file as UTF-8")


def infer_separator(path: Path) -> str:
    """Column separator from the extension (.csv -> ',', .tsv/.tab/.txt -> tab)."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in _COMPRESSED_SUFFIXES]
    if suffixes and suffixes[-1] in _SEPARATORS:
        return _SEPARATORS[suffixes[-1]]
    raise LyraInputError(
        path, "file name", f"cannot infer the column separator from the extension; "
        f"name the file {', '.join(_SEPARATORS)} or set input.format"
    )


def normalise_header(name: str) -> str:
    """Collapse every whitespace run (including embedded CR/LF) to one space and strip."""
    return re.sub(r"\s+", " ", str(name)).strip()


def table_line(table: pd.DataFrame, label) -> int:
    """1-based line number in the source file of the row with index ``label``.

    Exact unless a quoted data field earlier in the file spans several lines.
    """
    return int(label) + table.attrs["first_data_line"]


def read_table(
    path: str | Path,
    sep: str | None = None,
    header: bool = True,
    column_names: list[str] | None = None,
) -> pd.DataFrame:
    """Read a delimited table as strings (dtype str, NA kept as NaN).

    The index is the 0-based data row, so :func:`table_line` gives the file line;
    ``attrs`` holds ``source`` and ``first_data_line``. Header names are normalised
    with :func:`normalise_header`; headerless tables take ``column_names`` or are
    named col1, col2, ... Empty and header-only files raise LyraInputError.
    """
    path = Path(path)
    if not path.is_file():
        raise LyraInputError(path, "file", "no such file")
    if path.stat().st_size == 0:
        raise LyraInputError(path, "line 1", "file is empty")
    sep = sep or infer_separator(path)
    try:
        table = pd.read_csv(
            path,
            sep=sep,
            header=0 if header else None,
            compression=compression_of(path),
            encoding="utf-8-sig",
            dtype=str,
            keep_default_na=True,
            skip_blank_lines=True,
        )
    except pd.errors.EmptyDataError:
        raise LyraInputError(path, "line 1", "file is empty") from None
    except UnicodeDecodeError:
        # pandas reports an offset into its read buffer; locate the byte in the file
        raise decode_error(path) from None
    except pd.errors.ParserError as err:
        raise LyraInputError(path, "parsing", str(err).strip()) from None
    # Quoted header names may span lines; count those breaks so line numbers stay exact.
    header_breaks = sum(len(re.findall(r"\r\n|\r|\n", str(c))) for c in table.columns) if header else 0
    first_data_line = 2 + header_breaks if header else 1
    if table.empty:
        what = "no data rows after the header" if header else "no data rows"
        raise LyraInputError(path, f"line {first_data_line}", what)
    if column_names is not None:
        if len(column_names) != table.shape[1]:
            raise LyraInputError(
                path, "line 1",
                f"column_names has {len(column_names)} names but the file has {table.shape[1]} columns",
            )
        table.columns = column_names
    elif not header:
        table.columns = [f"col{i + 1}" for i in range(table.shape[1])]
    table.columns = [normalise_header(c) for c in table.columns]
    table.attrs["source"] = str(path)
    table.attrs["first_data_line"] = first_data_line
    return table
