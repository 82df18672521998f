"""Per-position input features: a task's ``encoding`` list turned into a map from one-hot
``x`` (n, L, A) to features (n, L, E) (docs/task-config.md, "Encodings").

Each part maps a position's one-hot vector (or its embedding) to some channels, and the
parts are concatenated in the order listed:

- ``onehot``: the one-hot itself (A channels);
- ``blosum62``: protein only - the residue's row of BLOSUM62 against the 20 amino acids
  (Henikoff & Henikoff 1992, the matrix shipped with Biopython,
  ``Bio.Align.substitution_matrices.load("BLOSUM62")``), divided by 4 so its entries
  are about unit scale. Unlike one-hot, similar residues get similar vectors, so what is
  learned at one position carries to substitutions never seen there;
- ``{aaindex: [code, ...]}``: protein only, one channel per AAindex1 index (Kawashima
  et al. 2008; the database shipped with the ``aaindex`` package, extra
  ``descriptors``), each standardised over the 20 amino acids (e.g. KYTJ820101,
  Kyte-Doolittle hydropathy);
- ``{embeddings: path, key: id | sequence}``: precomputed per-residue embeddings read
  from a ``.npz`` file with arrays ``keys`` (n,) and ``values`` (n, L_file, E), rows
  found by record id or by sequence (after crop). A key not in the file, a file
  without those arrays or of the wrong shape is a LyraInputError naming the file.

Linear maps of the one-hot (one-hot, BLOSUM62, AAindex) send padding (an all-zero vector) to
zero, and embeddings are zeroed past each sequence's end, so padding stays zero and
every model - neural or ridge - takes the features as it takes one-hot (d_input = E).
"""

from __future__ import annotations

from functools import lru_cache
import numpy as np
import torch

from lyra.data.alphabets import get_alphabet
from lyra.data.encode import CodedInputs, dense
from lyra.errors import LyraInputError

TABLES = ("onehot", "blosum62")
BLOSUM_SCALE = 4.0


def blosum62_table(alphabet: str) -> np.ndarray:
    """(A, 20) float32: row ``i`` is BLOSUM62 of the alphabet's letter ``i`` against the
    20 amino acids (alphabet order), divided by ``BLOSUM_SCALE``."""
    if alphabet != "protein":
        raise ValueError(f"encoding blosum62 is for protein tasks, not {alphabet}")
    from Bio.Align import substitution_matrices

    matrix = substitution_matrices.load("BLOSUM62")
    letters = get_alphabet(alphabet).letters
    return np.array([[matrix[a, b] for b in letters] for a in letters], dtype=np.float32) / BLOSUM_SCALE


def aaindex_table(codes: list[str], alphabet: str) -> np.ndarray:
    """(A, len(codes)) float32: each AAindex1 index over the alphabet's letters, standardised
    to mean 0 and standard deviation 1 over the 20 amino acids."""
    if alphabet != "protein":
        raise ValueError(f"encoding aaindex is for protein tasks, not {alphabet}")
    try:
        from aaindex import aaindex1
    except ImportError:
        raise ValueError("encoding aaindex needs the aaindex package: pip install 'lyra-workflow[descriptors]'") from None
    letters, columns = get_alphabet(alphabet).letters, []
    for code in codes:
        if code not in aaindex1:
            raise ValueError(f"unknown AAindex1 index {code!r}")
        values = aaindex1[code].values
        missing = [a for a in letters if values.get(a) is None]
        if missing:
            raise ValueError(f"AAindex1 index {code} has no value for {missing}")
        column = np.array([values[a] for a in letters], dtype=np.float64)
        columns.append((column - column.mean()) / column.std())
    return np.stack(columns, axis=1).astype(np.float32)


@lru_cache(maxsize=4)
def _read_embeddings(path: str) -> tuple[dict, np.ndarray]:
    """The file's {key: row} index and its (n, L, E) values, checked."""
    try:
        with np.load(path, allow_pickle=False) as data:
            files = list(data.files)
            arrays = {name: data[name] for name in ("keys", "values") if name in files}
    except (OSError, ValueError) as error:
        raise LyraInputError(path, "file", f"cannot read embeddings: {error}") from None
    if len(arrays) < 2:
        raise LyraInputError(path, "arrays", f"an embeddings file needs arrays 'keys' and 'values'; has {files}")
    keys, values = arrays["keys"], arrays["values"]
    if values.ndim != 3 or keys.ndim != 1 or len(keys) != len(values):
        raise LyraInputError(path, "arrays", f"'values' must be (n, L, E) with one row per entry of 'keys' (n,); "
                             f"got keys {keys.shape} and values {values.shape}")
    index = {str(key): row for row, key in enumerate(keys.tolist())}
    if len(index) != len(keys):
        raise LyraInputError(path, "array 'keys'", f"{len(keys) - len(index)} duplicate keys")
    return index, values


class Encoder:
    """Map one-hot ``x`` (n, L, A) and ``mask`` (n, L) of the given rows to (n, L, E) features."""

    def __init__(self, encoding: list, alphabet: str):
        self.encoding, self.alphabet = [_normalised(part) for part in encoding], alphabet
        self.n_letters = len(get_alphabet(alphabet).letters)
        for part in self.encoding:
            if isinstance(part, str) and part not in TABLES:
                raise ValueError(f"unknown encoding {part!r}; choose from {list(TABLES)} or {{embeddings: path}}")
            if part == "blosum62":
                blosum62_table(alphabet)  # fails early for a nucleic-acid task
            if isinstance(part, dict) and "aaindex" in part:
                aaindex_table(part["aaindex"], alphabet)

    @property
    def is_identity(self) -> bool:
        return self.encoding == ["onehot"]

    def width(self) -> int:
        """Channels E of the features (the models' d_input)."""
        total = 0
        for part in self.encoding:
            if part == "onehot":
                total += self.n_letters
            elif part == "blosum62":
                total += 20
            elif "aaindex" in part:
                total += len(part["aaindex"])
            else:
                total += _read_embeddings(part["embeddings"])[1].shape[2]
        return total

    def __call__(self, x: torch.Tensor, mask: torch.Tensor, ids: list[str], sequences: list[str]) -> torch.Tensor:
        if self.is_identity:
            return x
        parts = []
        for part in self.encoding:
            if part == "onehot":
                parts.append(x)
            elif part == "blosum62":
                parts.append(x @ torch.from_numpy(blosum62_table(self.alphabet)))
            elif "aaindex" in part:
                parts.append(x @ torch.from_numpy(aaindex_table(part["aaindex"], self.alphabet)))
            else:
                keys = ids if part.get("key", "id") == "id" else sequences
                parts.append(_embeddings(part["embeddings"], list(keys), mask))
        return torch.cat(parts, dim=-1)

    @property
    def per_letter(self) -> bool:
        """Whether every part is a map of the letter alone (no embeddings from a file)."""
        return all(isinstance(part, str) or "aaindex" in part for part in self.encoding)

    def features(self, onehot: CodedInputs, ids: list[str]):
        """(features, mask) of the rows of ``onehot`` (``lyra.data.encode.CodedInputs``): still one
        byte per position when the encoding is per letter (the features of each letter
        code as its table), else the full tensors (embeddings are read per row, by id or by
        the sequences the codes spell)."""
        if self.per_letter:
            table = onehot.table
            features = onehot.with_table(self(table[:, None, :], torch.ones(len(table), 1, dtype=torch.bool),
                                              [""] * len(table), [""] * len(table))[:, 0].contiguous())
            return features, features.mask
        mask = dense(onehot.mask)
        return self(dense(onehot), mask, ids, onehot.sequences()), mask

    def to_dict(self) -> list:
        return list(self.encoding)


def _normalised(part):
    return part if isinstance(part, str) or "aaindex" in part else {"key": "id", **part}


def _embeddings(path: str, keys: list[str], mask: torch.Tensor) -> torch.Tensor:
    """(n, L, E) rows of the embeddings file for ``keys``, zero past each sequence's end."""
    index, values = _read_embeddings(path)
    missing = [k for k in keys if k not in index]
    if missing:
        raise LyraInputError(path, f"key '{missing[0]}'", f"{len(missing)} of {len(keys)} rows have no embedding "
                             f"in this file (keys are matched exactly)")
    width = mask.shape[1]
    lengths = mask.sum(1)
    if len(keys) and int(lengths.max()) > values.shape[1]:
        row = int(lengths.argmax())
        raise LyraInputError(path, f"key '{keys[row]}'", f"the embeddings have {values.shape[1]} positions but the "
                             f"sequence has {int(lengths[row])} residues")
    rows = values[[index[k] for k in keys], :width].astype(np.float32)
    out = torch.zeros((len(keys), width, values.shape[2]))
    out[:, : rows.shape[1]] = torch.from_numpy(rows)
    return out * mask.unsqueeze(-1)


def encoder_for(encoding: list | None, alphabet: str) -> Encoder:
    """The task's encoder (``Task.encoding``; None or missing: one-hot)."""
    return Encoder(list(encoding or ["onehot"]), alphabet)
