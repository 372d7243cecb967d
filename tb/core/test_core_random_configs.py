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
