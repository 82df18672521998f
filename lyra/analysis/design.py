"""What to measure next: a batch of variants chosen from an ensemble's predictions.

An acquisition turns the members' predictions (m members x n candidates) into a choice:

- ``greedy``: the ensemble mean;
- ``ucb``: mean + ``beta`` x std (population std across members, as ``lyra.ensemble``);
- ``thompson``: each slot of the batch draws one member at random and takes that
  member's best candidate still open (Thompson sampling over ensemble members).

``select_batch`` fills the batch in acquisition order, skipping a candidate that would
give some mutation (site-letter) more than ``max_per_mutation`` proposals. Candidates
already measured are removed by the caller (``design_batch``) before the choice, so a
batch never repeats a measured or a proposed variant.

Candidate spaces (``lyra design``): every combination of letters at named sites
(``site_combinations``), singles plus combinations of the best singles
(``singles_and_combinations``), or a file of variants (``lyra.variants.read_variants``).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from lyra.data.alphabets import get_alphabet
from lyra.analysis.ensemble import Ensemble
from lyra.errors import LyraInputError
from lyra.analysis.mutagenesis import apply_mutations, saturation_mutagenesis
from lyra.analysis.variants import Mutation, variant_name

ACQUISITIONS = ("greedy", "ucb", "thompson")
BATCH_COLUMNS = ["rank", "variant", "n_mutations", "mean", "std", "acquisition", "member"]


def acquisition_values(members: np.ndarray, acquisition: str, beta: float = 2.0) -> np.ndarray:
    """(n,) value of each candidate under ``greedy`` or ``ucb`` from ``members`` (m, n)."""
    if acquisition == "greedy":
        return members.mean(axis=0)
    if acquisition == "ucb":
        return members.mean(axis=0) + beta * members.std(axis=0)
    raise ValueError(f"acquisition {acquisition!r} has no single value per candidate; one of greedy, ucb")


def select_batch(members: np.ndarray, batch_size: int, acquisition: str, beta: float = 2.0,
                 rng: np.random.Generator | None = None, keys: np.ndarray | None = None,
                 max_per_mutation: int | None = None) -> pd.DataFrame:
    """The batch chosen from ``members`` (m, n) predictions (higher is better): columns
    ``index`` (candidate column), ``acquisition`` (its value when chosen) and ``member``
    (Thompson: the member drawn; else -1), in the order chosen.

    ``keys`` (n, k) ints name each candidate's mutations (-1: none); with
    ``max_per_mutation`` no key is proposed more often than that. ``rng`` draws the
    Thompson members. ValueError when the batch cannot be filled."""
    members = np.atleast_2d(np.asarray(members, dtype=np.float64))
    n = members.shape[1]
    if acquisition not in ACQUISITIONS:
        raise ValueError(f"unknown acquisition {acquisition!r}; one of {', '.join(ACQUISITIONS)}")
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    if batch_size > n:
        raise ValueError(f"batch size {batch_size} is larger than the {n} candidates not yet measured")
    if max_per_mutation is not None and max_per_mutation < 1:
        raise ValueError(f"max per mutation must be at least 1, got {max_per_mutation}")
    limit = max_per_mutation if keys is not None and max_per_mutation is not None else None
    counts: dict[int, int] = {}
    taken = np.zeros(n, dtype=bool)

    def allowed(i: int) -> bool:
        return limit is None or all(counts.get(k, 0) < limit for k in keys[i] if k >= 0)

    def take(i: int) -> None:
        taken[i] = True
        if limit is not None:
            for k in set(keys[i].tolist()):
                if k >= 0:
                    counts[k] = counts.get(k, 0) + 1

    chosen, values, drawn = [], [], []
    if acquisition == "thompson":
        rng = rng or np.random.default_rng(0)
        orders = [np.argsort(-row, kind="stable") for row in members]
        cursor = [0] * len(members)
        while len(chosen) < batch_size:
            member = int(rng.integers(len(members)))
            order = orders[member]
            while cursor[member] < n and (taken[order[cursor[member]]] or not allowed(order[cursor[member]])):
                cursor[member] += 1
            if cursor[member] == n:  # this member has nothing left; another may
                if all(c == n for c in cursor):
                    break
                continue
            i = int(order[cursor[member]])
            take(i)
            chosen.append(i), values.append(members[member, i]), drawn.append(member)
    else:
        value = acquisition_values(members, acquisition, beta)
        for i in np.argsort(-value, kind="stable"):
            if len(chosen) == batch_size:
                break
            if allowed(i):
                take(int(i))
                chosen.append(int(i)), values.append(value[i]), drawn.append(-1)
    if len(chosen) < batch_size:
        raise ValueError(f"only {len(chosen)} of {batch_size} proposals pass the diversity rule "
                         f"(at most {max_per_mutation} per mutation); raise it or lower the batch size")
    return pd.DataFrame({"index": chosen, "acquisition": values, "member": drawn})


def parse_sites(sites: list[str], reference: str, alphabet: str, source: str = "--sites") -> list[tuple[int, str]]:
    """(1-based position, wild-type letter) of each site written ``<wt><position>`` (``V40``),
    checked against ``reference``."""
    letters = get_alphabet(alphabet).letters
    parsed = []
    for site in sites:
        text = site.strip()
        wt, digits = text[:1].upper(), text[1:]
        if not digits.isdigit() or wt not in letters:
            raise LyraInputError(source, f"site '{text}'", f"not <wild type><position>, e.g. {reference[0]}1")
        position = int(digits)
        if not 1 <= position <= len(reference):
            raise LyraInputError(source, f"site '{text}'", f"position {position} is outside the reference "
                                 f"(1-{len(reference)})")
        if reference[position - 1] != wt:
            raise LyraInputError(source, f"site '{text}'", f"wild-type letter {wt} does not match the reference, "
                                 f"which has {reference[position - 1]} at {position}")
        if position in dict(parsed):
            raise LyraInputError(source, f"site '{text}'", "site named twice")
        parsed.append((position, wt))
    if not parsed:
        raise LyraInputError(source, "sites", "no site given")
    return parsed


def site_combinations(sites: list[tuple[int, str]], alphabet: str) -> list[tuple[Mutation, ...]]:
    """Every variant with any letter at each of ``sites`` (the wild type itself left out)."""
    letters = get_alphabet(alphabet).letters
    variants = []
    for choice in itertools.product(letters, repeat=len(sites)):
        mutations = tuple((p, wt, m) for (p, wt), m in zip(sites, choice) if m != wt)
        if mutations:
            variants.append(mutations)
    return variants


def singles_and_combinations(ensemble: Ensemble, reference: str, max_order: int, pool: int,
                             score_class: str | None = None, device: str | None = None) -> list[tuple[Mutation, ...]]:
    """Every single substitution of ``reference`` and every combination of 2..``max_order``
    of the ``pool`` singles with the best ensemble mean (at distinct positions)."""
    if max_order < 1 or pool < 1:
        raise ValueError("--max-order and --pool must be at least 1")
    singles = saturation_mutagenesis(ensemble, reference, score_class=score_class, device=device)
    mutations = [(p, w, m) for p, w, m in zip(singles["position"], singles["wt"], singles["mut"])]
    best = [mutations[i] for i in np.argsort(-singles["score"].to_numpy(), kind="stable")[:pool]]
    combos = [tuple(sorted(c)) for order in range(2, max_order + 1) for c in itertools.combinations(best, order)
              if len({p for p, _, _ in c}) == order]
    return [(m,) for m in mutations] + combos


def mutation_keys(variants: list[tuple[Mutation, ...]]) -> np.ndarray:
    """(n, k) integer id of each variant's mutations (-1 padding), for the diversity rule."""
    ids: dict[Mutation, int] = {}
    width = max((len(v) for v in variants), default=0)
    keys = np.full((len(variants), max(width, 1)), -1, dtype=np.int64)
    for row, variant in enumerate(variants):
        for column, mutation in enumerate(variant):
            keys[row, column] = ids.setdefault(mutation, len(ids))
    return keys


def measured_variants(sequences, reference: str) -> set[tuple[Mutation, ...]]:
    """The substitutions of ``reference`` that ``sequences`` spell, as sorted mutation
    tuples (the reference itself is the empty tuple); sequences of another length are not
    substitution variants of it and are left out."""
    measured = set()
    for sequence in sequences:
        if len(sequence) == len(reference):
            measured.add(tuple((i + 1, w, m) for i, (w, m) in enumerate(zip(reference, sequence)) if w != m))
    return measured


def design_batch(ensemble: Ensemble, reference: str, candidates: list[tuple[Mutation, ...]],
                 measured: set, batch_size: int, acquisition: str, beta: float = 2.0, seed: int = 0,
                 max_per_mutation: int | None = None, score_class: str | None = None,
                 device: str | None = None) -> pd.DataFrame:
    """The next batch (``BATCH_COLUMNS``) among ``candidates`` not in ``measured``, scored
    by ``ensemble`` (``mean``/``std`` across members) and chosen by ``select_batch``."""
    unique = list(dict.fromkeys(tuple(sorted(v)) for v in candidates))
    open_ = [v for v in unique if v not in measured]
    if not open_:
        raise ValueError(f"the candidate space is empty ({len(unique)} candidates, all measured)")
    if batch_size > len(open_):
        raise ValueError(f"batch size {batch_size} is larger than the {len(open_)} candidates not yet measured")
    members = ensemble.scores([apply_mutations(reference, v) for v in open_], score_class, device)
    batch = select_batch(members, batch_size, acquisition, beta, np.random.default_rng(seed),
                         mutation_keys(open_), max_per_mutation)
    rows = batch["index"].to_numpy()
    names = ensemble.names
    return pd.DataFrame({
        "rank": np.arange(1, len(rows) + 1),
        "variant": [variant_name(open_[i]) for i in rows],
        "n_mutations": [len(open_[i]) for i in rows],
        "mean": members.mean(axis=0)[rows],
        "std": members.std(axis=0)[rows],
        "acquisition": batch["acquisition"].to_numpy(),
        "member": [names[m] if m >= 0 else "" for m in batch["member"]],
    })[BATCH_COLUMNS]
