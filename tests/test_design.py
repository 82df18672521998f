"""The design loop (lyra.analysis.design, lyra design) and the campaign replay (lyra.campaign):
acquisitions against hand computations, batches that never repeat a measured or proposed
variant, seeded campaigns that find a known optimum where random picks do not, and bad
input as one line."""

import itertools

import numpy as np
import pandas as pd
import pytest
import torch

from lyra.campaign import Landscape, Strategy, gb1_landscape, run_campaign, summarise, synthetic_landscape
from lyra.cli import main
from lyra.analysis.design import acquisition_values, select_batch, site_combinations
from lyra.errors import LyraInputError
from lyra.models.saved import load_model, predict_sequences

torch.set_num_threads(1)

# two members, four candidates: mean (2, 2, 2.5, 1), std (1, 0, 1.5, 0)
MEMBERS = np.array([[1.0, 2.0, 4.0, 1.0],
                    [3.0, 2.0, 1.0, 1.0]])


def test_greedy_and_ucb_values_are_the_hand_computed_ones():
    assert acquisition_values(MEMBERS, "greedy").tolist() == [2.0, 2.0, 2.5, 1.0]
    assert acquisition_values(MEMBERS, "ucb", beta=2.0).tolist() == [4.0, 2.0, 5.5, 1.0]
    assert select_batch(MEMBERS, 3, "greedy")["index"].tolist() == [2, 0, 1]  # ties keep candidate order
    batch = select_batch(MEMBERS, 2, "ucb", beta=2.0)
    assert batch["index"].tolist() == [2, 0] and batch["acquisition"].tolist() == [5.5, 4.0]


def test_thompson_takes_the_drawn_members_best_open_candidate():
    members = np.random.default_rng(1).normal(size=(4, 30))
    batch = select_batch(members, 10, "thompson", rng=np.random.default_rng(7))
    draws = np.random.default_rng(7).integers(4, size=10)  # one member per slot, as nothing runs dry
    open_ = np.ones(30, dtype=bool)
    expected = []
    for member in draws:
        best = int(np.argmax(np.where(open_, members[member], -np.inf)))
        open_[best] = False
        expected.append(best)
    assert batch["index"].tolist() == expected
    assert batch["member"].tolist() == draws.tolist()
    assert np.allclose(batch["acquisition"], members[draws, expected])


def test_diversity_rule_caps_each_mutation():
    members = np.random.default_rng(2).normal(size=(3, 200))
    keys = np.random.default_rng(3).integers(-1, 6, size=(200, 2))  # some candidates repeat a key
    for acquisition in ("greedy", "ucb", "thompson"):
        batch = select_batch(members, 10, acquisition, rng=np.random.default_rng(0), keys=keys, max_per_mutation=2)
        used = np.concatenate([np.unique(keys[i]) for i in batch["index"]])
        assert np.bincount(used[used >= 0]).max() <= 2
        assert batch["index"].is_unique
    with pytest.raises(ValueError, match="only .* of 20 proposals pass the diversity rule"):
        select_batch(members, 20, "greedy", keys=np.zeros((200, 1), dtype=int), max_per_mutation=3)


@pytest.mark.parametrize("model", ["ridge", "ridge_pairs"])
def test_ridge_members_are_sklearn_ridge_on_hand_built_indicators(model):
    """The campaign's ridge ensembles (lyra.nn.pairs.fit_pair_ridge) against scikit-learn on
    indicator columns built here: one per site-letter and (ridge_pairs) per letter pair of
    every site pair, the penalty chosen by RidgeCV on all measured rows, then one Ridge
    per bootstrap resample drawn from the same seeded generator."""
    from sklearn.linear_model import Ridge, RidgeCV

    from lyra.nn.baselines import RIDGE_ALPHAS
    from lyra.campaign import fit_ensemble

    landscape = synthetic_landscape(n_sites=3, orders=(1, 2), n_terms=(3, 3), seed=1, alphabet="dna")
    codes = landscape.codes.astype(int)
    columns = [s * 4 + codes[:, s] for s in range(3)]
    if model == "ridge_pairs":
        columns += [12 + k * 16 + codes[:, p] * 4 + codes[:, q]
                    for k, (p, q) in enumerate(itertools.combinations(range(3), 2))]
    X = np.zeros((len(codes), 12 + (48 if model == "ridge_pairs" else 0)))
    for column in columns:
        X[np.arange(len(codes)), column] = 1.0
    train = np.random.default_rng(5).choice(len(codes), 30, replace=False)
    y = landscape.fitness[train]
    alpha = RidgeCV(alphas=RIDGE_ALPHAS).fit(X[train], y).alpha_
    draws = np.random.default_rng(9)
    expected = []
    for _ in range(3):
        rows = draws.integers(0, len(train), len(train))
        expected.append(Ridge(alpha=alpha).fit(X[train][rows], y[rows]).predict(X))
    members = fit_ensemble(landscape, Strategy("s", model, members=3), train, np.random.default_rng(9), {})
    assert members == pytest.approx(np.array(expected), abs=1e-8)


def test_lyra_members_with_ridge_init_start_from_ridge_with_pairs():
    """ridge_init and no training: each Lyra member (pair head on every site pair) predicts
    what scikit-learn's RidgeCV on hand-built one-hot and pair indicators predicts when
    fitted to that member's bootstrap rows (standardised targets, as the members fit)."""
    from sklearn.linear_model import RidgeCV

    from lyra.nn.baselines import RIDGE_ALPHAS
    from lyra.campaign import fit_ensemble

    landscape = synthetic_landscape(n_sites=3, orders=(1, 2), n_terms=(3, 3), seed=2, alphabet="dna")
    codes = landscape.codes.astype(int)
    X = np.zeros((len(codes), 60))
    for column in [s * 4 + codes[:, s] for s in range(3)] + [
            12 + k * 16 + codes[:, p] * 4 + codes[:, q] for k, (p, q) in enumerate(itertools.combinations(range(3), 2))]:
        X[np.arange(len(codes)), column] = 1.0
    train = np.random.default_rng(3).choice(len(codes), 30, replace=False)
    y = landscape.fitness[train]
    mean, scale = y.mean(), y.std()
    draws, expected = np.random.default_rng(4), []
    for _ in range(2):
        draws.integers(2**31)  # the member's torch seed
        rows = draws.integers(0, len(train), len(train))
        fitted = RidgeCV(alphas=RIDGE_ALPHAS).fit(X[train][rows], (y[rows] - mean) / scale)
        expected.append(fitted.predict(X) * scale + mean)
    strategy = Strategy("s", "lyra", members=2, options={"epochs": 0, "pair_head": True, "ridge_init": True})
    members = fit_ensemble(landscape, strategy, train, np.random.default_rng(4), {})
    assert members == pytest.approx(np.array(expected), rel=1e-4, abs=1e-4 * scale)


def _indicators(codes: np.ndarray, n_letters: int) -> np.ndarray:
    """One-hot and every site pair's letter-pair indicators, built by hand."""
    n_sites = codes.shape[1]
    columns = [s * n_letters + codes[:, s] for s in range(n_sites)]
    columns += [n_sites * n_letters + k * n_letters**2 + codes[:, p] * n_letters + codes[:, q]
                for k, (p, q) in enumerate(itertools.combinations(range(n_sites), 2))]
    X = np.zeros((len(codes), n_sites * n_letters + len(columns[n_sites:]) * n_letters**2))
    for column in columns:
        X[np.arange(len(codes)), column] = 1.0
    return X


@pytest.mark.parametrize("early_stop", [False, True])
def test_frozen_ridge_members_start_as_the_ridge_pairs_members(early_stop):
    """freeze_ridge and no training (or early stopping, whose epoch 0 is then the only
    candidate): each member is the ridge_pairs member of its bootstrap rows, the penalty
    chosen by RidgeCV on all measured rows, as the ridge_pairs ensemble chooses it."""
    from sklearn.linear_model import Ridge, RidgeCV

    from lyra.nn.baselines import RIDGE_ALPHAS
    from lyra.campaign import fit_ensemble

    landscape = synthetic_landscape(n_sites=3, orders=(1, 2), n_terms=(3, 3), seed=2, alphabet="dna")
    X = _indicators(landscape.codes.astype(int), 4)
    train = np.random.default_rng(3).choice(len(X), 30, replace=False)
    y = landscape.fitness[train]
    alpha = RidgeCV(alphas=RIDGE_ALPHAS).fit(X[train], y).alpha_
    draws, expected = np.random.default_rng(4), []
    for _ in range(3):
        draws.integers(2**31)  # the member's torch seed
        rows = draws.integers(0, len(train), len(train))
        expected.append(Ridge(alpha=alpha).fit(X[train][rows], y[rows]).predict(X))
    options = {"epochs": 0, "ridge_init": True, "freeze_ridge": True, "early_stop": early_stop}
    members = fit_ensemble(landscape, Strategy("s", "lyra", members=3, options=options), train,
                           np.random.default_rng(4), {})
    assert members == pytest.approx(np.array(expected), abs=1e-6 * y.std())


def test_frozen_ridge_members_train_only_the_residual_network():
    """With training the members move away from their ridge start (the network learns the
    residual) and the same seed gives the same members; without bootstrap every member's
    ridge part is the same fit, so the members differ by their network only."""
    from lyra.campaign import fit_ensemble

    landscape = synthetic_landscape(n_sites=3, orders=(1, 2, 3), n_terms=(3, 3, 2), seed=2, alphabet="dna")
    train = np.random.default_rng(3).choice(len(landscape.codes), 40, replace=False)
    options = {"epochs": 5, "ridge_init": True, "freeze_ridge": True}
    strategy = Strategy("s", "lyra", members=2, options=options)
    start = fit_ensemble(landscape, Strategy("s", "lyra", members=2, options={**options, "epochs": 0}), train,
                         np.random.default_rng(4), {})
    trained = fit_ensemble(landscape, strategy, train, np.random.default_rng(4), {})
    assert not np.allclose(start, trained)
    assert np.array_equal(trained, fit_ensemble(landscape, strategy, train, np.random.default_rng(4), {}))
    same_rows = {**options, "epochs": 0, "bootstrap": False}
    fixed = fit_ensemble(landscape, Strategy("s", "lyra", members=2, options=same_rows), train,
                         np.random.default_rng(4), {})
    assert np.allclose(fixed[0], fixed[1])


def test_mixed_ensemble_is_the_lyra_members_then_ridge_pairs_members():
    """ridge_pairs_members: the Lyra members, then that many ridge_pairs members drawn from
    the same generator after them."""
    from lyra.campaign import fit_ensemble

    landscape = synthetic_landscape(n_sites=3, orders=(1, 2), n_terms=(3, 3), seed=2, alphabet="dna")
    train = np.random.default_rng(3).choice(len(landscape.codes), 30, replace=False)
    lyra_options = {"epochs": 1, "ridge_init": True, "freeze_ridge": True}
    mixed = fit_ensemble(landscape, Strategy("s", "lyra", members=2, options={**lyra_options, "ridge_pairs_members": 3}),
                         train, np.random.default_rng(4), {})
    draws = np.random.default_rng(4)
    alone = fit_ensemble(landscape, Strategy("s", "lyra", members=2, options=lyra_options), train, draws, {})
    ridge = fit_ensemble(landscape, Strategy("s", "ridge_pairs", members=3), train, draws, {})
    assert mixed.shape == (5, len(landscape.codes))
    assert np.array_equal(mixed, np.concatenate([alone, ridge]))


def test_lyra_member_options_that_need_another_are_errors():
    from lyra.campaign import fit_ensemble

    landscape = synthetic_landscape(n_sites=2, orders=(1,), n_terms=(2,), seed=2, alphabet="dna")
    for options, problem in (({"freeze_ridge": True}, "needs ridge_init"),
                             ({"early_stop": True, "bootstrap": False}, "needs bootstrap")):
        with pytest.raises(ValueError, match=problem):
            fit_ensemble(landscape, Strategy("s", "lyra", members=1, options={"epochs": 0, **options}),
                         np.arange(8), np.random.default_rng(0), {})


def test_synthetic_landscape_is_every_combination_with_its_optimum():
    landscape = synthetic_landscape(n_sites=3, orders=(1, 2), n_terms=(3, 3), seed=4)
    assert len(landscape.codes) == 20**3 == len({tuple(c) for c in landscape.codes})
    assert landscape.fitness.min() == 0 and landscape.optimum == landscape.fitness.max()


SMALL = dict(n_initial=20, batch_size=20, rounds=4)  # 100 of 8,000 variants measured


@pytest.fixture(scope="module")
def pairwise():
    return synthetic_landscape(n_sites=3, orders=(1, 2), n_terms=(3, 3), seed=4)


def test_loop_finds_the_optimum_and_random_does_not():
    # 4,096 DNA variants of 6 sites with pair terms; 10 random then 4 x 10 chosen: 50 measured (1.2%)
    landscape = synthetic_landscape(n_sites=6, orders=(1, 2), n_terms=(6, 3), seed=4, alphabet="dna")
    found = {}
    for strategy in (Strategy("pairs", "ridge_pairs", "thompson"), Strategy("random", "random")):
        found[strategy.name] = sum(run_campaign(landscape, strategy, run, n_initial=10, batch_size=10, rounds=4)
                                   ["found_max"].iloc[-1] for run in range(5))
    assert found["pairs"] >= 4 and found["random"] == 0


def test_same_seed_same_campaign_and_batches_are_new_variants(pairwise):
    strategy = Strategy("lyra", "lyra", "ucb", members=2, options={"epochs": 2, "pair_head": False})
    first = run_campaign(pairwise, strategy, 5, **SMALL)
    pd.testing.assert_frame_equal(first, run_campaign(pairwise, strategy, 5, **SMALL))
    assert first["n_measured"].tolist() == [20, 40, 60, 80, 100]  # every batch adds 20 not yet measured
    assert first["best"].is_monotonic_increasing
    assert first["spearman_unmeasured"].iloc[:4].notna().all() and np.isnan(first["spearman_unmeasured"].iloc[4])
    other = run_campaign(pairwise, strategy, 6, **SMALL)
    assert not first["best"].equals(other["best"])
    summary = summarise(pd.concat([first, other]))
    assert summary["runs"].tolist() == [2] * 5
    assert summary["mean_fraction"].iloc[-1] == pytest.approx((first["best"].iloc[-1] + other["best"].iloc[-1])
                                                              / 2 / pairwise.optimum)


def test_campaign_larger_than_the_landscape_is_an_error(pairwise):
    with pytest.raises(ValueError, match="exceeds the 8000 variants"):
        run_campaign(pairwise, Strategy("random", "random"), 0, n_initial=4001, batch_size=1000, rounds=4)


def test_gb1_landscape_rejects_a_row_that_is_not_the_four_site_library(tmp_path):
    base = "MTYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVVDGWTYDDATKTFTVVE"
    rows = [base, base[:39] + "AAAA" + base[43:], base[:5] + "W" + base[6:]]
    (tmp_path / "g.csv").write_text("".join(f"{s},1.0\n" for s in rows))
    with pytest.raises(LyraInputError, match="positions other than .* vary"):
        gb1_landscape([tmp_path / "g.csv"])
    (tmp_path / "g.csv").write_text(f"{base},1.0\n{base},2.0\n")
    with pytest.raises(LyraInputError, match="listed twice"):
        gb1_landscape([tmp_path / "g.csv"])


def _reference(protein_members):
    return pd.read_csv(protein_members / "train.csv")["sequence"].iloc[0]


def test_cli_design_scores_with_the_ensemble_and_skips_measured(protein_members, tmp_path):
    reference = _reference(protein_members)
    sites = [f"{reference[p - 1]}{p}" for p in (2, 5)]
    measured = [f"{reference[1]}2A" if reference[1] != "A" else f"{reference[1]}2C",
                f"{reference[4]}5W" if reference[4] != "W" else f"{reference[4]}5Y"]
    (tmp_path / "m.txt").write_text("\n".join(measured) + "\n")
    out = tmp_path / "next.tsv"
    assert main(["design", "--model", str(protein_members), "--reference", reference, "--sites", ",".join(sites),
                 "--measured", str(tmp_path / "m.txt"), "--acquisition", "ucb", "--beta", "1",
                 "--batch-size", "397", "--out", str(out)]) == 0
    batch = pd.read_csv(out, sep="\t")
    assert len(batch) == 397 == 20 * 20 - 1 - 2  # the whole space: every combination but wild type and measured
    assert batch["variant"].is_unique and not set(measured) & set(batch["variant"])
    # mean and std equal each member scoring the mutated sequences itself
    row = batch.iloc[0]
    sequence = list(reference)
    for token in row["variant"].split(":"):
        sequence[int(token[1:-1]) - 1] = token[-1]
    scores = [predict_sequences(*load_model(protein_members / f"seed{k}" / "model.pt"), ["".join(sequence)])
              ["y_pred"].iloc[0] for k in range(3)]
    assert row["mean"] == pytest.approx(np.mean(scores), abs=1e-5)
    assert row["std"] == pytest.approx(np.std(scores), abs=1e-5)
    assert row["acquisition"] == pytest.approx(row["mean"] + row["std"], abs=1e-5)
    assert batch["acquisition"].is_monotonic_decreasing and batch["rank"].tolist() == list(range(1, 398))


def test_site_combinations_leave_out_only_the_wild_type():
    variants = site_combinations([(1, "A"), (3, "C")], "dna")
    assert len(variants) == 15 and ((1, "A", "G"), (3, "C", "T")) in variants and ((3, "C", "A"),) in variants


@pytest.mark.parametrize("flags, problem", [
    (["--sites", "{w1}1,Z3"], "--sites: site 'Z3': not <wild type><position>"),
    (["--sites", "{w1}99"], "position 99 is outside the reference"),
    (["--sites", "{other}1"], "wild-type letter {other} does not match the reference, which has {w1} at 1"),
    (["--candidates", "{measured}", "--measured", "{measured}"], "the candidate space is empty"),
    (["--sites", "{w1}1", "--batch-size", "20"], "batch size 20 is larger than the 19 candidates not yet measured"),
])
def test_cli_bad_input_is_one_line_and_writes_nothing(protein_members, tmp_path, capsys, flags, problem):
    reference = _reference(protein_members)
    other = "C" if reference[0] != "C" else "D"
    (tmp_path / "m.txt").write_text(f"{reference[0]}1{other}\n")
    values = {"w1": reference[0], "other": other, "measured": str(tmp_path / "m.txt")}
    flags = [f.format(**values) for f in flags]
    if "--batch-size" not in flags:
        flags += ["--batch-size", "1"]
    out = tmp_path / "next.tsv"
    assert main(["design", "--model", str(protein_members), "--reference", reference, *flags,
                 "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("lyra design: error: ") and problem.format(**values) in error
    assert len(error.splitlines()) == 1 and not out.exists()


def test_gb1_has_every_variant_and_its_known_optimum():
    from tests.conftest import GB1_DIR

    if not GB1_DIR.is_dir():
        pytest.skip("shared GB1 data not present")
    landscape = gb1_landscape([GB1_DIR / "GB1_WU_train_data.csv", GB1_DIR / "GB1_WU_test_data.csv"])
    assert len(landscape.fitness) == 149_361
    letters = "ACDEFGHIKLMNPQRSTVWY"
    assert "".join(letters[c] for c in landscape.codes[landscape.fitness.argmax()]) == "FWAA"
    assert landscape.optimum == pytest.approx(8.762, abs=1e-3)
    wild_type = [letters.index(c) for c in "VDGV"]
    assert landscape.fitness[(landscape.codes == wild_type).all(1)].tolist() == [1.0]
    assert isinstance(landscape, Landscape)


def test_log_offset_fits_the_log_of_fitness(pairwise):
    from lyra.campaign import fit_ensemble

    measured = np.arange(0, 8000, 40)
    strategy = Strategy("log", "ridge_pairs", members=3, log_offset=0.5)
    logged = Landscape("logged", pairwise.codes, np.log(pairwise.fitness + 0.5), pairwise.n_letters)
    with_option = fit_ensemble(pairwise, strategy, measured, np.random.default_rng(0), {})
    by_hand = fit_ensemble(logged, Strategy("raw", "ridge_pairs", members=3), measured, np.random.default_rng(0), {})
    raw = fit_ensemble(pairwise, Strategy("raw", "ridge_pairs", members=3), measured, np.random.default_rng(0), {})
    assert np.allclose(with_option, by_hand) and not np.allclose(with_option, raw)


def _design_config(design, reference="ACGTACGT", task_type="regression", models=("lyra", "ridge")):
    return {"models": list(models),
            "tasks": {"t": {"input": {"format": "csv", "path": "x.csv"}, "alphabet": "dna", "task_type": task_type,
                            "split": {"scheme": "random"}, "reference": reference, "design": design,
                            **({"classes": ["a", "b"]} if task_type == "binary" else {})}}}


def test_a_design_block_is_typed_with_its_defaults():
    from lyra.config import task_from_config

    task = task_from_config(_design_config({"sites": ["A1", "C2"], "batch_size": 4}), "t")
    assert task.design == {"models": ["lyra"], "sites": ["A1", "C2"], "max_order": 2, "pool": 20,
                           "acquisition": "ucb", "beta": 2.0, "batch_size": 4, "max_per_mutation": None,
                           "exclude_measured": True, "seed": 0}
    assert task_from_config(_design_config(None), "t").design is None


@pytest.mark.parametrize("design, changes, problem", [
    ({"sites": ["A1"], "batch_size": 4}, {"reference": None}, "needs the task's reference"),
    ({"sites": ["A1"], "candidates": "c.txt", "batch_size": 4}, {}, "sites or candidates, not both"),
    ({"batch_size": 4, "models": ["cnn"]}, {}, "model 'cnn' is not in the models list"),
    ({"batch_size": 4}, {"task_type": "binary"}, "regression tasks only"),
    ({"batch_size": 0}, {}, "key tasks.t.design.batch_size"),
    ({"batch_size": 4, "acquisition": "ei"}, {}, "key tasks.t.design.acquisition"),
    ({"batch_size": 4, "sites": ["40"]}, {}, "key tasks.t.design.sites.0"),
])
def test_a_bad_design_block_is_one_config_error(design, changes, problem):
    from lyra.config import task_from_config

    with pytest.raises(LyraInputError, match=problem) as error:
        task_from_config(_design_config(design, **changes), "t")
    assert "\n" not in str(error.value)
