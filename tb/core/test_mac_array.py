"""Forward MAC array: Verilator (and Icarus when installed) against the golden model, exactly."""

import pytest

from trifactor.hdl.layout import WeightLayout

from harness import MacArrayHarness
from sim import run_cocotb, simulators
from unit_params import BALANCED, CONFIGS, build_name, full_scale_weights, params_for

#: the unit configurations, and narrow formats with the balanced pipeline's split accumulators
MAC_CONFIGS = {**CONFIGS, **BALANCED}


def run_mac(name, simulator="verilator", perturb=None):
    cfg = MAC_CONFIGS[name]()
    weights = full_scale_weights(cfg, seed=3)
    groups_per_pass = sum(WeightLayout(cfg).groups(l) for l in range(cfg.n_layers))
    passes = -(-1000 // groups_per_pass)  # at least 1000 transactions (neuron groups)
    top = MacArrayHarness(cfg, WeightLayout(cfg).to_banks(weights))
    params = params_for(cfg, perturb=perturb, weights=[w.tolist() for w in weights], passes=passes)
    return run_cocotb(top, build_name("mac_array", name, perturb), "cocotb_mac_array", params, simulator)


@pytest.mark.parametrize("simulator", simulators())
@pytest.mark.parametrize("name", sorted(MAC_CONFIGS))
def test_mac_array(name, simulator):
    run_mac(name, simulator)


def test_mac_array_testbench_catches_a_wrong_golden():
    """The comparison is real: with golden's rounding mode flipped, the same RTL must fail."""
    with pytest.raises(AssertionError, match="failed"):
        run_mac("odd", perturb="rounding")
