"""The training loop: determinism, exact resumption, best-state selection, early stopping."""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from lyra.nn.lyra import Lyra
from lyra.nn.run import EncodedSet, predict_outputs
from lyra.training.loop import TrainerConfig, fit


def _dataset(n, seed, length=12):
    """Random DNA one-hot sequences whose target counts G's in the first half."""
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, 4, (n, length), generator=g)
    x = torch.nn.functional.one_hot(tokens, 4).float()
    y = (tokens[:, : length // 2] == 2).float().sum(1)
    y = (y - y.mean()) / y.std()
    return EncodedSet(x, torch.ones(n, length, dtype=torch.bool), y)


def _run(tmp_path=None, epochs=4, name="ckpt.pt", fingerprint="run", **overrides):
    torch.manual_seed(0)
    model = Lyra(4, 1, d_model=8, d_state=4, dropout=0.1)
    config = TrainerConfig(epochs=epochs, batch_size=16, seed=3, **overrides)
    checkpoint = None if tmp_path is None else tmp_path / name
    result = fit(model, _dataset(96, 1), _dataset(48, 2), "regression", config, torch.device("cpu"),
                 checkpoint_path=checkpoint, fingerprint=fingerprint, progress=False)
    return model, result


def test_same_seed_gives_bit_identical_weights():
    _, first = _run()
    _, second = _run()
    for key, value in first.best_state.items():
        assert torch.equal(value, second.best_state[key]), key


def test_resume_from_checkpoint_matches_uninterrupted_run(tmp_path):
    _, uninterrupted = _run(epochs=4)
    _run(tmp_path, epochs=2)  # "interrupted" after two epochs
    model, resumed = _run(tmp_path, epochs=4)
    assert resumed.resumed_from_epoch == 2
    np.testing.assert_array_equal(resumed.history["train_loss"], uninterrupted.history["train_loss"])
    for key, value in uninterrupted.best_state.items():
        assert torch.equal(value, resumed.best_state[key]), key


def test_checkpoint_of_another_run_is_not_resumed(tmp_path):
    _run(tmp_path, epochs=2, fingerprint="other")
    _, result = _run(tmp_path, epochs=2, fingerprint="run")
    assert result.resumed_from_epoch == 0


def test_best_state_is_a_copy_that_reproduces_the_best_validation_score():
    model, result = _run(epochs=8, lr=0.05)
    history = result.history
    best_row = history.loc[history["valid_spearman"].idxmax()]
    assert result.best_epoch == int(best_row["epoch"])
    valid = _dataset(48, 2)
    model.load_state_dict(result.best_state)
    outputs = predict_outputs(model, valid.x, valid.mask, 64, torch.device("cpu"))
    rho = spearmanr(valid.y.numpy(), outputs[:, 0]).statistic
    assert rho == pytest.approx(best_row["valid_spearman"], abs=1e-6)


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    _, result = _run(epochs=50, lr=0.0, patience=3)  # lr 0: the score never improves after epoch 1
    assert len(result.history) == 4
    assert result.best_epoch == 1


def test_unknown_trainer_option_is_named():
    with pytest.raises(ValueError, match="epochz"):
        TrainerConfig.from_dict({"epochz": 3})


def test_unknown_precision_is_named():
    with pytest.raises(ValueError, match="precision.*fp16"):
        TrainerConfig.from_dict({"precision": "fp16"})


def test_bf16_autocast_keeps_the_s4d_convolution_in_float32():
    """Under bf16 autocast the S4D layer's state-space map sees float32 and returns what
    the float32 map gives for the same (bf16-rounded) input."""
    torch.manual_seed(7)
    model = Lyra(4, 1, d_model=8, d_state=4, dropout=0.0).eval()
    layer = model.s4d_layers[0]
    u = torch.randn(2, 8, 300).bfloat16()  # long enough for the FFT path
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer.ssm(u)
    with torch.no_grad():
        expected = layer.ssm(u.float())
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, expected)


def test_bf16_training_learns_the_task():
    """Training under bf16 autocast still fits the planted signal (and outputs float32)."""
    model, result = _run(epochs=8, precision="bf16", lr=1e-2)
    valid = _dataset(48, 2)
    outputs = predict_outputs(model, valid.x, valid.mask, 64, torch.device("cpu"), "bf16")
    assert outputs.dtype == np.float32 and np.isfinite(outputs).all()
    assert spearmanr(outputs[:, 0], valid.y.numpy()).statistic > 0.5


# ------------------------------------------------------------------ warm-up + cosine schedule

def test_lr_factor_matches_hand_computation():
    from lyra.training.loop import lr_factor

    total, warmup = 10, 2
    # warm-up over steps 1-2: step / warmup
    assert lr_factor(1, total, warmup) == pytest.approx(0.5)
    assert lr_factor(2, total, warmup) == pytest.approx(1.0)
    # cosine over the remaining 8 steps: (1 + cos(pi * (s - 2) / 8)) / 2, down to 0 at step 10
    assert lr_factor(3, total, warmup) == pytest.approx((1 + np.cos(np.pi / 8)) / 2)
    assert lr_factor(4, total, warmup) == pytest.approx((1 + np.cos(np.pi * 2 / 8)) / 2)
    assert lr_factor(6, total, warmup) == pytest.approx(0.5)
    assert lr_factor(10, total, warmup) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(6, total, warmup, min_lr_ratio=0.2) == pytest.approx(0.2 + 0.8 * 0.5)
    assert lr_factor(1, total, 0) == pytest.approx((1 + np.cos(np.pi / 10)) / 2)  # no warm-up


def test_warmup_cosine_is_stepped_per_batch_with_the_hand_computed_lrs():
    """96 rows in batches of 16: 6 steps an epoch, 4 epochs = 24 steps, warm-up round(0.25 * 24) = 6."""
    _, result = _run(epochs=4, lr=0.01, scheduler="warmup_cosine", warmup_fraction=0.25, patience=100)
    steps, total, warmup = 6, 24, 6
    expected = []
    for epoch in range(4):
        s = epoch * steps + 1  # the lr logged is the one of the epoch's first step (1-based)
        factor = s / warmup if s <= warmup else (1 + np.cos(np.pi * (s - warmup) / (total - warmup))) / 2
        expected.append(0.01 * factor)
    np.testing.assert_allclose(result.history["lr"].to_numpy(), expected, rtol=1e-9)


def test_warmup_cosine_resumes_bit_identically(tmp_path, monkeypatch):
    """A run killed after epoch 2 of 4 and restarted from its checkpoint continues the per-step schedule."""
    import lyra.training.loop as train_module

    options = dict(scheduler="warmup_cosine", warmup_fraction=0.2, patience=100)
    _, uninterrupted = _run(epochs=4, **options)
    real_epoch, calls = train_module.train_epoch, []

    def dying_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_epoch", dying_epoch)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, epochs=4, **options)
    monkeypatch.setattr(train_module, "train_epoch", real_epoch)
    _, resumed = _run(tmp_path, epochs=4, **options)
    assert resumed.resumed_from_epoch == 2
    np.testing.assert_array_equal(resumed.history["lr"], uninterrupted.history["lr"])
    np.testing.assert_array_equal(resumed.history["train_loss"], uninterrupted.history["train_loss"])
    for key, value in uninterrupted.best_state.items():
        assert torch.equal(value, resumed.best_state[key]), key


def test_bad_schedule_options_are_named():
    with pytest.raises(ValueError, match="scheduler"):
        TrainerConfig.from_dict({"scheduler": "linear"})
    with pytest.raises(ValueError, match="warmup_fraction"):
        TrainerConfig.from_dict({"scheduler": "warmup_cosine", "warmup_fraction": 1.5})


# ------------------------------------------------------------------------------- ridge start

def test_ridge_initialise_reproduces_the_ridge_prediction():
    from sklearn.linear_model import RidgeCV

    from lyra.nn.baselines import RIDGE_ALPHAS
    from lyra.nn.ridge_start import ridge_initialise

    train = _dataset(96, 1)
    torch.manual_seed(0)
    model = Lyra(4, 1, d_model=8, d_state=4, linear_skip=True, max_len=12).eval()
    alpha = ridge_initialise(model, train)
    flat = train.x.reshape(len(train.x), -1).numpy()
    ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(flat, train.y.numpy().astype(float))
    assert alpha == ridge.alpha_
    with torch.no_grad():
        np.testing.assert_allclose(model(train.x)[:, 0].numpy(), ridge.predict(flat), rtol=1e-4, atol=1e-4)


def test_ridge_initialise_silences_the_hidden_head():
    """With a hidden head the ridge start is still exactly the ridge model."""
    from sklearn.linear_model import RidgeCV

    from lyra.nn.baselines import RIDGE_ALPHAS
    from lyra.nn.ridge_start import ridge_initialise

    train = _dataset(96, 1)
    torch.manual_seed(0)
    model = Lyra(4, 1, d_model=8, d_state=4, linear_skip=True, hidden_head=6, max_len=12).eval()
    with torch.no_grad():
        model.head_output.weight.normal_()  # as after training
    ridge_initialise(model, train)
    flat = train.x.reshape(len(train.x), -1).numpy()
    ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(flat, train.y.numpy().astype(float))
    with torch.no_grad():
        np.testing.assert_allclose(model(train.x)[:, 0].numpy(), ridge.predict(flat), rtol=1e-4, atol=1e-4)


def test_ridge_initialise_with_a_pair_head_is_ridge_on_one_hot_plus_pair_indicators():
    """The ridge start of a Lyra with a pair head is exactly RidgeCV on one-hot plus one
    indicator per letter combination of each pair, the design built here in numpy."""
    from sklearn.linear_model import RidgeCV

    from lyra.nn.baselines import RIDGE_ALPHAS
    from lyra.nn.ridge_start import ridge_initialise

    train = _dataset(300, 3)
    tokens = train.x.argmax(-1).numpy()
    sites = [[1, 7], [0, 3]]
    y = train.y.numpy() + (tokens[:, 1] == tokens[:, 7]) - 0.5 * (tokens[:, 0] > tokens[:, 3])
    train = EncodedSet(train.x, train.mask, torch.as_tensor(y, dtype=torch.float32))
    torch.manual_seed(0)
    model = Lyra(4, 1, d_model=8, d_state=4, linear_skip=True, hidden_head=6, pair_sites=sites, max_len=12).eval()
    with torch.no_grad():
        model.pair_table.normal_()  # as after training: the start replaces it
    alpha = ridge_initialise(model, train)
    indicators = [np.eye(16)[tokens[:, p] * 4 + tokens[:, q]] for p, q in sites]
    design = np.hstack([train.x.reshape(len(y), -1).numpy(), *indicators])
    ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(design, y.astype(float))
    assert alpha == ridge.alpha_
    with torch.no_grad():
        np.testing.assert_allclose(model(train.x)[:, 0].numpy(), ridge.predict(design), rtol=1e-4, atol=1e-4)


def _started(model, train, config):
    """``model`` after the start that ``lyra.models.estimators.NeuralModel`` gives it before training."""
    from lyra.nn.ridge_start import start_from_ridge

    start_from_ridge(model, train, config.ridge_init, config.freeze_ridge, regression=True)
    return model


def test_ridge_init_starts_from_ridge_but_keeps_a_trained_epoch():
    """The ridge start is never the kept state: with lr 0 no epoch improves, and epoch 1
    (the network with its own decoder weights) is kept, not the pure ridge model."""
    from lyra.nn.ridge_start import ridge_initialise

    torch.manual_seed(0)
    model = Lyra(4, 1, d_model=8, d_state=4, linear_skip=True, max_len=12)
    config = TrainerConfig(epochs=3, batch_size=16, lr=0.0, ridge_init=True, patience=100)
    train = _dataset(96, 1)
    result = fit(_started(model, train, config), train, _dataset(48, 2), "regression", config, torch.device("cpu"),
                 progress=False)
    assert result.best_epoch == 1
    assert torch.count_nonzero(result.best_state["decoder.weight"]) > 0  # the network is on
    ridge_model = Lyra(4, 1, d_model=8, d_state=4, linear_skip=True, max_len=12)
    ridge_initialise(ridge_model, _dataset(96, 1))
    assert torch.allclose(result.best_state["skip"], ridge_model.skip.detach())  # it started from ridge


def test_freeze_ridge_trains_a_residual_on_the_fixed_ridge_pairs_fit():
    """With freeze_ridge the skip and pair tables keep the ridge-plus-pairs fit through
    training (an independent RidgeCV on the explicit design gives the same prediction),
    the decoder starts at zero and learns, and the kept state is a trained epoch."""
    from sklearn.linear_model import RidgeCV

    from lyra.nn.baselines import RIDGE_ALPHAS

    train, valid = _dataset(200, 1), _dataset(48, 2)
    sites = [[1, 7]]
    torch.manual_seed(0)
    model = Lyra(4, 1, d_model=8, d_state=4, linear_skip=True, pair_sites=sites, max_len=12)
    config = TrainerConfig(epochs=3, batch_size=16, ridge_init=True, freeze_ridge=True, patience=100)
    result = fit(_started(model, train, config), train, valid, "regression", config, torch.device("cpu"),
                 progress=False)
    assert result.best_epoch >= 1
    assert torch.count_nonzero(result.best_state["decoder.weight"]) > 0  # the residual network learned
    tokens = train.x.argmax(-1).numpy()
    design = np.hstack([train.x.reshape(len(tokens), -1).numpy(), np.eye(16)[tokens[:, 1] * 4 + tokens[:, 7]]])
    ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(design, train.y.numpy().astype(float))
    frozen = Lyra(4, 1, d_model=8, d_state=4, linear_skip=True, pair_sites=sites, max_len=12)
    frozen.load_state_dict(result.best_state)
    with torch.no_grad():
        frozen.decoder.weight.zero_()
        frozen.decoder.bias.fill_(float(ridge.intercept_))
        np.testing.assert_allclose(frozen.eval()(train.x)[:, 0].numpy(), ridge.predict(design), rtol=1e-4, atol=1e-4)


def test_freeze_ridge_needs_ridge_init():
    with pytest.raises(ValueError, match="ridge_init"):
        TrainerConfig.from_dict({"freeze_ridge": True})


def test_ridge_init_needs_a_linear_skip_model():
    from lyra.nn.ridge_start import ridge_initialise

    with pytest.raises(ValueError, match="linear_skip"):
        ridge_initialise(Lyra(4, 1, d_model=8, d_state=4), _dataset(8, 1))


def test_the_ridge_candidate_option_is_gone():
    """No option swaps the network for a ridge model after training."""
    with pytest.raises(ValueError, match="ridge_candidate"):
        TrainerConfig.from_dict({"ridge_candidate": True})


def test_ridge_init_leaves_models_without_a_skip_head_untouched():
    """A task's trainer block is shared by every model trained on it: the start leaves the
    CNN and a Lyra without linear_skip exactly as they were, every parameter trainable."""
    from lyra.nn.baselines import CNN
    from lyra.nn.ridge_start import start_from_ridge

    torch.manual_seed(0)
    for model in (Lyra(4, 1, d_model=8, d_state=4), CNN(4, 1, channels=8)):
        before = {key: value.clone() for key, value in model.state_dict().items()}
        assert start_from_ridge(model, _dataset(96, 1), True, True, regression=True) is None
        for key, value in model.state_dict().items():
            assert torch.equal(value, before[key]), key
        assert all(parameter.requires_grad for parameter in model.parameters())


def test_the_neural_model_starts_lyra_from_ridge_before_training(caplog):
    """trainer.ridge_init reaches the network through the estimator: the trained skip
    weights moved from the ridge start (lr > 0), and the start is logged with its
    validation score; with freeze_ridge the skip weights are still the ridge fit's."""
    import logging

    from lyra.models.estimators import NeuralModel
    from lyra.nn.ridge_start import ridge_initialise

    train, valid = _dataset(96, 1), _dataset(48, 2)
    reference = Lyra(4, 1, linear_skip=True, max_len=12)
    ridge_initialise(reference, train)
    for freeze in (False, True):
        torch.manual_seed(0)
        model = NeuralModel("lyra", 4, 1, {"d_model": 8, "d_state": 4, "linear_skip": True, "max_len": 12})
        config = TrainerConfig(epochs=2, batch_size=16, ridge_init=True, freeze_ridge=freeze, patience=100)
        with caplog.at_level(logging.INFO, logger="lyra.models.estimators"):
            model.fit(train, valid, "regression", config, progress=False)
        assert "ridge initialisation" in caplog.text and "at the start" in caplog.text
        assert torch.equal(model.module.skip.detach(), reference.skip.detach()) == freeze
