"""Bit-exactness on configurations nobody tuned for: seeded random sizes, depths, lanes, k, modes (slow)."""

import numpy as np
import pytest

from trifactor.golden.config import config_from_dict
from trifactor.hdl.core.learner import LearnerCore

from sim import run_cocotb
from unit_params import params_for


def random_config(seed, rules=("ssdfa", "dfa"), depths=(1, 4), dense=None):
    """A seeded random configuration; ``dense`` (rule ddfa): True for dense DDFA, False for sparse, None as drawn."""
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(*depths))
    sizes = [int(rng.integers(3, 30))] + [int(rng.integers(2, 25)) for _ in range(depth - 1)] + [int(rng.integers(2, 8))]
    rule = str(rng.choice(rules))
    feedback = {"rule": rule, "seed": int(rng.integers(100)), "balanced": bool(rng.integers(2))}
    if rule in ("ssdfa", "hybrid"):
        feedback["nonzeros_per_row"] = int(rng.integers(1, sizes[-1] + 1))
    if rule == "hybrid":
        feedback["bp_fraction"] = float(rng.choice([0.1, 0.25, 0.5, 0.75]))
    fixed = {}
    if rule == "ddfa":  # dense or sparse, from zero or the ternary table, any rate; tangents of 6..12 bits
        k = int(rng.integers(1, sizes[-1] + 1))
        k = sizes[-1] if dense else max(1, min(k, sizes[-1] - 1)) if dense is False else k
        feedback.update(nonzeros_per_row=k, rate_shift=int(rng.integers(1, 9)), start=str(rng.choice(["zero", "random"])))
        width = int(rng.integers(6, 13))
        fixed["tangent"] = {"width": width, "frac": int(rng.integers(2, width - 1))}
    return config_from_dict({
        "name": f"random{seed}",
        "network": {"sizes": sizes, "activation": str(rng.choice(["relu", "hardtanh"])),
                    "loss": str(rng.choice(["softmax", "mse"]))},
        "feedback": feedback,
        "fixed": {"rounding": str(rng.choice(["half_up", "truncate"])),
                  "update_rounding": str(rng.choice(["half_up", "truncate"])),
                  "overflow": str(rng.choice(["saturate", "wrap"])), "learning_rate_shift": int(rng.integers(2, 8)),
                  **fixed},
        "hardware": {"lanes": int(rng.integers(1, 9)), "zero_skipping": bool(rng.integers(2)),
                     "pipeline": str(rng.choice(["compact", "fast"]))},
    })


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_random_config_trains_bit_exactly(seed):
    cfg = random_config(seed)
    params = params_for(cfg, init_seed=seed, samples=60, test_samples=20, data="random")
    run_cocotb(LearnerCore(cfg, seed=seed), f"core_random{seed}", "cocotb_core", params)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [200, 201, 204, 208, 210, 213, 219, 222])
def test_random_backprop_config_trains_bit_exactly(seed):
    """Rules bp and hybrid: 1 to 3 hidden layers, relu / hard-tanh, softmax / mse, 1 to 8 lanes, zero skipping
    on and off, wrap-around (which keeps the hidden zeros), bp_fraction 0.1 to 0.75 (seeds picked for that spread)."""
    cfg = random_config(seed, rules=("bp", "hybrid"), depths=(2, 5))
    params = params_for(cfg, init_seed=seed, samples=60, test_samples=20, data="random")
    run_cocotb(LearnerCore(cfg, seed=seed), f"core_random_bp{seed}", "cocotb_core", params)


@pytest.mark.slow
@pytest.mark.parametrize("dense", [True, False], ids=["dense", "sparse"])
@pytest.mark.parametrize("seed", [300, 302, 303, 306, 315])
def test_random_learned_feedback_config_trains_bit_exactly(seed, dense):
    """Rule ddfa, dense and sparse, on 1 to 3 hidden layers: relu / hard-tanh, softmax / mse, 1 to 8 lanes (some
    dividing no layer size), zero skipping on and off, wrap-around, B from zero or the ternary table, any rate and
    tangent format (seeds picked for that spread, not for passing): weights and B read back against golden."""
    cfg = random_config(seed, rules=("ddfa",), depths=(2, 5), dense=dense)
    params = params_for(cfg, init_seed=seed, samples=60, test_samples=20, data="random")
    run_cocotb(LearnerCore(cfg, seed=seed), f"core_random_ddfa{seed}_{'dense' if dense else 'sparse'}", "cocotb_core",
               params)


def random_conv_config(seed):
    """A seeded random network with convolution layers: an image of 4..9 x 4..9 x 1..3, one or two convolutions
    (kernel 1..3, stride 1..2, padding below the kernel, 2..6 channels; the first frozen or trained; ROM rows with
    dilation and channel groups, or LFSR rows; 2x2 max pooling a quarter of the time), a dense head with or without a hidden
    layer, 1 to 6 lanes."""
    from trifactor.golden.config.conv import ConvSpec

    from unit_params import with_transfer

    rng = np.random.default_rng(seed)
    pools = np.random.default_rng([seed, 1])  # its own stream: the other draws stay as they were
    shape = [int(rng.integers(4, 10)), int(rng.integers(4, 10)), int(rng.integers(1, 4))]
    convs, here = [], tuple(shape)
    for number in range(int(rng.integers(1, 3))):
        kernel = int(rng.integers(1, 4))
        if min(here[:2]) < kernel:
            break
        channels = int(rng.integers(2, 7))
        table = {"channels": channels, "kernel": kernel, "stride": int(rng.integers(1, 3)),
                 "padding": int(rng.integers(0, kernel))}
        groups = [g for g in range(1, channels + 1) if channels % g == 0]
        table["groups"] = int(rng.choice(groups))
        if rng.random() < 0.3:
            table["feedback"] = "lfsr"
        else:
            table["dilation"] = int(rng.integers(0, 3))
        grid = ConvSpec(in_shape=here, pool=1, mode="trained", feedback="rom", dilation=0, groups=channels,
                        **{k: table[k] for k in ("channels", "kernel", "stride", "padding")}).grid
        if pools.random() < 0.25 and min(grid) >= 2:
            table["pool"] = 2
        convs.append(table)
        here = ConvSpec(in_shape=here, pool=table.get("pool", 1), mode="trained", feedback="rom", dilation=0,
                        groups=channels, **{k: table[k] for k in ("channels", "kernel", "stride", "padding")}).out_shape
    classes = int(rng.integers(2, 8))
    flat = int(np.prod(here))
    sizes = [flat] + ([int(rng.integers(3, 20))] if rng.random() < 0.5 else []) + [classes]
    raw = {
        "name": f"random_conv{seed}",
        "network": {"input": shape, "sizes": sizes, "activation": str(rng.choice(["relu", "hardtanh"])),
                    "loss": str(rng.choice(["softmax", "mse"]))},
        "conv": convs,
        "feedback": {"rule": str(rng.choice(["ssdfa", "dfa"])), "seed": int(rng.integers(100))},
        "fixed": {"rounding": str(rng.choice(["half_up", "truncate"])),
                  "update_rounding": str(rng.choice(["half_up", "truncate"])),
                  "overflow": str(rng.choice(["saturate", "wrap"])), "learning_rate_shift": int(rng.integers(3, 8))},
        "hardware": {"lanes": int(rng.integers(1, 7)), "zero_skipping": bool(rng.integers(2)),
                     "pipeline": str(rng.choice(["compact", "fast"]))},
    }
    if raw["feedback"]["rule"] == "ssdfa":
        raw["feedback"]["nonzeros_per_row"] = int(rng.integers(1, classes + 1))
    if rng.random() < 0.4:  # Crafton's transfer: the first convolution frozen
        raw = with_transfer(raw, frozen=1)
    return config_from_dict(raw)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [400, 401, 402, 403, 404, 410])
def test_random_conv_config_trains_bit_exactly(seed):
    """Convolution layers on configurations nobody tuned for: weights and predictions against golden. Seeds 400..404
    as drawn, and 410 (two trained convolutions): frozen and trained first layers, 1 and 2 convolutions, stride 1 and
    2, padding 0 to 2, kernels 1 to 3, 1 to 3 input channels, ROM rows with dilation and channel groups and LFSR rows
    (402, 403), lanes that divide no channel count (400, 401, 403), both rules, with and without zero skipping."""
    cfg = random_conv_config(seed)
    params = params_for(cfg, init_seed=seed, samples=50, test_samples=20, data="random")
    run_cocotb(LearnerCore(cfg, seed=seed), f"core_random_conv{seed}", "cocotb_core", params)
