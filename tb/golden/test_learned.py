"""Learned feedback (rule ``ddfa``), low-rank feedback (``rank``) and zero initial weights (``init = "zero"``).

The fixed-point rule against a scalar reference written from docs/fixed-point.md (exactly); the float
estimator against the true backward path it should learn; the LFSR directions; the low-rank factors;
the zero start; the configuration keys and the hardware identities they must not disturb.
"""

import json
import tomllib

import numpy as np
import pytest

from trifactor.golden.config import ConfigError, config_from_dict, load_config
from trifactor.golden.feedback import feedback_for_layer, feedback_matrices
from trifactor.golden.fixed_model import FixedNet, feedback_delta, softmax_error
from trifactor.golden.fixedpoint import Fixed
from trifactor.golden.float_model import FloatNet, init_weights
from trifactor.golden.lfsr import Directions, TAPS, initial_state, step
from trifactor.golden.train import load_data, train

from conftest import ROOT, make_config
from scalar_reference import ScalarNet, _narrow, _shift


# -- the scalar reference of one ddfa sample -------------------------------------------------------------------

class ScalarDirections:
    """The directions from their description: the 32-bit Galois LFSR x^32 + x^22 + x^2 + x + 1, its first state the
    seed mixed by golden's constants; one step per hidden neuron, +1 when the new state's low bit is 1."""

    def __init__(self, seed):
        self.state = ((seed * 0x9E3779B1 + 0x2545F491) % (1 << 32)) or 1

    def draw(self):
        out = self.state % 2
        self.state //= 2
        if out:
            self.state ^= (1 << 31) | (1 << 21) | (1 << 1) | 1
        return 1 if self.state % 2 else -1


class ScalarDDFA(ScalarNet):
    """Rule ``ddfa`` one scalar at a time: the forward pass and the output error of :class:`ScalarNet`, then the
    tangent, the learned deltas, the weight update and the feedback update as docs/fixed-point.md states them."""

    def __init__(self, cfg, weights, learned):
        super().__init__(cfg, weights, [])
        self.b = [[[int(v) for v in row] for row in b] for b in learned]
        # the learned entries: the fixed rule's positions (k per row)
        self.mask = [[[c in set(row) for c in range(cfg.n_classes)] for row in fb.index.tolist()]
                     for fb in feedback_matrices(cfg)]
        self.directions = ScalarDirections(cfg.feedback_seed)

    def train_sample(self, x, label):
        cfg, tan, one = self.cfg, self.cfg.tangent, self.cfg.tangent.one
        n_layers = len(self.w)
        inputs, fprimes, y = self.forward(x)
        e = self.output_error(y, label)
        u = [[self.directions.draw() for _ in range(n)] for n in cfg.sizes[1:-1]]
        # T. the tangent, over the weights before this sample's update; no bias column
        t = [uj * one for uj in u[0]]
        hidden_t, taus = [t], []
        for layer in range(1, n_layers):
            tau = []
            for row in self.w[layer]:
                acc = 0
                for i in range(len(t)):
                    acc += row[i] * t[i]
                tau.append(acc)
            taus.append(tau)
            a = [_shift(v, cfg.weight.frac, self.half_up) for v in tau]
            if layer < n_layers - 1:
                fp, ul = fprimes[layer], u[layer]
                t = [_narrow((a[j] if fp[j] else 0) + ul[j] * one, tan, self.sat) for j in range(len(a))]
                hidden_t.append(t)
            else:
                d = [_narrow(v, tan, self.sat) for v in a]
        # 3'. the learned deltas, with B before its update
        sums, deltas = [], [e]
        for layer in range(n_layers - 2, -1, -1):
            total, delta = [], []
            for j, row in enumerate(self.b[layer]):
                s = 0
                for c in range(cfg.n_classes):
                    if self.mask[layer][j][c]:
                        s += row[c] * e[c]
                total.append(s)
                delta.append(_narrow(_shift(s, cfg.weight.frac, self.half_up), cfg.error, self.sat)
                             if fprimes[layer][j] else 0)
            sums.insert(0, total)
            deltas.insert(0, delta)
        # 4. the weights, as every rule
        for spec, w, xa, dl in zip(cfg.layers, self.w, inputs, deltas):
            for j, row in enumerate(w):
                for i in range(len(row)):
                    row[i] = _narrow(row[i] - _shift(dl[j] * xa[i], spec.update_shift, self.upd_half_up),
                                     cfg.weight, self.sat)
        # 5'. the feedback, on its mask: B <- narrow(B - shift_right(B - (u_j d_c << (weight.frac - tangent.frac))))
        for layer, b in enumerate(self.b):
            for j, row in enumerate(b):
                for c in range(cfg.n_classes):
                    if self.mask[layer][j][c]:
                        v = u[layer][j] * d[c] * 2 ** (cfg.weight.frac - tan.frac)
                        row[c] = _narrow(row[c] - _shift(row[c] - v, cfg.rate_shift, self.upd_half_up),
                                         cfg.weight, self.sat)
        return {"u": u, "t": hidden_t, "tau": taus, "d": d, "e": e, "sums": sums, "deltas": deltas,
                "prediction": y.index(max(y))}


DDFA = {"rule": "ddfa"}
VARIANTS = {
    "one-hidden-dense-relu": dict(sizes=(6, 5, 3), feedback=DDFA),
    "one-hidden-sparse-hardtanh-truncate-wrap": dict(
        sizes=(7, 6, 4), network={"activation": "hardtanh"},
        feedback={**DDFA, "nonzeros_per_row": 2, "seed": 5, "rate_shift": 3},
        fixed={"rounding": "truncate", "update_rounding": "truncate", "overflow": "wrap"}),
    "one-hidden-mse-rate0-tangent-as-weight": dict(
        sizes=(5, 6, 3), network={"loss": "mse"}, feedback={**DDFA, "rate_shift": 0},
        fixed={"tangent": {"width": 16, "frac": 12}}),
    "two-hidden-sparse-k1-relu-random-start": dict(
        sizes=(6, 5, 4, 3), feedback={**DDFA, "nonzeros_per_row": 1, "start": "random", "seed": 2}),
    "two-hidden-dense-hardtanh-narrow-tangent-wrap": dict(
        sizes=(6, 7, 5, 4), network={"activation": "hardtanh"}, feedback={**DDFA, "rate_shift": 2},
        fixed={"tangent": {"width": 7, "frac": 3}, "overflow": "wrap", "update_rounding": "truncate"}),
    "two-hidden-hardtanh-zero-init": dict(
        sizes=(6, 5, 4, 3), network={"activation": "hardtanh", "init": "zero"},
        feedback={**DDFA, "start": "random", "rate_shift": 4}, fixed={"rounding": "truncate"}),
    "three-hidden-sparse-relu-wrap": dict(
        sizes=(6, 5, 4, 5, 3), feedback={**DDFA, "nonzeros_per_row": 2, "rate_shift": 5},
        fixed={"overflow": "wrap", "tangent": {"width": 10, "frac": 5}}),
    "three-hidden-dense-hardtanh-truncate-saturate": dict(
        sizes=(6, 5, 4, 5, 3), network={"activation": "hardtanh"}, feedback={**DDFA, "seed": 9},
        fixed={"rounding": "truncate", "tangent": {"width": 9, "frac": 4}}),
}


def _random_inputs(cfg, rng, n):
    """Inputs across the whole input format, extremes and zeros included."""
    x = rng.integers(cfg.input.min, cfg.input.max + 1, size=(n, cfg.sizes[0]))
    x[0], x[1], x[2] = cfg.input.max, cfg.input.min, 0
    x[rng.random(x.shape) < 0.3] = 0
    return x


def _assert_ddfa_run(cfg, samples=40, seed=0):
    """``samples`` training samples of ``FixedNet`` and :class:`ScalarDDFA` from the same state: every intermediate
    and, after every sample, every weight and every learned B equal."""
    rng = np.random.default_rng(seed)
    net = FixedNet(cfg, seed=seed)
    if cfg.init != "zero":  # large weights on every other layer: saturation and wrapping, not only the init
        net.weights = [rng.integers(cfg.weight.min, cfg.weight.max + 1, size=w.shape) if i % 2 else w
                       for i, w in enumerate(net.weights)]
    # B on its mask: within +-2.0 on the first layer, anything the format holds on the others
    one = cfg.weight.one
    net.learned = [np.where(mask, rng.integers(-2 * one, 2 * one + 1, size=mask.shape) if i == 0 else
                            rng.integers(cfg.weight.min, cfg.weight.max + 1, size=mask.shape), 0)
                   for i, mask in enumerate(net.masks)]
    start = [b.copy() for b in net.learned]
    reference = ScalarDDFA(cfg, net.weights, net.learned)
    x = _random_inputs(cfg, rng, samples)
    labels = rng.integers(0, cfg.n_classes, size=samples)
    for n in range(samples):
        got = net.train_sample(x[n], int(labels[n]))
        want = reference.train_sample(list(x[n]), int(labels[n]))
        where = f"sample {n}"
        assert got["prediction"] == want["prediction"], where
        learned = got["learned"]
        assert learned["u"] == want["u"], where
        assert len(learned["t"]) == len(want["t"]) == cfg.n_layers - 1, where
        for layer, (t, t_ref) in enumerate(zip(learned["t"], want["t"])):
            np.testing.assert_array_equal(t, t_ref, err_msg=f"{where}, t of hidden layer {layer}")
        for layer, (tau, tau_ref) in enumerate(zip(learned["tau"], want["tau"])):
            np.testing.assert_array_equal(tau, tau_ref, err_msg=f"{where}, tau of layer {layer + 1}")
        np.testing.assert_array_equal(learned["d"], want["d"], err_msg=f"{where}, output tangent d")
        np.testing.assert_array_equal(got["error"]["e"], want["e"], err_msg=f"{where}, e")
        for layer, (s, s_ref) in enumerate(zip(got["feedback_sum"], want["sums"])):
            np.testing.assert_array_equal(s, s_ref, err_msg=f"{where}, B e of layer {layer}")
        for layer, (d, d_ref) in enumerate(zip(got["delta"], want["deltas"])):
            np.testing.assert_array_equal(d, d_ref, err_msg=f"{where}, delta of layer {layer}")
        for layer, (w, w_ref) in enumerate(zip(net.weights, reference.w)):
            np.testing.assert_array_equal(w, np.array(w_ref), err_msg=f"{where}, W of layer {layer}")
        for layer, (b, b_ref) in enumerate(zip(net.learned, reference.b)):
            np.testing.assert_array_equal(b, np.array(b_ref), err_msg=f"{where}, B of layer {layer}")
    for b, b0, mask in zip(net.learned, start, net.masks):
        assert not np.array_equal(b, b0), "the feedback learned nothing: the run tests nothing"
        assert not b[~mask].any(), "B left its mask"
    return net


@pytest.mark.parametrize("variant", VARIANTS)
def test_fixed_ddfa_matches_scalar_reference(variant):
    _assert_ddfa_run(make_config(**VARIANTS[variant]))


def test_fixed_ddfa_zero_start_matches_scalar_reference_and_learns_on_the_mask():
    """The default start: B = 0, so the first deltas are 0 and B grows from u d^T alone."""
    cfg = make_config(sizes=(6, 9, 4), feedback={**DDFA, "nonzeros_per_row": 2, "rate_shift": 2})
    net = FixedNet(cfg, seed=1)
    assert all(not b.any() for b in net.learned)
    reference = ScalarDDFA(cfg, net.weights, net.learned)
    rng = np.random.default_rng(1)
    x, labels = _random_inputs(cfg, rng, 20), rng.integers(0, 4, 20)
    first = net.train_sample(x[0], int(labels[0]))
    reference.train_sample(list(x[0]), int(labels[0]))
    assert not first["delta"][0].any(), "a zero B gives zero hidden deltas"
    for n in range(1, 20):
        net.train_sample(x[n], int(labels[n]))
        reference.train_sample(list(x[n]), int(labels[n]))
    np.testing.assert_array_equal(net.learned[0], np.array(reference.b[0]))
    assert (net.masks[0].sum(axis=1) == 2).all() and net.learned[0].any() and not net.learned[0][~net.masks[0]].any()


def test_fixed_ddfa_arrays_hold_the_learned_feedback():
    cfg = make_config(sizes=(6, 5, 4, 3), feedback=DDFA)
    net = FixedNet(cfg)
    net.train_sample(np.ones(6, dtype=np.int64) * 8, 1)
    arrays = net.arrays()
    assert {"B0", "B1"} <= set(arrays) and "B2" not in arrays
    np.testing.assert_array_equal(arrays["B1"], net.learned[1])
    assert arrays["B0"].shape == (5, 3) and arrays["B1"].shape == (4, 3)
    assert "B0" not in FixedNet(make_config(sizes=(6, 5, 3))).arrays()


# -- the float estimator ----------------------------------------------------------------------------------------

def _frozen_float_net(sizes, perturbation, rate_shift, seed=0):
    cfg = make_config(sizes=sizes, feedback={**DDFA, "rate_shift": rate_shift, "perturbation": perturbation},
                      training={"learning_rate": 1e-12})
    return FloatNet(cfg, seed=seed, track_angles=True)


def _relative_error(b, target):
    return float(np.linalg.norm(b - target) / np.linalg.norm(target))


@pytest.mark.parametrize("perturbation", ["rademacher", "gaussian"])
def test_float_feedback_converges_to_the_true_backward_path(perturbation):
    """One hidden layer: E[u d^T] = W_out[:, :-1]^T for every sample, so B tends to it and the learned delta's
    angle to backpropagation's shrinks. The forward weights are frozen (learning rate 1e-12)."""
    net = _frozen_float_net((8, 12, 5), perturbation, rate_shift=12)
    rng = np.random.default_rng(3)
    x, labels = rng.standard_normal((16000, 8)), rng.integers(0, 5, 16000)
    errors = []
    for n in range(16000):
        if n in (0, 1000, 4000, 8000):
            errors.append(_relative_error(net.feedback[0], net.weights[-1][:, :-1].T))
        net.train_sample(x[n], int(labels[n]))
    errors.append(_relative_error(net.feedback[0], net.weights[-1][:, :-1].T))
    assert errors[0] == 1.0  # B starts at zero
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.1, errors
    angles = np.array([a[0] for a in net.angles])
    assert np.isnan(angles[0])  # B = 0: no learned delta on the first sample
    means = [float(np.mean(angles[a:b])) for a, b in ((1, 20), (100, 300), (1000, 2000), (14000, 16000))]
    assert means[0] > 40 and means[-1] < 5 and all(a > b for a, b in zip(means, means[1:])), means


def test_float_feedback_of_two_hidden_layers_tends_to_the_mean_jacobian():
    """Two hidden layers: B_1 tends to W_2^T, and B_0 to the mean over the samples of J_0^T = (W_2 D_1 W_1)^T,
    D_1 = diag(f'_1), through the tangent of the layer between."""
    net = _frozen_float_net((6, 8, 7, 4), "rademacher", rate_shift=11)
    rng = np.random.default_rng(4)
    pool = rng.standard_normal((200, 6))
    order = rng.integers(0, 200, 24000)
    w1, w2 = net.weights[1][:, :-1], net.weights[2][:, :-1]
    jacobians = []
    for x in pool:
        a = net.weights[0] @ np.append(x, 1.0)
        fp1 = (net.weights[1] @ np.append(np.maximum(a, 0), 1.0) > 0).astype(float)
        jacobians.append((w2 @ np.diag(fp1) @ w1).T)
    mean_j0 = np.mean(jacobians, axis=0)
    assert np.std(jacobians, axis=0).max() > 0.05, "f'_1 must vary, or the test does not test the mean"
    for n in order:
        net.train_sample(pool[n], int(n % 4))
    assert _relative_error(net.feedback[1], w2.T) < 0.1
    assert _relative_error(net.feedback[0], mean_j0) < 0.25
    assert _relative_error(net.feedback[0], (w2 @ w1).T) > 0.4, "without f'_1 the estimate would be far off"


@pytest.mark.parametrize("activation", ["relu", "hardtanh"])
def test_float_ddfa_sample_uses_the_old_weights_and_the_old_feedback(activation):
    """One float sample against the rule written out: tangent over the weights before the update, deltas from B
    before its update, B moved 2**-rate_shift toward u d^T on its mask only."""
    cfg = make_config(sizes=(5, 6, 4, 3), network={"activation": activation},
                      feedback={**DDFA, "nonzeros_per_row": 2, "start": "random", "rate_shift": 2},
                      training={"learning_rate": 0.5})
    net = FloatNet(cfg, seed=3)
    rng = np.random.default_rng(5)
    for b in net.feedback:
        b += rng.standard_normal(b.shape) * (b != 0)
    for sample in range(3):
        x, label = rng.standard_normal(5), sample % 3
        w, b = [m.copy() for m in net.weights], [m.copy() for m in net.feedback]
        u = [np.array(layer, dtype=float) for layer in _directions_after(sample, [6, 4])]
        h, fps, inputs = x, [], []
        for index, wl in enumerate(w):
            inputs.append(h)
            a = wl @ np.append(h, 1.0)
            if index < 2:
                fp = (a > 0) if activation == "relu" else (np.abs(a) < 1)
                h = np.maximum(a, 0) if activation == "relu" else np.clip(a, -1, 1)
                fps.append(fp.astype(float))
            else:
                h = a
        p = np.exp(h - h.max())
        e = p / p.sum() - np.eye(3)[label]
        t = u[0]
        t = fps[1] * (w[1][:, :-1] @ t) + u[1]
        d = w[2][:, :-1] @ t
        deltas = [fps[0] * (b[0] @ e), fps[1] * (b[1] @ e), e]
        net.train_sample(x, label)
        for l in range(2):
            mask = net.masks[l]
            want = np.where(mask, b[l] - 0.25 * (b[l] - np.outer(u[l], d)), 0.0)
            np.testing.assert_allclose(net.feedback[l], want, rtol=1e-12, atol=1e-15)
        for l in range(3):
            want = w[l] - 0.5 * np.outer(deltas[l], np.append(inputs[l], 1.0))
            np.testing.assert_allclose(net.weights[l], want, rtol=1e-12, atol=1e-15)


def _directions_after(samples, sizes):
    """The directions of training sample number ``samples`` (0-based) of a seed-0 net."""
    directions = Directions(0)
    for _ in range(samples):
        directions.next(sizes)
    return directions.next(sizes)


# -- the directions ---------------------------------------------------------------------------------------------

def test_directions_are_the_lfsr_low_bits_step_by_step():
    directions = Directions(7)
    state = initial_state(7)
    for _ in range(5):
        got = directions.next([9, 4])
        want = []
        for n in (9, 4):
            layer = []
            for _ in range(n):
                state = step(state, lambda s: TAPS if s & 1 else 0)
                layer.append(1 if state & 1 else -1)
            want.append(layer)
        assert got == want
        assert directions.state == state
    assert [type(v) for v in got[0]] == [int] * 9


def test_directions_have_zero_mean_and_identity_covariance():
    directions = Directions(0)
    u = np.array([sum(directions.next([12, 4]), []) for _ in range(6000)], dtype=np.float64)
    assert set(np.unique(u)) == {-1.0, 1.0}
    assert np.abs(u.mean(axis=0)).max() < 0.05
    cov = u.T @ u / len(u)
    np.testing.assert_array_equal(np.diag(cov), 1.0)
    assert np.abs(cov - np.eye(16)).max() < 0.06
    # one sample's directions do not repeat the last one's
    lagged = u[1:].T @ u[:-1] / (len(u) - 1)
    assert np.abs(lagged).max() < 0.06


def test_seeds_give_different_directions():
    assert Directions(0).next([32]) != Directions(1).next([32])


@pytest.mark.parametrize("model", [FixedNet, FloatNet])
def test_infer_does_not_step_the_directions(model):
    cfg = make_config(sizes=(6, 5, 4, 3), feedback=DDFA)
    net, twin = model(cfg), model(cfg)
    x = net.quantize_inputs(np.random.default_rng(0).random((4, 6)))
    state = net.directions.state
    net.predict(x)
    assert net.directions.state == state
    net.train_sample(x[0], 1)
    twin.predict(x)
    twin.predict(x[:1])
    twin.train_sample(x[0], 1)
    assert net.directions.state == twin.directions.state != state
    if model is FixedNet:
        result = net.train_sample(x[1], 0)
        assert result["learned"]["u"] == twin.train_sample(x[1], 0)["learned"]["u"]


def test_a_training_sample_steps_once_per_hidden_neuron():
    cfg = make_config(sizes=(6, 5, 4, 3), feedback=DDFA)
    net = FixedNet(cfg)
    state = net.directions.state
    result = net.train_sample(np.zeros(6, dtype=np.int64), 0)
    ref = Directions(cfg.feedback_seed)
    assert result["learned"]["u"] == ref.next([5, 4]) and net.directions.state == ref.state != state


def test_fixed_and_float_draw_the_same_directions():
    cfg = make_config(sizes=(6, 5, 4, 3), feedback=DDFA)
    fixed, floating = FixedNet(cfg), FloatNet(cfg)
    rng = np.random.default_rng(2)
    for _ in range(3):
        x = rng.random(6)
        fixed.train_sample(fixed.quantize_inputs(x), 1)
        floating.train_sample(floating.quantize_inputs(x), 1)
        assert fixed.directions.state == floating.directions.state


# -- low-rank feedback ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_classes", [10, 5])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_low_rank_table_is_q_p_transposed_with_balanced_p(rank, n_classes):
    cfg = make_config(sizes=(8, 40, 30, n_classes), feedback={"rule": "dfa", "rank": rank})
    assert cfg.rank == rank and cfg.nonzeros_per_row == n_classes
    for fb in feedback_matrices(cfg):
        q, p = fb.factors
        assert q.shape == (fb.index.shape[0], rank) and p.shape == (n_classes, rank)
        assert set(np.unique(q)) == {-1, 1} and set(np.unique(p)) == {-1, 1}
        np.testing.assert_array_equal(fb.sign, q @ p.T)
        assert np.abs(fb.sign).max() <= rank
        np.testing.assert_array_equal(fb.index, np.tile(np.arange(n_classes), (fb.index.shape[0], 1)))
        np.testing.assert_array_equal(p.sum(axis=0), n_classes % 2)  # balanced: as many +1 as -1 (one more if odd)
    for fb, dense in zip(feedback_matrices(cfg), FloatNet(cfg).feedback):
        q, p = fb.factors
        np.testing.assert_array_equal(dense, (q @ p.T) * 2.0 ** -cfg.scale_shift)


@pytest.mark.parametrize("rank", [1, 2, 4])
def test_low_rank_deltas_equal_the_sum_through_the_factors(rank):
    """``feedback_delta`` over the table equals s = P^T e (r sums, once a sample), then Q s per neuron, shifted."""
    cfg = make_config(sizes=(8, 24, 10), feedback={"rule": "dfa", "rank": rank},
                      fixed={"overflow": "wrap"} if rank == 4 else {})
    fb = feedback_for_layer(cfg, 0)
    q, p = fb.factors
    rng = np.random.default_rng(rank)
    half_up, sat = cfg.rounding.value == "half_up", cfg.overflow.value == "saturate"
    for _ in range(50):
        e = rng.integers(cfg.error.min, cfg.error.max + 1, 10)
        fprime = rng.integers(0, 2, 24)
        s = [sum(int(p[c, m]) * int(e[c]) for c in range(10)) for m in range(rank)]
        totals = [sum(int(q[j, m]) * s[m] for m in range(rank)) for j in range(24)]
        deltas = [_narrow(_shift(t, cfg.scale_shift, half_up), cfg.error, sat) if fprime[j] else 0
                  for j, t in enumerate(totals)]
        total, d = feedback_delta(e, fprime, fb, cfg)
        np.testing.assert_array_equal(total, totals)
        np.testing.assert_array_equal(d, deltas)


def test_low_rank_fixed_net_uses_the_factors():
    cfg = make_config(sizes=(8, 12, 10), feedback={"rule": "dfa", "rank": 1})
    q, p = feedback_for_layer(cfg, 0).factors
    net = FixedNet(cfg)
    rng = np.random.default_rng(0)
    for label in range(10):
        result = net.train_sample(rng.integers(-40, 40, 8), label)
        s = int(p[:, 0] @ result["error"]["e"])
        np.testing.assert_array_equal(result["feedback_sum"][0], q[:, 0] * s)


def test_low_rank_avoids_the_softmax_sum_zero_pitfall():
    """Softmax errors sum to 0, so a constant column of P would give P^T e = 0 on every sample; balanced columns
    give a usable signal on nearly every sample."""
    for n_classes in (10, 5, 2):
        cfg = make_config(sizes=(8, 12, n_classes), feedback={"rule": "dfa", "rank": 1 if n_classes == 2 else 2})
        p = feedback_for_layer(cfg, 0).factors[1]
        rng = np.random.default_rng(n_classes)
        s = []
        for _ in range(300):
            y = rng.integers(-4 * cfg.act.one, 4 * cfg.act.one, n_classes)
            e = softmax_error(y, int(rng.integers(0, n_classes)), cfg)["e"]
            assert abs(int(e.sum())) <= n_classes  # the pitfall is real: the errors sum to 0 up to rounding
            s.append(p.T @ e)
        small = np.abs(np.array(s)) <= n_classes
        assert small.mean() < 0.1, (n_classes, small.mean())


def test_rank_one_zero_started_dfa_still_trains_through_the_scalar():
    cfg = make_config(sizes=(8, 12, 10), network={"activation": "hardtanh", "init": "zero"},
                      feedback={"rule": "dfa", "rank": 1})
    net = FixedNet(cfg)
    rng = np.random.default_rng(0)
    for label in range(10):
        net.train_sample(rng.integers(-40, 40, 8), label)
    assert net.weights[0].any()


# -- init = "zero" ----------------------------------------------------------------------------------------------

ZERO = [
    dict(sizes=(8, 6, 3), network={"activation": "hardtanh", "init": "zero"}, feedback={"rule": "dfa"}),
    dict(sizes=(8, 6, 5, 3), network={"activation": "hardtanh", "init": "zero"}),
    dict(sizes=(8, 6, 3), network={"activation": "hardtanh", "init": "zero"}, feedback={**DDFA, "start": "random"}),
]


@pytest.mark.parametrize("options", ZERO)
def test_zero_init_gives_zero_weights_in_float_and_fixed(options):
    cfg = make_config(**options)
    for seed in (0, 5):
        for weights in (init_weights(cfg, seed), FixedNet(cfg, seed).weights, FloatNet(cfg, seed).weights):
            assert [w.shape for w in weights] == [(s.n_out, s.n_in + 1) for s in cfg.layers]
            assert not any(w.any() for w in weights)
    assert any(w.any() for w in init_weights(make_config(sizes=cfg.sizes), 0))


def test_zero_started_hardtanh_dfa_learns_digits():
    cfg = make_config(sizes=(64, 32, 10), network={"activation": "hardtanh", "init": "zero"},
                      feedback={"rule": "dfa"})
    net = FixedNet(cfg)
    result = train(net, load_data(cfg), epochs=2, seed=0)
    assert result["test_accuracy"] > 0.8, result["history"]
    assert len({tuple(row) for row in net.weights[0]}) > 16, "the hidden neurons stayed alike"


def test_zero_started_ddfa_with_a_random_feedback_start_learns_digits():
    cfg = make_config(sizes=(64, 32, 10), network={"activation": "hardtanh", "init": "zero"},
                      feedback={**DDFA, "start": "random"})
    result = train(FixedNet(cfg), load_data(cfg), epochs=2, seed=0)
    assert result["test_accuracy"] > 0.8, result["history"]


REFUSED_ZERO = [
    ({"network": {"activation": "relu", "init": "zero"}, "feedback": {"rule": "dfa"}}, "hardtanh"),
    ({"network": {"activation": "hardtanh", "init": "zero"}, "feedback": {"rule": "bp"}}, "init = 'uniform'"),
    ({"network": {"activation": "hardtanh", "init": "zero"}, "feedback": {"rule": "hybrid"}}, "init = 'uniform'"),
    ({"network": {"activation": "hardtanh", "init": "zero"}, "feedback": DDFA}, "start = 'random'"),
    ({"network": {"activation": "hardtanh", "init": "zero"}, "feedback": {**DDFA, "start": "zero"}},
     "start = 'random'"),
]


@pytest.mark.parametrize("sections, fix", REFUSED_ZERO)
def test_zero_init_refusals_are_one_line_and_name_the_fix(sections, fix):
    raw = {"network": {"sizes": [8, 6, 3], **sections["network"]}, "feedback": sections["feedback"]}
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw, source="zero.toml")
    message = str(info.value)
    assert info.value.key == "[network] init", message
    assert message.startswith("zero.toml: [network] init") and "\n" not in message
    assert fix in message.split("; fix: ", 1)[1], message


# -- configuration ----------------------------------------------------------------------------------------------

NEW_DDFA_KEYS = [("feedback", {"rate_shift": 8}), ("feedback", {"perturbation": "rademacher"}),
                 ("feedback", {"start": "zero"}), ("fixed", {"tangent": {"width": 12, "frac": 6}})]


@pytest.mark.parametrize("rule", ["ssdfa", "dfa", "hybrid", "bp"])
@pytest.mark.parametrize("section, values", NEW_DDFA_KEYS, ids=[next(iter(v)) for _, v in NEW_DDFA_KEYS])
def test_ddfa_keys_are_refused_with_other_rules(rule, section, values):
    raw = {"network": {"sizes": [8, 6, 3]}, "feedback": {"rule": rule}}
    raw.setdefault(section, {}).update(values)
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw)
    key = next(iter(values))
    assert info.value.key == f"[{section}] {key}" and "only applies to rule 'ddfa'" in str(info.value)
    assert "\n" not in str(info.value) and "; fix: " in str(info.value)


@pytest.mark.parametrize("feedback, fix", [({"rule": "dfa", "rank": 1, "values": "continuous"}, "remove rank"),
                                           ({"rule": "ddfa", "values": "continuous"}, "start = 'random'")])
def test_continuous_values_are_refused_where_they_change_nothing(feedback, fix):
    with pytest.raises(ConfigError) as info:
        make_config(feedback=feedback)
    assert info.value.key == "[feedback] values" and fix in str(info.value) and "\n" not in str(info.value)
    make_config(feedback={"rule": "ddfa", "values": "continuous", "start": "random"})  # B starts at that table


@pytest.mark.parametrize("rule", ["ssdfa", "hybrid", "bp", "ddfa"])
def test_rank_is_refused_with_rules_other_than_dfa(rule):
    with pytest.raises(ConfigError) as info:
        make_config(feedback={"rule": rule, "rank": 1})
    assert info.value.key == "[feedback] rank" and "rule = 'dfa'" in str(info.value)


def test_ddfa_defaults_resolve():
    cfg = make_config(sizes=(8, 6, 5, 4), feedback=DDFA)
    assert (cfg.rate_shift, cfg.perturbation, cfg.feedback_start) == (8, "rademacher", "zero")
    assert cfg.tangent == Fixed(12, 6) and cfg.nonzeros_per_row == 4 and cfg.scale_shift == 1
    assert (cfg.init, cfg.rank) == ("uniform", 0)
    other = make_config()
    assert (other.init, other.rank, other.rate_shift, other.perturbation, other.feedback_start, other.tangent) == \
        ("uniform", 0, 0, "", "", None)
    low = make_config(sizes=(8, 6, 10), feedback={"rule": "dfa", "rank": 3})
    assert (low.rank, low.nonzeros_per_row, low.scale_shift) == (3, 10, 2)  # dense dfa's k and scale


#: bad values of the learned-feedback keys: tb/golden/test_config.py checks them with every other bad value
BAD_LEARNED = [
    ({"network": {"sizes": [8, 3]}, "feedback": DDFA}, "[feedback] rule", "hidden"),
    ({"network": {"sizes": [8, 6, 3]}, "feedback": {**DDFA, "rate_shift": 17}}, "[feedback] rate_shift", "range"),
    ({"network": {"sizes": [8, 6, 3]}, "feedback": {**DDFA, "perturbation": "uniform"}}, "[feedback] perturbation",
     "rademacher"),
    ({"network": {"sizes": [8, 6, 3]}, "feedback": {**DDFA, "start": "ones"}}, "[feedback] start", "random"),
    ({"network": {"sizes": [8, 6, 3]}, "feedback": DDFA, "fixed": {"tangent": {"width": 8, "frac": 7}}},
     "[fixed] tangent", "1.0"),
    ({"network": {"sizes": [8, 6, 3]}, "feedback": DDFA, "fixed": {"tangent": {"width": 20, "frac": 13}}},
     "[fixed] tangent", "finer than the weight format"),
    ({"network": {"sizes": [8, 6, 3], "init": "ones"}}, "[network] init", "uniform"),
    ({"network": {"sizes": [8, 6, 3]}, "feedback": {"rule": "dfa", "rank": 4}}, "[feedback] rank", "range"),
    ({"network": {"sizes": [8, 6, 3]}, "feedback": {"rule": "dfa", "rank": -1}}, "[feedback] rank", "range"),
]


def test_full_rank_is_plain_dense_feedback():
    full = make_config(feedback={"rule": "dfa", "rank": 3})
    plain = make_config(feedback={"rule": "dfa"})
    assert full.rank == 0 and full.hardware_id() == plain.hardware_id()


ROUND_TRIP = [
    dict(sizes=(8, 6, 3), feedback=DDFA),
    dict(sizes=(8, 6, 5, 4), network={"activation": "hardtanh", "init": "zero"},
         feedback={**DDFA, "nonzeros_per_row": 2, "rate_shift": 5, "perturbation": "gaussian", "start": "random"},
         fixed={"tangent": {"width": 10, "frac": 4}}),
    dict(sizes=(8, 6, 10), feedback={"rule": "dfa", "rank": 2}),
    dict(sizes=(8, 6, 3), network={"activation": "hardtanh", "init": "zero"}, feedback={"rule": "ssdfa"}),
    dict(sizes=(8, 6, 3), feedback={"rule": "hybrid"}),
]


@pytest.mark.parametrize("options", ROUND_TRIP)
def test_to_dict_round_trips(options):
    cfg = make_config(**options)
    data = cfg.to_dict()
    data.pop("derived")
    again = config_from_dict(json.loads(json.dumps(data)))
    assert again == cfg
    assert again.to_dict() == cfg.to_dict() and again.hardware_id() == cfg.hardware_id()


#: hardware_id of every configuration file and of each rule's defaults at the commit before learned feedback
#: (bad012a~1): the new keys at their defaults must leave every built core's identity alone. These cores
#: multiplied the softmax's u * r on the output error unit's Booth multiplier: since ``softmax_product = "auto"``
#: became the default (lane 0's multiplier where it fits, a different circuit with an identity of its own) they
#: are the files with ``softmax_product = "booth"``
HARDWARE_IDS_BEFORE = {
    "digits-bp.toml": 0x75a2cadd, "digits-deep.toml": 0xd09a2598, "digits-hybrid.toml": 0x6c21362b,
    "digits-store.toml": 0x829c0281, "digits.toml": 0xda303f19, "digits32.toml": 0x64f0e373,
    "mnist-up5k.toml": 0xf650d547, "mnist5k.toml": 0x9f9d6e44, "wine.toml": 0x07e54958,
}
DICT_IDS_BEFORE = [
    ({"network": {"sizes": [8, 6, 3]}}, 0xa6f6fa1b),
    ({"network": {"sizes": [8, 6, 3], "activation": "hardtanh", "loss": "mse"}, "feedback": {"rule": "dfa"}},
     0xead1bdde),
    ({"network": {"sizes": [8, 6, 5, 3]}, "feedback": {"rule": "bp"}}, 0xbc59fa8d),
    ({"network": {"sizes": [8, 6, 3]}, "feedback": {"rule": "hybrid", "nonzeros_per_row": 2}}, 0x815254ec),
    ({"network": {"sizes": [8, 6, 3]}, "hardware": {"banks": "spram"}}, 0x29df2a7f),
]


@pytest.mark.parametrize("name", HARDWARE_IDS_BEFORE)
def test_config_files_keep_their_hardware_id(name):
    raw = tomllib.loads((ROOT / "configs" / name).read_text())
    raw["hardware"]["softmax_product"] = "booth"
    assert config_from_dict(raw).hardware_id() == HARDWARE_IDS_BEFORE[name]


def test_softmax_product_auto_is_the_lanes_circuit_where_it_fits():
    for name in HARDWARE_IDS_BEFORE:
        raw = tomllib.loads((ROOT / "configs" / name).read_text())
        products = {}
        for product in ("auto", "lanes", "booth"):
            raw["hardware"]["softmax_product"] = product
            try:
                products[product] = config_from_dict(raw)
            except ConfigError:  # "lanes" where it does not fit
                assert product == "lanes" and not products["auto"].softmax_lanes_fit
        auto = products["auto"]
        on_lanes = auto.softmax_lanes_fit and auto.pipeline == "compact"  # "fast" keeps lane 0's operand short
        twin = products["lanes"] if on_lanes else products["booth"]
        assert auto.softmax_on_lanes == on_lanes, name
        assert auto.hardware_id() == twin.hardware_id(), name
        assert (auto.hardware_id() == products["booth"].hardware_id()) != on_lanes, name
    assert not load_config(ROOT / "configs" / "digits32.toml").softmax_on_lanes  # the fast pipeline
    assert load_config(ROOT / "configs" / "digits.toml").softmax_on_lanes


@pytest.mark.parametrize("raw, before", DICT_IDS_BEFORE)
def test_defaults_keep_their_hardware_id_and_the_new_keys_at_default_too(raw, before):
    raw = {**raw, "hardware": {**raw.get("hardware", {}), "softmax_product": "booth"}}  # the circuit before "auto"
    assert config_from_dict(raw).hardware_id() == before
    explicit = {**raw, "network": {**raw["network"], "init": "uniform"},
                "feedback": {**raw.get("feedback", {}), "rank": 0}}
    assert config_from_dict(explicit).hardware_id() == before
    assert "init" not in config_from_dict(raw).hardware_dict()["network"]
    assert "rank" not in config_from_dict(raw).hardware_dict()["feedback"]


def test_the_new_keys_off_their_defaults_change_the_hardware_id():
    base = {"network": {"sizes": [8, 6, 3], "activation": "hardtanh"}, "feedback": {"rule": "dfa"}}
    ids = {config_from_dict(base).hardware_id(),
           config_from_dict({**base, "network": {**base["network"], "init": "zero"}}).hardware_id(),
           config_from_dict({**base, "feedback": {"rule": "dfa", "rank": 1}}).hardware_id(),
           config_from_dict({**base, "feedback": DDFA}).hardware_id(),
           config_from_dict({**base, "feedback": {**DDFA, "rate_shift": 9}}).hardware_id()}
    assert len(ids) == 5


def test_gaussian_directions_are_float_only():
    cfg = make_config(feedback={**DDFA, "perturbation": "gaussian"})
    with pytest.raises(ConfigError) as info:
        cfg.check_bit_exact()
    assert info.value.key == "[feedback] perturbation" and "rademacher" in str(info.value)
    make_config(feedback=DDFA).check_bit_exact()
