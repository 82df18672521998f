"""Validate sequences against an alphabet and one-hot encode them (vectorised)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch

from lyra.data.alphabets import Alphabet, get_alphabet
from lyra.errors import LyraInputError

log = logging.getLogger(__name__)

AMBIGUOUS_POLICIES = ("error", "zero", "uniform")

_INVALID, _CANONICAL, _AMBIGUOUS = 0, 1, 2


@dataclass
class EncodeStats:
    """Counts of what normalisation changed or tolerated."""

    n_records: int = 0
    n_lowercase_records: int = 0
    n_lowercase_letters: int = 0
    n_ambiguous_records: int = 0
    n_ambiguous_letters: int = 0
    n_t_as_u_letters: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def _codepoints(seqs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """All sequences concatenated as uint32 code points, plus their start offsets (n+1)."""
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    chars = np.frombuffer("".join(seqs).encode("utf-32-le"), dtype=np.uint32)
    return chars, offsets


def _category_table(alphabet: Alphabet) -> np.ndarray:
    table = np.full(256, _INVALID, dtype=np.uint8)
    table[np.frombuffer(alphabet.letters.encode(), dtype=np.uint8)] = _CANONICAL
    table[np.frombuffer(alphabet.ambiguous.encode(), dtype=np.uint8)] = _AMBIGUOUS
    return table


def _check_policy(ambiguous: str) -> None:
    if ambiguous not in AMBIGUOUS_POLICIES:
        raise ValueError(f"ambiguous must be one of {AMBIGUOUS_POLICIES}, not {ambiguous!r}")


def _looks_like(sequence: str, alpha: Alphabet) -> str | None:
    """'protein' when over a quarter of a sequence read as dna/rna is letters other than
    A, C, G, T, U and N: a protein file given the wrong alphabet, whose letters such as K would otherwise
    read as ambiguity codes. None otherwise."""
    if alpha.name == "protein":
        return None
    letters = sequence.upper()
    protein = get_alphabet("protein")
    foreign = sum(c not in "ACGTUN" for c in letters)  # T in rna has its own hint (t_as_u)
    if letters and foreign / len(letters) > 0.25 and all(c in protein.letters + protein.ambiguous for c in letters):
        return "protein"
    return None


def normalise_sequences(
    seqs: Sequence[str],
    ids: Sequence[str],
    alphabet: str,
    ambiguous: str = "error",
    t_as_u: bool = False,
    source: str = "<input>",
    max_length: int | None = None,
    locations: Sequence[str] | None = None,
    min_length: int | None = None,
    length: int | None = None,
    ambiguous_allowed: Sequence[str] | None = None,
) -> tuple[list[str], EncodeStats]:
    """Upper-case and validate sequences against ``alphabet``.

    Lower-case letters are accepted and counted; ambiguity codes are counted and
    rejected only under ``ambiguous="error"`` (or, with ``ambiguous_allowed``, when not
    among those codes); with ``t_as_u`` (rna) T is read as U. Any other character, an
    empty sequence, one longer than ``max_length``, shorter than ``min_length`` or of a
    length other than ``length`` raises :class:`LyraInputError` naming the record
    (``locations[i]`` when given, else ``record '<id>'``), the 1-based position and the
    character.
    """
    _check_policy(ambiguous)
    alpha = get_alphabet(alphabet)
    allowed = None
    if ambiguous_allowed is not None:
        allowed = "".join(str(c).upper() for c in ambiguous_allowed)
        foreign = [c for c in allowed if c not in alpha.ambiguous]
        if foreign:
            raise LyraInputError("config", "key ambiguous_allowed",
                                 f"{foreign} are not {alpha.name} ambiguity codes ({alpha.ambiguous})")
        if ambiguous == "error":
            raise LyraInputError("config", "key ambiguous_allowed",
                                 "is set but ambiguous is error (every code rejected); "
                                 "set ambiguous: zero or uniform")
    seqs = [str(s) for s in seqs]
    ids = [str(i) for i in ids]

    def where(i: int) -> str:
        return locations[i] if locations is not None else f"record '{ids[i]}'"

    stats = EncodeStats(n_records=len(seqs))
    if not seqs:
        return [], stats
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))

    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        raise LyraInputError(source, where(int(empty[0])), "empty sequence")
    # (limit, rows that break it, message): the first offending record is the error
    length_rules = [
        (length, lambda: lengths != length,
         lambda n, k: f"sequence length {n}, but every sequence must have length {length} (key length); "
                      f"{k} sequences differ"),
        (min_length, lambda: lengths < min_length,
         lambda n, k: f"sequence length {n} is below min_length {min_length}; {k} sequences are shorter"),
        (max_length, lambda: lengths > max_length,
         lambda n, k: f"sequence length {n} exceeds max_length {max_length}"),
    ]
    for limit, offends, message in length_rules:
        if limit is None:
            continue
        bad = np.flatnonzero(offends())
        if bad.size:
            i = int(bad[0])
            raise LyraInputError(source, where(i), message(lengths[i], bad.size))
    out: list[str] = []
    for first, last in _row_chunks(lengths):  # a bounded block of 4-byte code points at a time
        chunk = seqs[first:last]
        chars, offsets = _codepoints(chunk)
        chars, changed = _normalise_chunk(chars, offsets, chunk, first, alpha, ambiguous, allowed, t_as_u, stats,
                                   source, where)
        if changed:
            text = chars.astype(np.uint8).tobytes().decode("ascii")
            out.extend(text[offsets[i] : offsets[i + 1]] for i in range(len(chunk)))
        else:  # nothing changed: the strings as given, not a second copy
            out.extend(chunk)

    if stats.n_lowercase_letters:
        log.info(
            "%s: upper-cased %d lower-case letters in %d records",
            source, stats.n_lowercase_letters, stats.n_lowercase_records,
        )
    if stats.n_t_as_u_letters:
        log.info("%s: read %d T letters as U (t_as_u)", source, stats.n_t_as_u_letters)
    if stats.n_ambiguous_letters:
        log.info(
            "%s: %d ambiguous letters in %d records, encoded as %s",
            source, stats.n_ambiguous_letters, stats.n_ambiguous_records, ambiguous,
        )
    return out, stats


_CHUNK_LETTERS = 1 << 24  # letters encoded at a time: bounds the 4-byte code points held at once


def _row_chunks(lengths: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive row ranges of about ``_CHUNK_LETTERS`` letters each (at least one row)."""
    bounds, start, total = [], 0, 0
    for i, n in enumerate(lengths.tolist()):
        total += n
        if total >= _CHUNK_LETTERS:
            bounds.append((start, i + 1))
            start, total = i + 1, 0
    if start < len(lengths):
        bounds.append((start, len(lengths)))
    return bounds


PAD = 0  # the code of a padding position: no letter has byte 0


def letter_codes(
    seqs: Sequence[str],
    alphabet: str,
    ambiguous: str = "error",
    length: int | None = None,
) -> torch.Tensor:
    """Normalised sequences as one byte per position: uint8 (n, L) holding each letter's
    ASCII code (ambiguity codes too, so ``decode_codes`` gives the sequences back exactly)
    and ``PAD`` (0) past each sequence's end (right-padded to the longest sequence or to
    ``length``). Encoded in chunks of rows, so nothing larger than the result is held."""
    _check_policy(ambiguous)
    alpha = get_alphabet(alphabet)
    seqs = list(seqs)
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    longest = int(lengths.max()) if len(seqs) else 0
    width = longest if length is None else length
    if longest > width:
        raise ValueError(f"a sequence has length {longest}, longer than length={width}")
    category_of = _category_table(alpha)
    codes = np.empty((len(seqs), width), dtype=np.uint8)  # pages filled block by block
    for first, last in _row_chunks(lengths):
        chars, _ = _codepoints(seqs[first:last])
        category = np.where(chars < 256, category_of[np.minimum(chars, 255)], _INVALID)
        encodable = category == _CANONICAL
        if ambiguous != "error":
            encodable |= category == _AMBIGUOUS
        if not encodable.all():
            k = int(np.argmax(~encodable))
            raise ValueError(
                f"character {chr(int(chars[k]))!r} cannot be encoded in the {alpha.name} alphabet "
                f"with ambiguous={ambiguous!r}; run normalise_sequences first"
            )
        block = codes[first:last]
        block.fill(PAD)
        block[np.arange(width)[None, :] < lengths[first:last, None]] = chars.astype(np.uint8)
    return torch.from_numpy(codes)


def decode_codes(codes: torch.Tensor) -> list[str]:
    """The sequences of ``letter_codes`` rows (n, L), padding removed."""
    array = np.ascontiguousarray(codes.numpy())
    lengths = np.count_nonzero(array != PAD, axis=1)
    return [row[:n].tobytes().decode("ascii") for row, n in zip(array, lengths)]


def code_table(alphabet: str, ambiguous: str = "error") -> torch.Tensor:
    """(256, A) float32: the one-hot vector of each byte of ``letter_codes``; an ambiguity
    code's row is zero (``ambiguous="zero"``) or 1/A everywhere (``"uniform"``), padding's
    and every other byte's zero."""
    _check_policy(ambiguous)
    alpha = get_alphabet(alphabet)
    n_channels = len(alpha.letters)
    table = np.zeros((256, n_channels), dtype=np.float32)
    table[np.frombuffer(alpha.letters.encode(), dtype=np.uint8)] = np.eye(n_channels, dtype=np.float32)
    if ambiguous == "uniform":
        table[np.frombuffer(alpha.ambiguous.encode(), dtype=np.uint8)] = 1.0 / n_channels
    return torch.from_numpy(table)


class CodedInputs:
    """Sequences held as ``letter_codes`` (one byte per position) that read as the float
    features ``table[codes]`` (n, L, E): indexing rows (and a position slice) builds the
    features of those rows only, so a batch costs its own size and the set one byte per
    position. ``mask`` reads the same way (True on real positions). ``subset`` views some
    rows without copying the codes."""

    def __init__(self, codes: torch.Tensor, table: torch.Tensor, rows: torch.Tensor | None = None):
        self.codes, self.table, self.rows = codes, table, rows
        self.shape = (len(codes) if rows is None else len(rows), codes.shape[1], table.shape[1])
        self.mask = _CodedMask(self)

    def __len__(self) -> int:
        return self.shape[0]

    def letters(self, key) -> torch.Tensor:
        """The codes of rows (and positions) ``key``."""
        if self.rows is None:
            return self.codes[key]
        if isinstance(key, tuple):
            return self.codes[(self.rows[key[0]],) + key[1:]]
        return self.codes[self.rows[key]]

    def __getitem__(self, key) -> torch.Tensor:
        return self.table[self.letters(key).long()]

    def subset(self, rows) -> "CodedInputs":
        """The rows ``rows`` (a view: the codes are shared)."""
        rows = torch.as_tensor(rows, dtype=torch.long)
        return CodedInputs(self.codes, self.table, rows if self.rows is None else self.rows[rows])

    def with_table(self, table: torch.Tensor) -> "CodedInputs":
        """The same rows read through another (256, E) table (features of each letter)."""
        return CodedInputs(self.codes, table, self.rows)

    def sequences(self, rows=slice(None)) -> list[str]:
        """The sequences of rows ``rows`` (all by default) as text."""
        return decode_codes(self.letters(rows))

    def blocks(self, letters: int | None = None) -> list[slice]:
        """Consecutive row ranges of about ``letters`` positions each (``_CHUNK_LETTERS`` by
        default; at least one row), for work over every row that holds one block at a time."""
        rows = max(1, (letters or _CHUNK_LETTERS) // max(1, self.shape[1]))
        return [slice(start, start + rows) for start in range(0, len(self), rows)]

    def lengths(self) -> np.ndarray:
        """(n,) the length of each row's sequence, counted a block of rows at a time."""
        return np.concatenate([np.count_nonzero(self.letters(rows).numpy() != PAD, axis=1)
                               for rows in self.blocks()] or [np.zeros(0, dtype=np.int64)])


class _CodedMask:
    """The mask of a ``CodedInputs``, read per row as its features are."""

    def __init__(self, inputs: CodedInputs):
        self.inputs, self.shape = inputs, inputs.shape[:2]

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> torch.Tensor:
        return self.inputs.letters(key) != PAD


def dense(values) -> torch.Tensor:
    """A full tensor of features or mask (``CodedInputs`` or its ``mask`` built for every
    row: n x L x E floats); a tensor as it is."""
    return values if isinstance(values, torch.Tensor) else values[:]


def coded_inputs(seqs: Sequence[str], alphabet: str, ambiguous: str = "error",
                 length: int | None = None) -> CodedInputs:
    """Normalised sequences as ``CodedInputs``: one byte per position, features per batch."""
    return CodedInputs(letter_codes(seqs, alphabet, ambiguous, length), code_table(alphabet, ambiguous))


def one_hot(
    seqs: Sequence[str],
    alphabet: str,
    ambiguous: str = "error",
    length: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One-hot encode normalised sequences.

    Returns ``x`` (float32, shape (n, L, A), channels in alphabet order) and ``mask``
    (bool, shape (n, L), True on real positions); sequences are right-padded with zero
    vectors to the longest one or to ``length``. Ambiguity codes become a zero vector
    (``ambiguous="zero"``) or 1/A everywhere (``"uniform"``). The full tensor:
    ``CodedInputs`` holds the same at one byte per position.
    """
    inputs = coded_inputs(seqs, alphabet, ambiguous, length)
    return dense(inputs), dense(inputs.mask)



def _normalise_chunk(chars: np.ndarray, offsets: np.ndarray, seqs: list[str], first: int, alpha: Alphabet,
                     ambiguous: str, allowed: str | None, t_as_u: bool, stats: EncodeStats, source: str,
                     where) -> tuple[np.ndarray, bool]:
    """Validate the code points ``chars`` of the rows ``seqs`` (from row ``first`` of the
    input) and add to ``stats``; returns the code points upper-cased (and T read as U) and
    whether a letter changed."""
    lengths = np.diff(offsets)
    changed = False
    record_of = np.repeat(np.arange(len(seqs)), lengths)

    lower = (chars >= ord("a")) & (chars <= ord("z"))
    if lower.any():
        stats.n_lowercase_letters += int(lower.sum())
        stats.n_lowercase_records += int(np.unique(record_of[lower]).size)
        chars, changed = np.where(lower, chars - 32, chars), True
    if t_as_u:
        if alpha.name != "rna":
            raise ValueError("t_as_u applies to the rna alphabet only")
        is_t = chars == ord("T")
        stats.n_t_as_u_letters += int(is_t.sum())
        if is_t.any():
            chars, changed = np.where(is_t, np.uint32(ord("U")), chars), True

    table = _category_table(alpha)
    category = np.where(chars < 256, table[np.minimum(chars, 255)], _INVALID)
    bad = category == _INVALID
    if ambiguous == "error":
        bad |= category == _AMBIGUOUS
    elif allowed is not None:
        permitted = np.zeros(256, dtype=bool)
        permitted[np.frombuffer(allowed.encode(), dtype=np.uint8)] = True
        bad |= (category == _AMBIGUOUS) & ~permitted[np.minimum(chars, 255)]
    if bad.any():
        k = int(np.argmax(bad))
        i = int(record_of[k])
        position = k - int(offsets[i]) + 1
        char = chr(int(chars[k]))
        other = _looks_like(seqs[i], alpha)
        if other:
            problem = (
                f"letter '{char}' at position {position}: the sequence looks like {other}, not {alpha.name}; "
                f"set alphabet: {other} (lyra train: --alphabet {other})"
            )
        elif category[k] == _AMBIGUOUS and allowed is not None:
            problem = (
                f"ambiguous letter '{char}' at position {position} is not in ambiguous_allowed "
                f"[{', '.join(allowed)}]"
            )
        elif category[k] == _AMBIGUOUS:
            problem = (
                f"ambiguous letter '{char}' at position {position}; set ambiguous: zero or "
                "uniform to accept ambiguity codes"
            )
        else:
            hint = " (set t_as_u: true to read T as U)" if alpha.name == "rna" and char == "T" else ""
            problem = (
                f"character '{char}' at position {position} is not in the {alpha.name} "
                f"alphabet {alpha.letters} (ambiguity codes {alpha.ambiguous}){hint}"
            )
        raise LyraInputError(source, where(first + i), problem)
    is_ambiguous = category == _AMBIGUOUS
    if is_ambiguous.any():
        stats.n_ambiguous_letters += int(is_ambiguous.sum())
        stats.n_ambiguous_records += int(np.unique(record_of[is_ambiguous]).size)
    return chars, changed
