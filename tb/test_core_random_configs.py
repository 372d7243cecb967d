"""Bit-exactness on configurations nobody tuned for: seeded random sizes, depths, lanes, k, modes (slow)."""

import numpy as np
import pytest

from trifactor.golden.config import config_from_dict
from trifactor.hdl.core import LearnerCore

from sim import run_cocotb
from unit_params import params_for


def random_config(seed):
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(1, 4))
    sizes = [int(rng.integers(3, 30))] + [int(rng.integers(2, 25)) for _ in range(depth - 1)] + [int(rng.integers(2, 8))]
    rule = str(rng.choice(["ssdfa", "dfa"]))
    feedback = {"rule": rule, "seed": int(rng.integers(100)), "balanced": bool(rng.integers(2))}
    if rule == "ssdfa":
        feedback["nonzeros_per_row"] = int(rng.integers(1, sizes[-1] + 1))
    return config_from_dict({
        "name": f"random{seed}",
        "network": {"sizes": sizes, "activation": str(rng.choice(["relu", "hardtanh"])),
                    "loss": str(rng.choice(["softmax", "mse"]))},
        "feedback": feedback,
        "fixed": {"rounding": str(rng.choice(["half_up", "truncate"])),
                  "update_rounding": str(rng.choice(["half_up", "truncate"])),
                  "overflow": str(rng.choice(["saturate", "wrap"])), "learning_rate_shift": int(rng.integers(2, 8))},
        "hardware": {"lanes": int(rng.integers(1, 9)), "zero_skipping": bool(rng.integers(2)),
                     "pipeline": str(rng.choice(["compact", "fast"]))},
    })


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_random_config_trains_bit_exactly(seed):
    cfg = random_config(seed)
    params = params_for(cfg, init_seed=seed, samples=60, test_samples=20, data="random")
    run_cocotb(LearnerCore(cfg, seed=seed), f"core_random{seed}", "cocotb_core", params)
