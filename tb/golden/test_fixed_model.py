"""The bit-exact integer model: against an independent scalar implementation (exactly), and against float (closely)."""

import numpy as np
import pytest

from trifactor.golden.fixed_model import (
    FixedNet, backprop_delta, exp2_table, feedback_delta, forward_layer, mse_error, softmax_error, update_layer,
)
from trifactor.golden.fixedpoint import Fixed
from trifactor.golden.float_model import FloatNet

from conftest import make_config
from scalar_reference import ScalarNet

# Sizes and options the tuning never saw: odd sizes, several depths, every mode.
VARIANTS = {
    "default-small": dict(sizes=(8, 6, 3)),
    "two-hidden-k2": dict(sizes=(7, 5, 4, 3), feedback={"nonzeros_per_row": 2}),
    "odd-hardtanh-mse": dict(sizes=(9, 11, 4), network={"activation": "hardtanh", "loss": "mse"}),
    "dense-dfa-balanced": dict(sizes=(6, 10, 5), feedback={"rule": "dfa", "balanced": True}),
    "no-hidden": dict(sizes=(5, 3)),
    "three-hidden-wrap-truncate": dict(sizes=(6, 5, 4, 5, 3), feedback={"nonzeros_per_row": 3},
                                       fixed={"overflow": "wrap", "rounding": "truncate", "update_rounding": "truncate"}),
    "narrow-formats": dict(sizes=(6, 7, 4), fixed={"weight": {"width": 8, "frac": 5}, "error": {"width": 6, "frac": 4},
                                                    "activation": {"width": 6, "frac": 2}, "learning_rate_shift": 2}),
    "bp-two-hidden": dict(sizes=(7, 6, 5, 3), feedback={"rule": "bp"}),
    "bp-hardtanh-mse-wrap": dict(sizes=(9, 11, 4), feedback={"rule": "bp"},
                                 network={"activation": "hardtanh", "loss": "mse"}, fixed={"overflow": "wrap"}),
    "hybrid-half-three-hidden": dict(sizes=(6, 5, 4, 5, 3), feedback={"rule": "hybrid", "bp_fraction": 0.5,
                                                                       "nonzeros_per_row": 2}),
    "hybrid-default-k1": dict(sizes=(8, 7, 4), feedback={"rule": "hybrid", "seed": 3}),
    "wide-lr0-scale": dict(sizes=(4, 9, 6), feedback={"nonzeros_per_row": 4, "scale_shift": 3},
                           fixed={"learning_rate_shift": 0, "weight": {"width": 20, "frac": 8}}),
}


def _random_inputs(cfg, rng, n):
    """Inputs across the whole input format, extremes and zeros included."""
    x = rng.integers(cfg.input.min, cfg.input.max + 1, size=(n, cfg.sizes[0]))
    x[0], x[1] = cfg.input.max, cfg.input.min
    x[2] = 0
    x[rng.random(x.shape) < 0.3] = 0  # many zeros, as after ReLU
    return x


def _assert_same_run(cfg, reference_factory=ScalarNet, samples=60, seed=0):
    rng = np.random.default_rng(seed)
    net = FixedNet(cfg, seed=seed)
    # Large random weights too, so saturation and wrapping are exercised, not only the init.
    net.weights = [rng.integers(cfg.weight.min, cfg.weight.max + 1, size=w.shape) if i % 2 else w
                   for i, w in enumerate(net.weights)]
    reference = reference_factory(cfg, net.weights, net.feedback)
    x = _random_inputs(cfg, rng, samples)
    labels = rng.integers(0, cfg.n_classes, size=samples)
    for n in range(samples):
        got = net.train_sample(x[n], int(labels[n]))["prediction"]
        want = reference.train_sample(list(x[n]), int(labels[n]))
        assert got == want, f"sample {n}: prediction {got} != {want}"
        for layer, (w, w_ref) in enumerate(zip(net.weights, reference.w)):
            np.testing.assert_array_equal(w, np.array(w_ref), err_msg=f"sample {n}, layer {layer}")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_vectorised_model_equals_scalar_reference(variant):
    _assert_same_run(make_config(**VARIANTS[variant]))


def test_comparison_fails_when_the_reference_is_wrong():
    """The exact comparison must notice a one-mode slip (update rounding) in either implementation."""
    cfg = make_config(sizes=(8, 6, 3))

    class SlippedRounding(ScalarNet):
        def __init__(self, *args):
            super().__init__(*args)
            self.upd_half_up = not self.upd_half_up

    with pytest.raises(AssertionError):
        _assert_same_run(cfg, reference_factory=SlippedRounding)


def test_comparison_fails_on_one_flipped_weight_bit():
    cfg = make_config(sizes=(8, 6, 3))

    class OneBitOff(ScalarNet):
        def __init__(self, cfg, weights, feedback):
            super().__init__(cfg, weights, feedback)
            self.w[0][0][0] ^= 1

    with pytest.raises(AssertionError):
        _assert_same_run(cfg, reference_factory=OneBitOff)


# -- hand-computed cases ----------------------------------------------------------------


def test_bias_is_a_weight_on_a_constant_one_input():
    cfg = make_config(sizes=(2, 2))
    spec = cfg.layer(0)
    w = np.array([[0, 0, 3 << cfg.weight.frac], [cfg.weight.one, cfg.weight.one, 0]])
    x = np.array([cfg.input.one, 2 * cfg.input.one])  # 1.0, 2.0
    acc, a, y, fprime = forward_layer(w, x, spec, cfg)
    np.testing.assert_array_equal(cfg.act.to_float(y), [3.0, 3.0])
    np.testing.assert_array_equal(fprime, [1, 1])


def test_relu_and_hardtanh_flags():
    relu = make_config(sizes=(1, 3, 2))
    spec = relu.layer(0)
    w = np.array([[-1, 0], [0, 0], [1, 0]]) << relu.weight.frac
    _, a, h, fprime = forward_layer(w, np.array([relu.input.one]), spec, relu)
    np.testing.assert_array_equal(fprime, [0, 0, 1])  # f'(0) = 0: no update through a dead neuron
    np.testing.assert_array_equal(h, [0, 0, relu.act.one])
    tanh = make_config(sizes=(1, 3, 2), network={"activation": "hardtanh"})
    w = np.array([[-2, 0], [0, 0], [1, 0]]) << tanh.weight.frac
    _, a, h, fprime = forward_layer(w, np.array([tanh.input.one]), tanh.layer(0), tanh)
    np.testing.assert_array_equal(fprime, [0, 1, 0])  # the clip edges are outside (-1, 1)
    np.testing.assert_array_equal(h, [-tanh.act.one, 0, tanh.act.one])


def test_softmax_of_equal_scores_is_uniform_and_sums_to_one():
    cfg = make_config(sizes=(4, 4))
    out = softmax_error(np.zeros(4, dtype=np.int64), 2, cfg)
    quarter = cfg.error.one // 4
    np.testing.assert_array_equal(out["p"], [quarter] * 4)
    np.testing.assert_array_equal(out["e"], [quarter, quarter, quarter - cfg.error.one, quarter])
    assert out["u"].tolist() == [1 << cfg.softmax_frac] * 4


def test_exp2_table_is_monotone_and_starts_at_one():
    cfg = make_config()
    table = exp2_table(cfg)
    assert table[0] == 1 << cfg.softmax_frac
    assert len(table) == 1 << cfg.act.frac
    assert np.all(np.diff(table) < 0) and table[-1] > table[0] // 2


def test_feedback_delta_is_signed_sum_gated_by_fprime():
    cfg = make_config(sizes=(3, 2, 3), feedback={"nonzeros_per_row": 2, "scale_shift": 1})

    class Fb:
        index = np.array([[0, 2], [1, 2]])
        sign = np.array([[1, -1], [-1, -1]])
        scale_shift = 1

    total, d = feedback_delta(np.array([10, 20, 4]), np.array([1, 0]), Fb, cfg)
    np.testing.assert_array_equal(total, [6, -24])
    np.testing.assert_array_equal(d, [3, 0])


def test_update_rounds_half_up_and_saturates():
    cfg = make_config(sizes=(1, 2))
    spec = cfg.layer(0)
    shift = spec.update_shift
    w = np.array([[cfg.weight.max, 0], [cfg.weight.min, 0]])
    x = np.array([1])  # bias input is x.one
    d = np.array([-(1 << shift), 1 << shift])  # steps of -x and +x LSBs
    new = update_layer(w, x, d, spec, cfg)
    assert new[0, 0] == cfg.weight.max  # saturated, not wrapped
    assert new[1, 0] == cfg.weight.min
    np.testing.assert_array_equal(new[:, 1], [cfg.input.one, -cfg.input.one])
    half = np.array([1 << (shift - 1), -(1 << (shift - 1))])  # exactly half an LSB each way
    new = update_layer(np.zeros((2, 2), dtype=np.int64), np.array([1]), half, spec, cfg)
    np.testing.assert_array_equal(new[:, 0], [-1, 0])  # half up: +0.5 -> 1 (subtracted), -0.5 -> 0


def test_accumulator_width_holds_the_worst_case():
    for sizes in ((64, 64, 10), (784, 128, 10), (3, 1000, 2)):
        cfg = make_config(sizes=sizes)
        for spec in cfg.layers:
            worst = (spec.n_in + 1) * spec.x.min * cfg.weight.min  # most positive product, every input
            assert worst < 1 << (spec.accumulator_width - 1)
            assert worst >= 1 << (spec.accumulator_width - 2), "not the narrowest safe width"
            most_negative = (spec.n_in + 1) * spec.x.min * cfg.weight.max
            assert most_negative >= -(1 << (spec.accumulator_width - 1))


# -- against float ----------------------------------------------------------------------


def test_forward_matches_float_within_rounding():
    cfg = make_config(sizes=(20, 16, 5))
    rng = np.random.default_rng(1)
    net = FixedNet(cfg, seed=3)
    x = net.quantize_inputs(rng.uniform(-1, 1, size=(50, 20)))
    h = x
    xf = cfg.input.to_float(x)
    for w, spec in zip(net.weights, cfg.layers):
        _, a, h, _ = forward_layer(w, h, spec, cfg)
        af = np.concatenate([xf, np.ones((len(xf), 1))], axis=1) @ cfg.weight.to_float(w).T
        assert np.max(np.abs(cfg.act.to_float(a) - af)) <= 0.5 / cfg.act.one + 1e-12
        xf = cfg.act.to_float(h)  # next layer from the fixed activations: one rounding per layer


def test_softmax_error_matches_float_base2_softmax():
    cfg = make_config(sizes=(4, 10))
    rng = np.random.default_rng(2)
    for _ in range(200):
        y = rng.integers(-20 * cfg.act.one, 20 * cfg.act.one, size=10)
        label = int(rng.integers(10))
        e = cfg.error.to_float(softmax_error(y, label, cfg)["e"])
        p = 2.0 ** cfg.act.to_float(y - y.max())
        want = p / p.sum() - np.eye(10)[label]
        assert np.max(np.abs(e - want)) <= 1.5 / cfg.error.one


def test_mse_error_matches_float():
    cfg = make_config(sizes=(4, 3), network={"loss": "mse"})
    y = np.array([cfg.act.one, -3 * cfg.act.one // 2, 0])
    e = cfg.error.to_float(mse_error(y, 1, cfg)["e"])
    np.testing.assert_allclose(e, [1.0, -2.0, 0.0], atol=1.0 / cfg.error.one)  # -2.5 saturates at -2


def test_one_update_step_matches_float_within_an_lsb():
    cfg = make_config(sizes=(16, 8, 4), network={"loss": "mse"})  # float softmax is base e, fixed base 2
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, size=16)
    fixed, flt = FixedNet(cfg, seed=5), FloatNet(cfg, seed=5)
    flt.weights = [cfg.weight.to_float(w) for w in fixed.weights]  # identical start
    fixed.train_sample(fixed.quantize_inputs(x), 2)
    flt.train_sample(cfg.input.to_float(fixed.quantize_inputs(x)), 2)
    for w_fixed, w_float in zip(fixed.weights, flt.weights):
        # per weight: half an LSB of rounding, plus the effect of quantised activations and errors
        assert np.max(np.abs(cfg.weight.to_float(w_fixed) - w_float)) < 4.0 / cfg.weight.one


def test_fixed_model_rejects_float_only_feedback():
    with pytest.raises(ValueError, match="continuous"):
        FixedNet(make_config(feedback={"values": "continuous"}))


def test_backprop_delta_is_the_transposed_sum_gated_by_fprime():
    cfg = make_config(sizes=(4, 3, 2))
    w_above = np.array([[1, 2, 3, 99], [-4, 5, 6, -99]])  # n_out x (n_in + 1): the bias column takes no part
    d_above = np.array([3, -1])
    total, d = backprop_delta(w_above, d_above, np.array([1, 0, 1]), cfg)
    np.testing.assert_array_equal(total, [3 * 1 + 4, 3 * 2 - 5, 3 * 3 - 6])
    shift = cfg.weight.frac
    np.testing.assert_array_equal(d, [(7 + (1 << (shift - 1))) >> shift, 0, (3 + (1 << (shift - 1))) >> shift])


def test_one_bp_step_matches_float_bp():
    cfg = make_config(sizes=(12, 8, 6, 4), network={"loss": "mse"}, feedback={"rule": "bp"},
                      fixed={"activation": {"width": 16, "frac": 8}, "error": {"width": 16, "frac": 10}})
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, size=12)
    fixed, flt = FixedNet(cfg, seed=5), FloatNet(cfg, seed=5)
    flt.weights = [cfg.weight.to_float(w) for w in fixed.weights]  # identical start
    assert fixed.train_sample(fixed.quantize_inputs(x), 2)["backprop"]
    flt.train_sample(cfg.input.to_float(fixed.quantize_inputs(x)), 2)
    for w_fixed, w_float in zip(fixed.weights, flt.weights):
        assert np.max(np.abs(cfg.weight.to_float(w_fixed) - w_float)) < 2.0 / cfg.weight.one


def test_hybrid_takes_bp_on_its_fraction_of_samples_in_a_fixed_order():
    def choices(fraction, seed=0, n=4000):
        net = FixedNet(make_config(sizes=(4, 3, 2), feedback={"rule": "hybrid", "bp_fraction": fraction, "seed": seed}))
        return [net.chooser.next() for _ in range(n)]
    assert not any(choices(0.0)) and all(choices(1.0))
    quarter = choices(0.25)
    assert abs(np.mean(quarter) - 0.25) < 0.03
    assert quarter == choices(0.25) and quarter != choices(0.25, seed=1)
    # consecutive choices are independent: a BP sample is not followed by more BP samples than average
    after_bp = [b for a, b in zip(quarter, quarter[1:]) if a]
    assert abs(np.mean(after_bp) - 0.25) < 0.05


def test_quantised_init_is_the_float_init():
    cfg = make_config(sizes=(30, 20, 5))
    fixed, flt = FixedNet(cfg, seed=7), FloatNet(cfg, seed=7)
    for w_fixed, w_float in zip(fixed.weights, flt.weights):
        assert np.max(np.abs(cfg.weight.to_float(w_fixed) - w_float)) <= 0.5 / cfg.weight.one


def test_format_helpers_used_by_the_model():
    assert Fixed(12, 3).one == 8
    assert Fixed(8, 5).represents_one() and not Fixed(8, 7).represents_one()
