"""Synapse update unit: Verilator (and Icarus when installed) against the golden model, exactly."""

import pytest

from trifactor.hdl.layout import WeightLayout

from harness import UpdateUnitHarness
from sim import run_cocotb, simulators
from unit_params import CONFIGS, build_name, full_scale_weights, params_for


def run_update(name, simulator="verilator", perturb=None):
    cfg = CONFIGS[name]()
    weights = full_scale_weights(cfg, seed=4)
    passes = -(-1000 // WeightLayout(cfg).depth)  # every pass writes every bank word once
    top = UpdateUnitHarness(cfg, WeightLayout(cfg).to_banks(weights))
    params = params_for(cfg, perturb=perturb, weights=[w.tolist() for w in weights], passes=max(passes, 5))
    return run_cocotb(top, build_name("update_unit", name, perturb), "cocotb_update_unit", params, simulator)


@pytest.mark.parametrize("simulator", simulators())
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_update_unit(name, simulator):
    run_update(name, simulator)


def test_update_unit_testbench_catches_a_wrong_golden():
    with pytest.raises(AssertionError, match="failed"):
        run_update("narrow", perturb="rounding")
