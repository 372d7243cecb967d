"""Output error unit (softmax and MSE): Verilator (and Icarus when installed) against the golden model, exactly."""

import pytest

from trifactor.hdl.core.output_error import OutputErrorUnit

from sim import run_cocotb, simulators
from unit_params import CONFIGS, build_name, params_for


def run_output_error(name, simulator="verilator", perturb=None):
    cfg = CONFIGS[name]()
    return run_cocotb(OutputErrorUnit(cfg), build_name("output_error", name, perturb), "cocotb_output_error", params_for(cfg, perturb=perturb, samples=1000), simulator)


@pytest.mark.parametrize("simulator", simulators())
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_output_error(name, simulator):
    run_output_error(name, simulator)


def test_output_error_testbench_catches_a_wrong_golden():
    with pytest.raises(AssertionError, match="failed"):
        run_output_error("default", perturb="rounding")
