"""Campaign replay: a design loop run on a fully measured landscape.

A landscape lists every measured variant of a combinatorial library as letter codes at
its variable sites (``Landscape``): GB1's four sites (``gb1_landscape``) or a synthetic
one with a known optimum (``synthetic_landscape``). A campaign (``run_campaign``) follows
the ALDE protocol: ``n_initial`` variants drawn at random, then ``rounds`` batches of
``batch_size`` chosen by a strategy; only measured variants are candidates, since the
fitness of the others is unknown. Each round an ensemble (``fit_ensemble``) is trained on
the variants measured so far and nothing else, so no row it proposes was seen, and
``lyra.analysis.design.select_batch`` picks the batch among the variants not yet measured.
Lyra members train with the training loop's optimiser step (``lyra.training.loop``).

Ensembles (members differ by a bootstrap resample of the measured rows and a seed):

- ``ridge``: ridge on the sites' one-hot letters;
- ``ridge_pairs``: ridge on one-hot plus every site pair's letter combination
  (``lyra.nn.pairs.fit_pair_ridge`` with all site pairs, as the ``ridge_pairs`` model);
- ``lyra``: a small Lyra network (position-aware read-out) on the sites' one-hot letters;
  with ``freeze_ridge`` a residual network on each member's frozen ``ridge_pairs`` fit,
  with ``ridge_pairs_members`` beside that many ``ridge_pairs`` members (a mixed ensemble).

Ridge members share the penalty chosen by leave-one-out on all measured rows.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import sparse, stats

from lyra.data.alphabets import get_alphabet
from lyra.analysis.design import select_batch
from lyra.errors import LyraInputError
from lyra.nn.lyra import Lyra
from lyra.nn.pairs import fit_pair_ridge, ridge_design
from lyra.data.synthetic import epistasis_signal
from lyra.nn.ridge_start import ridge_initialise
from lyra.nn.run import EncodedSet
from lyra.training.loop import optimiser_step

MODELS = ("ridge", "ridge_pairs", "lyra", "random")
CPU = torch.device("cpu")  # members are small: they train on the CPU
ROUND_COLUMNS = ["landscape", "strategy", "run", "round", "n_measured", "best", "fraction_of_max", "found_max",
                 "spearman_unmeasured"]


@dataclass
class Landscape:
    """Every measured variant: ``codes`` (n, sites) letter indices, ``fitness`` (n,)."""

    name: str
    codes: np.ndarray
    fitness: np.ndarray
    n_letters: int

    @property
    def optimum(self) -> float:
        return float(self.fitness.max())


@dataclass
class Strategy:
    """A surrogate ``model`` (one of ``MODELS``) and an acquisition for ``select_batch``;
    with ``log_offset`` the members fit log(fitness + offset) (and predict on that scale)."""

    name: str
    model: str
    acquisition: str = "thompson"
    beta: float = 2.0
    members: int = 5
    max_per_mutation: int | None = None
    log_offset: float | None = None
    options: dict = field(default_factory=dict)


def gb1_landscape(files: list[str | Path], sites: tuple[int, ...] = (39, 40, 41, 54)) -> Landscape:
    """The GB1 four-site library from headerless ``sequence,fitness`` files (the ReLSO
    train and test files hold all 149,361 variants between them); ``sites`` are the
    0-based variable positions as those files write them."""
    frames = [pd.read_csv(f, header=None, names=["sequence", "fitness"]) for f in files]
    table = pd.concat(frames, ignore_index=True)
    letters = get_alphabet("protein").letters
    lookup = np.full(128, -1, dtype=np.int64)
    lookup[np.frombuffer(letters.encode(), dtype=np.uint8)] = np.arange(len(letters))
    raw = np.frombuffer("".join(table["sequence"]).encode(), dtype=np.uint8).reshape(len(table), -1)
    codes = lookup[raw[:, list(sites)]]
    if (codes < 0).any():
        raise LyraInputError(files[0], "sequences", "a letter outside the protein alphabet at a variable site")
    fixed = np.delete(raw, list(sites), axis=1)
    if (fixed != fixed[0]).any():
        raise LyraInputError(files[0], "sequences", f"positions other than {list(sites)} vary: not the four-site library")
    if len(np.unique(codes @ (len(letters) ** np.arange(len(sites))))) != len(codes):
        raise LyraInputError(files[0], "sequences", "a variant is listed twice")
    return Landscape("gb1", codes.astype(np.int8), table["fitness"].to_numpy(dtype=np.float64), len(letters))


def synthetic_landscape(n_sites: int = 4, orders=(1, 2, 3), n_terms=(4, 6, 4), seed: int = 0,
                        alphabet: str = "protein") -> Landscape:
    """Every letter combination at ``n_sites`` sites scored by ``lyra.synthetic``'s
    epistatic polynomial (no noise), shifted so that the worst variant is 0."""
    n_letters = len(get_alphabet(alphabet).letters)
    codes = np.array(list(itertools.product(range(n_letters), repeat=n_sites)), dtype=np.int8)
    signal = epistasis_signal(codes.astype(np.int64), n_letters, orders, n_terms, np.random.default_rng(seed))
    return Landscape(f"synthetic{seed}", codes, signal - signal.min(), n_letters)


def site_pairs(n_sites: int) -> list[list[int]]:
    """Every site pair [p, q], p < q: the pair head of ``ridge_pairs`` and of Lyra here."""
    return [list(pair) for pair in itertools.combinations(range(n_sites), 2)]


def one_hot(codes: np.ndarray, n_letters: int) -> torch.Tensor:
    """(n, sites, letters) one-hot of letter ``codes`` (n, sites)."""
    return torch.eye(n_letters)[torch.as_tensor(codes.astype(np.int64))]


def site_design(codes: np.ndarray, n_letters: int, pairs: bool, block: int = 16_384) -> sparse.csr_matrix:
    """``lyra.nn.pairs.ridge_design`` of every variant's one-hot sites with every site pair
    (``pairs``) or none, built in row blocks so that its dense pair blocks stay small."""
    sites = site_pairs(codes.shape[1]) if pairs else []
    return sparse.vstack([ridge_design(one_hot(codes[start:start + block], n_letters), sites)
                          for start in range(0, len(codes), block)], format="csr")


def _ridge_members(landscape: Landscape, design: sparse.csr_matrix, pairs: bool, train: np.ndarray, y: np.ndarray,
                   members: int, rng: np.random.Generator) -> np.ndarray:
    """(members, n) predictions of ``lyra.nn.pairs.fit_pair_ridge`` fits (the ``ridge_pairs``
    model's; no pairs: one-hot ridge) on bootstrap resamples of the ``train`` rows, sharing
    the penalty that leave-one-out chose on all of them; ``design`` is ``site_design``."""
    x = one_hot(landscape.codes[train], landscape.n_letters)
    mask = torch.ones(x.shape[:2], dtype=torch.bool)
    sites = site_pairs(x.shape[1]) if pairs else []
    alpha = fit_pair_ridge(x, mask, y, sites).alpha_
    coefs, intercepts = [], []
    for _ in range(members):
        rows = torch.as_tensor(rng.integers(0, len(train), len(train)))
        fitted = fit_pair_ridge(x[rows], mask, y[rows.numpy()], sites, alphas=np.array([alpha]))
        coefs.append(fitted.coef_), intercepts.append(fitted.intercept_)
    return np.asarray(design @ np.stack(coefs, axis=1)).T + np.asarray(intercepts)[:, None]


def _lyra_members(codes: np.ndarray, n_letters: int, train: np.ndarray, y: np.ndarray, members: int,
                  rng: np.random.Generator, epochs: int = 60, batch_size: int = 64, lr: float = 3e-3,
                  d_model: int = 16, d_state: int = 16, dropout: float = 0.1, pair_head: bool = True,
                  ridge_init: bool = False, freeze_ridge: bool = False, bootstrap: bool = True,
                  weight_decay: float = 0.01, early_stop: bool = False,
                  design: sparse.csr_matrix | None = None) -> np.ndarray:
    """(members, n) predictions of small Lyra networks, each trained with its own seed on a
    bootstrap resample of the measured rows (``bootstrap``; otherwise on all of them in its
    own order; standardised targets, AdamW, fixed epochs); ``pair_head`` gives it Lyra's
    pair head on every site pair; ``ridge_init`` starts its skip (and pair) weights from
    ridge on the resample (``lyra.nn.ridge_start.ridge_initialise``, as ``trainer.ridge_init``), so
    the network learns what ridge leaves over.

    ``freeze_ridge`` (as ``trainer.freeze_ridge``; needs ``ridge_init``): each member is a
    residual network on a frozen ridge fit. The ridge part is the ``ridge_pairs`` member's
    fit on the resample (one-hot plus every site pair with ``pair_head``, one-hot only
    without; the penalty chosen by leave-one-out on all measured rows, as
    ``_ridge_members``), kept fixed and predicted through ``design`` (``site_design``); the
    network (no skip or pair head of its own: they would hold the frozen fit) starts with a
    zero decoder, so the member starts as that ridge member, and is trained on what the fit
    leaves over. ``early_stop`` (with ``bootstrap``): the member keeps the epoch, 0 (the
    start) included, with the lowest error on its out-of-bag rows.
    """
    if freeze_ridge and not ridge_init:
        raise ValueError("freeze_ridge keeps the ridge start fixed: it needs ridge_init")
    if early_stop and not bootstrap:
        raise ValueError("early_stop scores the out-of-bag rows of a bootstrap resample: it needs bootstrap")
    n_sites = codes.shape[1]
    pairs = site_pairs(n_sites) if pair_head else None
    everything = one_hot(codes, n_letters)
    mean, scale = y.mean(), y.std() or 1.0
    target = torch.as_tensor((y - mean) / scale, dtype=torch.float32)
    measured = everything[torch.as_tensor(train)]
    if freeze_ridge:  # one penalty for every member, as the ridge_pairs ensemble chooses it
        if design is None:
            design = site_design(codes, n_letters, pair_head)
        mask = torch.ones(measured.shape[:2], dtype=torch.bool)
        alpha = fit_pair_ridge(measured, mask, target.numpy(), pairs or []).alpha_
    out = []
    for _ in range(members):
        torch.manual_seed(int(rng.integers(2**31)))
        model = Lyra(n_letters, 1, d_model=d_model, d_state=d_state, dropout=dropout, readout="flatten",
                     linear_skip=not freeze_ridge, max_len=n_sites, pair_sites=None if freeze_ridge else pairs)
        rows = torch.as_tensor(rng.integers(0, len(train), len(train))) if bootstrap else torch.arange(len(train))
        x_train, y_train = measured[rows], target[rows]
        base = torch.zeros(len(codes), dtype=torch.float64)  # the frozen ridge part, standardised scale
        if freeze_ridge:
            fitted = fit_pair_ridge(x_train, mask, y_train.numpy(), pairs or [], alphas=np.array([alpha]))
            base = torch.as_tensor(fitted.predict(design))
            y_train = y_train - base[torch.as_tensor(train)][rows].float()
            with torch.no_grad():
                model.decoder.weight.zero_()
                model.decoder.bias.zero_()
        elif ridge_init:
            ridge_initialise(model, EncodedSet(x_train, torch.ones(x_train.shape[:2], dtype=torch.bool), y_train))
        optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        if early_stop:
            out_of_bag = torch.as_tensor(np.setdiff1d(np.arange(len(train)), rows.numpy()))
            x_check = measured[out_of_bag]
            y_check = target[out_of_bag] - base[torch.as_tensor(train)][out_of_bag].float()
            best = (_mse(model, x_check, y_check), copy.deepcopy(model.state_dict()))
        model.train()
        for _ in range(epochs):
            for batch in torch.randperm(len(rows)).split(batch_size):
                optimiser_step(model, (x_train[batch], None, y_train[batch]), optimiser, "regression", 0, "fp32", CPU)
            if early_stop:
                error = _mse(model, x_check, y_check)
                if error < best[0]:
                    best = (error, copy.deepcopy(model.state_dict()))
        if early_stop:
            model.load_state_dict(best[1])
        model.eval()
        with torch.no_grad():
            predicted = torch.cat([model(chunk).squeeze(-1) for chunk in everything.split(32_768)])
        out.append((predicted.double() + base).numpy() * scale + mean if freeze_ridge
                   else predicted.numpy() * scale + mean)
    return np.stack(out).astype(np.float64)


@torch.no_grad()
def _mse(model: Lyra, x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean squared error of ``model`` (in evaluation mode) on ``x``, ``y``; training mode after."""
    model.eval()
    error = float(torch.nn.functional.mse_loss(model(x).squeeze(-1), y)) if len(y) else 0.0
    model.train()
    return error


def fit_ensemble(landscape: Landscape, strategy: Strategy, measured: np.ndarray,
                 rng: np.random.Generator, cache: dict) -> np.ndarray:
    """(members, n) predictions for every variant of ``landscape`` from members trained on
    the ``measured`` rows (indices) only."""
    y = landscape.fitness[measured]
    if strategy.log_offset is not None:
        y = np.log(y + strategy.log_offset)
    if strategy.model in ("ridge", "ridge_pairs"):
        pairs, key = strategy.model == "ridge_pairs", (landscape.name, strategy.model)
        if key not in cache:
            cache[key] = site_design(landscape.codes, landscape.n_letters, pairs)
        return _ridge_members(landscape, cache[key], pairs, measured, y, strategy.members, rng)
    if strategy.model == "lyra":
        options = dict(strategy.options)
        ridge_members = options.pop("ridge_pairs_members", 0)
        if options.get("freeze_ridge"):
            key = (landscape.name, "ridge_pairs" if options.get("pair_head", True) else "ridge")
            if key not in cache:
                cache[key] = site_design(landscape.codes, landscape.n_letters, key[1] == "ridge_pairs")
            options["design"] = cache[key]
        networks = _lyra_members(landscape.codes, landscape.n_letters, measured, y, strategy.members, rng, **options)
        if not ridge_members:
            return networks
        # a mixed ensemble: the Lyra members beside ridge_pairs members (two model kinds)
        ridge = fit_ensemble(landscape, Strategy(strategy.name, "ridge_pairs", members=ridge_members,
                                                 log_offset=strategy.log_offset), measured, rng, cache)
        return np.concatenate([networks, ridge])
    raise ValueError(f"unknown campaign model {strategy.model!r}; one of {', '.join(MODELS)}")


def mutation_keys(landscape: Landscape, wild_type: np.ndarray | None) -> np.ndarray:
    """(n, sites) id of each variant's letter at each site (-1 where it is ``wild_type``'s)."""
    keys = landscape.codes.astype(np.int64) + np.arange(landscape.codes.shape[1]) * landscape.n_letters
    if wild_type is not None:
        keys[landscape.codes == np.asarray(wild_type)] = -1
    return keys


def run_campaign(landscape: Landscape, strategy: Strategy, run: int, n_initial: int = 96, batch_size: int = 96,
                 rounds: int = 4, wild_type: np.ndarray | None = None, cache: dict | None = None) -> pd.DataFrame:
    """One seeded campaign: ``ROUND_COLUMNS`` after the random start (round 0) and after each
    chosen batch. ``spearman_unmeasured`` is that of the ensemble mean fitted on the rows
    measured by then, on every variant not yet measured (rounds 0..rounds-1; the model
    that chose the next batch); empty for ``random``."""
    cache = {} if cache is None else cache
    n = len(landscape.fitness)
    if n_initial + rounds * batch_size > n:
        raise ValueError(f"a campaign of {n_initial} + {rounds} x {batch_size} exceeds the {n} variants")
    start = np.random.default_rng([run, 0])  # the same start for every strategy of a run
    model_rng = np.random.default_rng([run, 1])
    measured = np.zeros(n, dtype=bool)
    measured[start.choice(n, n_initial, replace=False)] = True
    keys = mutation_keys(landscape, wild_type) if strategy.max_per_mutation else None
    rows = []
    for round_number in range(rounds + 1):
        best = landscape.fitness[measured].max()
        row = {"landscape": landscape.name, "strategy": strategy.name, "run": run, "round": round_number,
               "n_measured": int(measured.sum()), "best": best, "fraction_of_max": best / landscape.optimum,
               "found_max": bool(best >= landscape.optimum), "spearman_unmeasured": np.nan}
        rows.append(row)
        if round_number == rounds:
            break
        open_ = np.flatnonzero(~measured)
        if strategy.model == "random":
            measured[model_rng.choice(open_, batch_size, replace=False)] = True
            continue
        members = fit_ensemble(landscape, strategy, np.flatnonzero(measured), model_rng, cache)
        row["spearman_unmeasured"] = stats.spearmanr(members.mean(0)[open_], landscape.fitness[open_])[0]
        batch = select_batch(members[:, open_], batch_size, strategy.acquisition, strategy.beta, model_rng,
                             None if keys is None else keys[open_], strategy.max_per_mutation)
        measured[open_[batch["index"].to_numpy()]] = True
    return pd.DataFrame(rows, columns=ROUND_COLUMNS)


def summarise(rounds: pd.DataFrame) -> pd.DataFrame:
    """Per landscape, strategy and round: runs, mean fraction of max with its SEM, and the
    share of runs that found the global maximum, mean Spearman on the unmeasured rows."""
    grouped = rounds.groupby(["landscape", "strategy", "round"], sort=False)
    return grouped.agg(runs=("run", "nunique"), n_measured=("n_measured", "first"),
                       mean_fraction=("fraction_of_max", "mean"), sem_fraction=("fraction_of_max", "sem"),
                       found_max=("found_max", "mean"), mean_spearman=("spearman_unmeasured", "mean")).reset_index()


def _run_one(job: tuple) -> pd.DataFrame:
    from threadpoolctl import threadpool_limits

    landscape, strategy, run, protocol, wild_type = job
    torch.set_num_threads(1)
    with threadpool_limits(1):  # one BLAS thread per process: the workers share the cores
        return run_campaign(landscape, strategy, run, wild_type=wild_type, cache=_CACHE, **protocol)


_CACHE: dict = {}  # per process: each landscape's ridge designs, built once


def replay(landscape: Landscape, strategies: list[Strategy], runs: list[int], protocol: dict | None = None,
           wild_type: np.ndarray | None = None, workers: int = 1, progress: bool = False) -> pd.DataFrame:
    """``run_campaign`` for every strategy and run, in ``workers`` processes (one torch
    thread each); rows in strategy and run order."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    jobs = [(landscape, s, run, protocol or {}, wild_type) for s in strategies for run in runs]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(tqdm(pool.map(_run_one, jobs), total=len(jobs), disable=not progress))
    else:
        parts = [_run_one(job) for job in tqdm(jobs, disable=not progress)]
    return pd.concat(parts, ignore_index=True)


def campaign_plot(rounds: pd.DataFrame, path, title: str) -> Path:
    """Best fraction of the global maximum found so far against variants measured, one
    line per strategy: the mean over runs with a band of +-1.96 SEM."""
    from matplotlib.figure import Figure

    from lyra.report.plots import save_figure

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    summary = summarise(rounds)
    for strategy, rows in summary.groupby("strategy", sort=False):
        sem = rows["sem_fraction"].fillna(0.0)
        ax.plot(rows["n_measured"], rows["mean_fraction"], marker="o", label=strategy)
        ax.fill_between(rows["n_measured"], rows["mean_fraction"] - 1.96 * sem, rows["mean_fraction"] + 1.96 * sem,
                        alpha=0.15)
    ax.set_xlabel("variants measured")
    ax.set_ylabel("best found / global max (mean, 95% interval)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{title} ({summary['runs'].max()} runs)", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)
