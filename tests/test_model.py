"""Numerical checks of the Lyra model against independent computations."""

import numpy as np
import pytest
import torch
from scipy.special import erf

from lyra.nn.lyra import PGC, Lyra, RMSNorm
from lyra.nn.pooling import masked_mean
from lyra.training.loop import optimizer_groups
from lyra.nn.s4d import S4D
from lyra.nn.substitutions import substitution_outputs


def _random_s4d(d_model=4, d_state=8, bidirectional=False, seed=0):
    """An S4D layer whose parameters are all perturbed away from their initial values."""
    torch.manual_seed(seed)
    layer = S4D(d_model, d_state, bidirectional=bidirectional).double()
    with torch.no_grad():
        layer.log_dt.uniform_(np.log(1e-3), np.log(1e-1))
        layer.log_A_real.add_(0.5 * torch.randn_like(layer.log_A_real))
        layer.A_imag.add_(torch.randn_like(layer.A_imag))
        layer.C.normal_()
        layer.D.normal_()
    return layer


def _recurrence(layer: S4D, u: np.ndarray, direction: int = 0) -> np.ndarray:
    """Step-by-step complex diagonal recurrence (float64), without the D skip.

    x_k = exp(dt A) x_{k-1} + (exp(dt A) - 1) / A * u_k,   y_k = 2 Re(C x_k).
    """
    dt = np.exp(layer.log_dt.detach().numpy())
    A = -np.exp(layer.log_A_real.detach().numpy()) + 1j * layer.A_imag.detach().numpy()
    C = torch.view_as_complex(layer.C.detach()).numpy()[direction]
    dA = np.exp(dt[:, None] * A)
    dB = (dA - 1.0) / A
    batch, H, L = u.shape
    state = np.zeros((batch, H, A.shape[1]), dtype=complex)
    y = np.empty((batch, H, L))
    for k in range(L):
        state = dA * state + dB * u[:, :, k : k + 1]
        y[:, :, k] = 2.0 * np.real((C * state).sum(-1))
    return y


@pytest.mark.parametrize("length", [1, 7, 64, 300, 1000])
def test_s4d_fft_convolution_matches_recurrence(length):
    layer = _random_s4d()
    u = torch.randn(2, 4, length, dtype=torch.float64)
    with torch.no_grad():
        y_fft = layer.ssm(u).numpy()
    D = layer.D.detach().numpy()
    y_rec = _recurrence(layer, u.numpy()) + D[None, :, None] * u.numpy()
    np.testing.assert_allclose(y_fft, y_rec, rtol=1e-4, atol=1e-4 * np.abs(y_rec).max())


def test_s4d_float32_kernel_matches_recurrence_impulse_response():
    """The default float32 layer: its kernel is the recurrence's impulse response."""
    torch.manual_seed(1)
    layer = S4D(8, 16)
    length = 500
    impulse = np.zeros((1, 8, length))
    impulse[0, :, 0] = 1.0
    expected = _recurrence(layer, impulse)[0]
    with torch.no_grad():
        kernel = layer.kernel(length).double().numpy()
    np.testing.assert_allclose(kernel, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize("length", [50, 300])  # the direct (Toeplitz) and the FFT path
def test_bidirectional_matches_forward_plus_reversed_recurrence(length):
    layer = _random_s4d(bidirectional=True)
    u = torch.randn(1, 4, length, dtype=torch.float64)
    with torch.no_grad():
        y = layer.ssm(u).numpy()
    un = u.numpy()
    forward = _recurrence(layer, un, direction=0)
    # backward kernel k1 acts on strictly later positions: lag -d uses k1[d - 1]
    shifted = np.concatenate([un[:, :, 1:], np.zeros_like(un[:, :, :1])], axis=-1)
    backward = _recurrence(layer, shifted[:, :, ::-1].copy(), direction=1)[:, :, ::-1]
    expected = forward + backward + layer.D.detach().numpy()[None, :, None] * un
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize("length", [9000, 20000])
def test_no_wraparound_at_long_lengths(length):
    """FFT convolution equals a direct causal convolution at the first and last positions."""
    torch.manual_seed(2)
    layer = S4D(2, 8)
    with torch.no_grad():
        layer.log_dt.fill_(np.log(1e-3))  # slow decay: the kernel reaches across the whole input
        u = torch.randn(1, 2, length)
        y = layer.ssm(u).double().numpy()[0]
        kernel = layer.kernel(length).double().numpy()
    un, D = u.double().numpy()[0], layer.D.detach().double().numpy()
    positions = list(range(20)) + list(range(length - 20, length))
    for h in range(2):
        for t in positions:
            direct = np.dot(kernel[h, : t + 1][::-1], un[h, : t + 1]) + D[h] * un[h, t]
            assert direct == pytest.approx(y[h, t], rel=1e-3, abs=1e-3 * np.abs(y[h]).max())


def test_kernel_cache_is_invalidated_when_parameters_change():
    layer = S4D(4, 8).eval()
    u = torch.randn(1, 10, 4)
    with torch.no_grad():
        first = layer(u)
        assert torch.equal(first, layer(u))
        layer.log_dt.add_(0.5)
        changed = layer(u)
    assert not torch.allclose(first, changed)
    with torch.no_grad():
        fresh = S4D(4, 8).eval()
        fresh.load_state_dict(layer.state_dict())
        assert torch.allclose(fresh(u), changed, atol=1e-6)


def test_parameter_count_matches_reference():
    model = Lyra(d_input=20, d_output=1, d_model=64, d_state=64)
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert abs(n_params - 47_169) <= 0.01 * 47_169


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["mean", "max"])
@pytest.mark.parametrize("longest", [30, 200])  # the direct (Toeplitz) and the FFT path
def test_prediction_independent_of_batch_padding(bidirectional, pooling, longest):
    torch.manual_seed(3)
    model = Lyra(4, 2, d_model=16, d_state=8, bidirectional=bidirectional, pooling=pooling).eval()
    _assert_padding_invariant(model, longest)


def _assert_padding_invariant(model, longest):
    """Three one-hot sequences (7, ``longest``, 19 long) padded into one batch with junk
    beyond each end predict what each predicts alone."""
    lengths = [7, longest, 19]
    x = torch.zeros(3, longest, 4)
    mask = torch.zeros(3, longest, dtype=torch.bool)
    for i, n in enumerate(lengths):
        x[i, torch.arange(n), torch.randint(0, 4, (n,))] = 1.0
        x[i, n:] = torch.rand(longest - n, 4)  # junk in the padding must not matter
        mask[i, :n] = True
    with torch.no_grad():
        batched = model(x, mask)
        for i, n in enumerate(lengths):
            alone = model(x[i : i + 1, :n])
            torch.testing.assert_close(batched[i : i + 1], alone, rtol=1e-5, atol=1e-5)


def test_pgc_gating_is_multiplicative_and_local():
    """A change at one position reaches only kernel_size // 2 neighbours through PGC."""
    torch.manual_seed(4)
    block = PGC(8, expansion=1.0, kernel_size=3).eval()
    u = torch.randn(1, 20, 8)
    v = u.clone()
    v[0, 10] += 1.0
    with torch.no_grad():
        diff = (block(u) - block(v)).abs().sum(-1)[0]
    changed = torch.nonzero(diff > 1e-6).flatten().tolist()
    assert changed == [9, 10, 11]


@pytest.mark.parametrize("kernel_size", [3, 5])
def test_pgc_in_pieces_matches_the_whole_sequence(kernel_size):
    """Inference on long inputs runs PGC piecewise along L; pieces, their halos and padding
    at the true ends must give the same result as one pass."""
    torch.manual_seed(8)
    block = PGC(6, expansion=2.0, kernel_size=kernel_size).eval()
    u = torch.randn(3, 101, 6)
    mask = torch.arange(101) < torch.tensor([[101], [77], [40]])
    whole = block._forward(u, mask)
    block.INFERENCE_CHUNK = 8  # 101 positions: 13 pieces, the last one short
    with torch.no_grad():
        pieces = block(u, mask)
    torch.testing.assert_close(pieces, whole.detach(), rtol=1e-5, atol=1e-6)


def test_rmsnorm_matches_torch_forward_and_backward():
    """The hand-written RMSNorm backward against autograd through torch's own RMSNorm."""
    torch.manual_seed(6)
    ours, reference = RMSNorm(12, eps=1e-6).double(), torch.nn.RMSNorm(12, eps=1e-6).double()
    with torch.no_grad():
        ours.weight.normal_()
        reference.weight.copy_(ours.weight)
    x = (3 * torch.randn(4, 9, 12, dtype=torch.float64)).requires_grad_()
    grad = torch.randn(4, 9, 12, dtype=torch.float64)
    x_ref = x.detach().clone().requires_grad_()
    ours(x).backward(grad)
    reference(x_ref).backward(grad)
    torch.testing.assert_close(ours(x), reference(x_ref), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(ours.weight.grad, reference.weight.grad, rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(ours, (x[:2, :3].detach().clone().requires_grad_(),))


def test_masked_mean_ignores_padding():
    x = torch.tensor([[[1.0], [3.0], [100.0]]])
    mask = torch.tensor([[True, True, False]])
    assert masked_mean(x, mask).item() == pytest.approx(2.0)


def test_ssm_parameters_get_their_own_group():
    model = Lyra(4, 1, d_model=8, d_state=4, ssm_lr=1e-4)
    groups = optimizer_groups(model, weight_decay=0.01, lr=1e-3)
    ssm = [g for g in groups if g["weight_decay"] == 0.0]
    assert len(ssm) == 1 and ssm[0]["lr"] == 1e-4
    ssm_ids = {id(p) for p in ssm[0]["params"]}
    layer = model.s4d_layers[0]
    assert ssm_ids == {id(layer.log_dt), id(layer.log_A_real), id(layer.A_imag)}
    n_grouped = sum(len(g["params"]) for g in groups)
    assert n_grouped == len(list(model.parameters()))


def test_tiny_model_overfits_random_sequences():
    torch.manual_seed(5)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (64, 20)), 4).float()
    y = torch.randn(64, 1)
    model = Lyra(4, 1, d_model=32, d_state=16, dropout=0.0)
    optimizer = torch.optim.AdamW(optimizer_groups(model, 0.0, 3e-3))
    initial = torch.nn.functional.mse_loss(model(x), y).item()
    for _ in range(300):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.1 * initial


# ---------------------------------------------------------------- position options (issue 15)

POSITION_OPTIONS = [
    {"position_embedding": "learned", "max_len": 40},
    {"position_embedding": "sinusoidal"},
    {"readout": "flatten", "max_len": 40},
    {"linear_skip": True, "max_len": 40},
    {"pgc_residual": True},
    {"position_embedding": "learned", "linear_skip": True, "readout": "flatten", "max_len": 40},
    {"hidden_head": 8, "max_len": 40},
    {"position_embedding": "learned", "linear_skip": True, "hidden_head": 8, "readout": "flatten", "max_len": 40},
    {"pair_sites": [[0, 5], [3, 39]], "max_len": 40},  # 39: beyond the padded test's length
    {"position_embedding": "learned", "linear_skip": True, "hidden_head": 8, "pair_sites": [[2, 30]], "max_len": 40},
]


def _perturbed(model):
    """Give the zero-initialised position and head parameters random values, so the tests see them."""
    with torch.no_grad():
        if hasattr(model, "head_output"):
            model.head_output.weight.normal_()
        for name in ("positions", "skip", "pair_table"):
            if hasattr(model, name):
                getattr(model, name).normal_()
    return model


@pytest.mark.parametrize("options", POSITION_OPTIONS)
def test_position_options_output_shape(options):
    model = Lyra(20, 3, d_model=16, d_state=8, **options)
    x = torch.nn.functional.one_hot(torch.randint(0, 20, (5, 40)), 20).float()
    assert model(x).shape == (5, 3)
    assert model(x[:, :25], torch.ones(5, 25, dtype=torch.bool)).shape == (5, 3)


@pytest.mark.parametrize("options", POSITION_OPTIONS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_position_options_prediction_independent_of_batch_padding(options, bidirectional):
    torch.manual_seed(5)
    model = _perturbed(Lyra(4, 2, d_model=16, d_state=8, bidirectional=bidirectional, **options)).eval()
    _assert_padding_invariant(model, 33)  # shorter than max_len: flatten/skip must treat the rest as absent


def test_position_options_parameter_counts():
    """Each option adds exactly the parameters it should, counted independently of the model."""
    d_input, d_model, max_len = 20, 64, 40
    base = 47_169  # the paper model (test_parameter_count_matches_reference)

    def count(**options):
        model = Lyra(d_input, 1, d_model=d_model, d_state=64, **options)
        return sum(p.numel() for p in model.parameters() if p.requires_grad)

    assert count() == base
    assert count(position_embedding="sinusoidal") == base  # fixed table
    assert count(pgc_residual=True) == base
    assert count(position_embedding="learned", max_len=max_len) == base + max_len * d_model
    assert count(linear_skip=True, max_len=max_len) == base + max_len * d_input * 1
    # flatten: the decoder reads max_len * d_model features instead of d_model
    assert count(readout="flatten", max_len=max_len) == base - d_model + max_len * d_model
    assert count(position_embedding="learned", linear_skip=True, readout="flatten", max_len=max_len) == (
        base + max_len * d_model + max_len * d_input - d_model + max_len * d_model)
    hidden = 16  # input weights U, the features' linear map A (+ bias) and the output weights V
    assert count(hidden_head=hidden, max_len=max_len) == (
        base + max_len * d_input * hidden + (d_model * hidden + hidden) + hidden * 1)
    assert count(hidden_head=hidden, readout="flatten", max_len=max_len) == (
        base - d_model + max_len * d_model + max_len * d_input * hidden + (max_len * d_model * hidden + hidden) + hidden)
    # one value per letter combination of each pair (and output)
    assert count(pair_sites=[[0, 1], [2, 3], [4, 39]], max_len=max_len) == base + 3 * d_input * d_input * 1


def test_paper_model_state_dict_is_unchanged_with_options_off():
    keys = set(Lyra(20, 1).state_dict())
    assert not any(k.startswith(("positions", "skip")) for k in keys)
    assert Lyra(20, 1).decoder.in_features == 64


@pytest.mark.parametrize("options", [o for o in POSITION_OPTIONS if "max_len" in o])
def test_too_long_input_raises_a_clear_error(options):
    model = Lyra(20, 1, d_model=16, d_state=8, **options)
    x = torch.zeros(2, 41, 20)
    with pytest.raises(ValueError, match=r"input length 41 exceeds max_len=40"):
        model(x)


@pytest.mark.parametrize("options", [{"position_embedding": "learned"}, {"readout": "flatten"},
                                     {"linear_skip": True}, {"hidden_head": 8}, {"pair_sites": [[0, 1]]}])
def test_length_limited_options_need_max_len(options):
    with pytest.raises(ValueError, match="max_len"):
        Lyra(20, 1, **options)


@pytest.mark.parametrize("sites", [[[0, 40]], [[-1, 3]], [[4, 4]]])
def test_pair_sites_outside_the_length_or_repeated_are_named(sites):
    with pytest.raises(ValueError, match="pair_sites must be pairs of two different positions in 0..max_len-1=39"):
        Lyra(20, 1, pair_sites=sites, max_len=40)


def test_pair_head_adds_one_table_value_per_pairs_letter_combination():
    """The pair head adds sum_k T[k, x_p, x_q] (one-hot input), recomputed in numpy."""
    torch.manual_seed(2)
    sites = [[0, 9], [4, 5], [2, 7]]
    model = _perturbed(Lyra(4, 2, d_model=8, d_state=4, pair_sites=sites, max_len=10)).eval()
    tokens = torch.randint(0, 4, (6, 10))
    x = torch.nn.functional.one_hot(tokens, 4).float()
    T = model.pair_table.detach().numpy().copy()
    with torch.no_grad():
        with_head = model(x).numpy()
        model.pair_table.zero_()
        without_head = model(x).numpy()
    t = tokens.numpy()
    expected = sum(T[k, t[:, p], t[:, q]] for k, (p, q) in enumerate(sites))
    np.testing.assert_allclose(with_head - without_head, expected, rtol=1e-5, atol=1e-5)


def test_unknown_position_option_values_are_named():
    with pytest.raises(ValueError, match="position_embedding"):
        Lyra(20, 1, position_embedding="rotary")
    with pytest.raises(ValueError, match="readout"):
        Lyra(20, 1, readout="attention")


def test_linear_skip_is_one_hot_ridge_nested_in_the_model():
    """With the network's decoder weights at zero the model is sum_p W[p, x_p] + bias."""
    torch.manual_seed(0)
    model = _perturbed(Lyra(4, 2, d_model=8, d_state=4, linear_skip=True, max_len=10)).eval()
    with torch.no_grad():
        model.decoder.weight.zero_()
    tokens = torch.randint(0, 4, (6, 10))
    x = torch.nn.functional.one_hot(tokens, 4).float()
    W = model.skip.detach().numpy()
    expected = np.stack([W[np.arange(10), t.numpy()].sum(0) for t in tokens]) + model.decoder.bias.detach().numpy()
    with torch.no_grad():
        np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_hidden_head_is_a_one_hidden_layer_network_added_to_the_output():
    """The head adds V gelu(sum_p U[p, x_p] + A r + c), r the pooled features, recomputed in numpy."""
    torch.manual_seed(1)
    model = _perturbed(Lyra(4, 2, d_model=8, d_state=4, hidden_head=5, max_len=10)).eval()
    tokens = torch.randint(0, 4, (6, 10))
    x = torch.nn.functional.one_hot(tokens, 4).float()
    U = model.head_input.detach().numpy()
    A, c = model.head_features.weight.detach().numpy(), model.head_features.bias.detach().numpy()
    V = model.head_output.weight.detach().numpy().copy()
    with torch.no_grad():
        h = model.local_features(x, None)
        for norm, s4d in zip(model.s4d_norms, model.s4d_layers):
            h = h + s4d(norm(h))
        pooled = h.mean(1).numpy()
        with_head = model(x).numpy()
        model.head_output.weight.zero_()
        without_head = model(x).numpy()
    z = np.stack([U[np.arange(10), t.numpy()].sum(0) for t in tokens]) + pooled @ A.T + c
    gelu = 0.5 * z * (1 + erf(z / np.sqrt(2)))
    np.testing.assert_allclose(with_head - without_head, gelu @ V.T, rtol=1e-4, atol=1e-4)


def test_sinusoidal_positions_match_the_formula():
    from lyra.nn.lyra import sinusoidal_positions

    table = sinusoidal_positions(7, 6).double().numpy()
    for p in range(7):
        for i in range(3):
            angle = p / 10000 ** (2 * i / 6)
            assert table[p, 2 * i] == pytest.approx(np.sin(angle), abs=1e-6)
            assert table[p, 2 * i + 1] == pytest.approx(np.cos(angle), abs=1e-6)
    assert sinusoidal_positions(4, 5).shape == (4, 5)  # odd width: the last channel is a sine


def test_learned_positions_break_translation_equivariance():
    """The paper model gives a circular shift of a periodic input (almost) the same output; with
    learned positions it need not (the point of the option)."""
    torch.manual_seed(0)
    tokens = torch.randint(0, 4, (1, 32))
    x = torch.nn.functional.one_hot(tokens, 4).float()
    shifted = torch.roll(x, 5, dims=1)
    model = _perturbed(Lyra(4, 1, d_model=8, d_state=4, position_embedding="learned", max_len=32)).eval()
    with torch.no_grad():
        assert not torch.allclose(model(x), model(shifted), atol=1e-3)


SUBSTITUTION_CONFIGS = [
    {}, {"bidirectional": True}, {"pooling": "max"}, {"pgc_residual": True, "conv_kernel_size": 5},
    {"n_s4d_layers": 0}, {"pgc_expansions": (), "position_embedding": "sinusoidal"},
    {"position_embedding": "learned", "linear_skip": True, "max_len": 70},
    {"readout": "flatten", "max_len": 70},
    {"position_embedding": "learned", "linear_skip": True, "hidden_head": 6, "max_len": 70},
    {"linear_skip": True, "hidden_head": 6, "pair_sites": [[0, 5], [2, 3], [1, 5]], "max_len": 70},
]


@pytest.mark.parametrize("options", SUBSTITUTION_CONFIGS)
@pytest.mark.parametrize("length", [6, 70])  # 70: the FFT path of the S4D layer; 6: shorter than the patch
def test_substitution_outputs_equal_forward_on_each_mutant(options, length):
    """The fast single-substitution path (local patch, shifted kernels) gives what the
    full forward pass gives on every mutated sequence, at every position incl. the ends."""
    torch.manual_seed(0)
    model = Lyra(20, 2, d_model=16, d_state=8, **options).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter += 0.1 * torch.randn_like(parameter)  # nonzero position tables and skip head
    x = torch.nn.functional.one_hot(torch.randint(0, 20, (length,)), 20).float()
    letters = torch.randn(20, 20)  # any per-letter input vectors, not only one-hot
    positions = torch.arange(length).repeat_interleave(20)
    letter_index = torch.arange(20).repeat(length)
    order = torch.randperm(len(positions))  # input order must not matter
    fast = substitution_outputs(model, x, letters, positions[order], letter_index[order])
    mutated = x.expand(len(positions), -1, -1).clone()
    mutated[torch.arange(len(positions)), positions[order]] = letters[letter_index[order]]
    with torch.no_grad():
        expected = model(mutated)
    torch.testing.assert_close(fast, expected, rtol=1e-4, atol=1e-5)


def test_substitution_outputs_refuse_several_s4d_layers_and_training_mode():
    x = torch.eye(20)[:5]
    with pytest.raises(ValueError, match="at most one S4D layer"):
        substitution_outputs(Lyra(20, 1, d_model=8, d_state=4, n_s4d_layers=2).eval(), x, torch.eye(20),
                             torch.tensor([0]), torch.tensor([1]))
    with pytest.raises(ValueError, match="eval mode"):
        substitution_outputs(Lyra(20, 1, d_model=8, d_state=4).train(), x, torch.eye(20), torch.tensor([0]),
                             torch.tensor([1]))


def test_a_long_training_batch_recomputes_layers_with_the_same_gradients(monkeypatch):
    from lyra.nn import lyra as model_module

    torch.manual_seed(0)
    net = Lyra(4, 1, d_model=8, d_state=8, dropout=0.2)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (2, 300)), 4).float()
    mask = torch.ones(2, 300, dtype=torch.bool)
    mask[1, 250:] = False

    def step(threshold):
        monkeypatch.setattr(model_module, "CHECKPOINT_POSITIONS", threshold)
        net.zero_grad()
        saved = []
        torch.manual_seed(1)  # the same dropout masks
        with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel()) or t, lambda t: t):
            out = net(x, mask)
        out.square().sum().backward()
        return out.detach(), {n: p.grad.clone() for n, p in net.named_parameters()}, sum(saved)

    net.train()
    out_held, grads_held, saved_held = step(10**9)
    out_recomputed, grads_recomputed, saved_recomputed = step(600)  # 2 x 300 positions: recomputed
    torch.testing.assert_close(out_recomputed, out_held, rtol=0, atol=0)
    for name, grad in grads_held.items():
        torch.testing.assert_close(grads_recomputed[name], grad, rtol=1e-6, atol=1e-7, msg=name)
    assert saved_recomputed < saved_held / 2
