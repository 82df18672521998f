"""Validate sequences against an alphabet and one-hot encode them (vectorised)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import torch

from lyra.alphabets import Alphabet, get_alphabet
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
    chars, offsets = _codepoints(seqs)
    lengths = np.diff(offsets)
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
    record_of = np.repeat(np.arange(len(seqs)), lengths)

    lower = (chars >= ord("a")) & (chars <= ord("z"))
    if lower.any():
        stats.n_lowercase_letters = int(lower.sum())
        stats.n_lowercase_records = int(np.unique(record_of[lower]).size)
        chars = np.where(lower, chars - 32, chars)
    if t_as_u:
        if alpha.name != "rna":
            raise ValueError("t_as_u applies to the rna alphabet only")
        is_t = chars == ord("T")
        stats.n_t_as_u_letters = int(is_t.sum())
        chars = np.where(is_t, np.uint32(ord("U")), chars)

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
        raise LyraInputError(source, where(i), problem)
    is_ambiguous = category == _AMBIGUOUS
    if is_ambiguous.any():
        stats.n_ambiguous_letters = int(is_ambiguous.sum())
        stats.n_ambiguous_records = int(np.unique(record_of[is_ambiguous]).size)

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
    text = chars.astype(np.uint8).tobytes().decode("ascii")
    out = [text[offsets[i] : offsets[i + 1]] for i in range(len(seqs))]
    return out, stats


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
    (``ambiguous="zero"``) or 1/A everywhere (``"uniform"``).
    """
    _check_policy(ambiguous)
    alpha = get_alphabet(alphabet)
    n_channels = len(alpha.letters)
    seqs = list(seqs)
    chars, offsets = _codepoints(seqs)
    lengths = np.diff(offsets)
    longest = int(lengths.max()) if len(seqs) else 0
    width = longest if length is None else length
    if longest > width:
        raise ValueError(f"a sequence has length {longest}, longer than length={width}")

    category = np.where(chars < 256, _category_table(alpha)[np.minimum(chars, 255)], _INVALID)
    encodable = category == _CANONICAL
    if ambiguous != "error":
        encodable |= category == _AMBIGUOUS
    if not encodable.all():
        k = int(np.argmax(~encodable))
        raise ValueError(
            f"character {chr(int(chars[k]))!r} cannot be encoded in the {alpha.name} alphabet "
            f"with ambiguous={ambiguous!r}; run normalise_sequences first"
        )

    # Per-letter row of a small (A + 2, A) table: A letters, ambiguity code, padding.
    ambiguous_row, padding_row = n_channels, n_channels + 1
    row_of = np.full(256, ambiguous_row, dtype=np.uint8)
    row_of[np.frombuffer(alpha.letters.encode(), dtype=np.uint8)] = np.arange(n_channels)
    table = np.zeros((n_channels + 2, n_channels), dtype=np.float32)
    table[:n_channels] = np.eye(n_channels, dtype=np.float32)
    if ambiguous == "uniform":
        table[ambiguous_row] = 1.0 / n_channels

    codes = np.full((len(seqs), width), padding_row, dtype=np.uint8)
    mask = np.arange(width)[None, :] < lengths[:, None]
    codes[mask] = row_of[chars]
    x = torch.from_numpy(table[codes])
    mask = torch.from_numpy(mask)
    return x, mask
