"""The learner core end to end: Verilator runs, every weight compared with golden (see cocotb_core.py)."""

import pytest

from trifactor.hdl.core.learner import LearnerCore

from sim import run_cocotb, simulators
from unit_params import CORE_CONFIGS, build_name, core_params

# Covered in `make test` by a sibling (the same training with or without the cost counters, or
# the same rule on a smaller network); `make test-full` runs them too.
# in make test: default, odd, narrow, no_hidden, spram, bp_odd, hybrid_two_hidden_costs, ddfa (with its cost
# counters) and conv_frozen_lfsr_costs (every rule, SPRAM banks, two hidden layers, the cost counters, two
# convolutions: a frozen one, and one trained from LFSR rows); the rest only
# in make test-full (zero_spram's self-clearing banks are in make test as a part: tb/lanes/test_part_lane_banks.py)
SLOW = {"bp_default", "default_costs", "hybrid_two_hidden", "bp_odd_costs", "mnist_up5k", "two_hidden", "default_dense",
        "ddfa_sparse_two_hidden", "rank2_two_hidden", "rank1", "ddfa_sparse_two_hidden_costs", "zero_spram",
        "rank2_two_hidden_costs", "conv_frozen_lfsr", "conv", "default_balanced"}


def run_core(name, simulator="verilator", samples=100, perturb=None):
    make, data = CORE_CONFIGS[name]
    cfg = make()
    params = core_params(cfg, data, samples, perturb)
    return run_cocotb(LearnerCore(cfg, seed=2), build_name("core", name, perturb), "cocotb_core", params, simulator)


@pytest.mark.parametrize("simulator", simulators()[:1])
@pytest.mark.parametrize("name", [pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else [])
                                  for name in sorted(CORE_CONFIGS)])
def test_core_trains_bit_exactly(name, simulator):
    run_core(name, simulator)


def test_core_testbench_catches_a_wrong_golden():
    with pytest.raises(AssertionError, match="failed"):
        run_core("odd", samples=10, perturb="rounding")


@pytest.mark.slow  # the self-check of the same testbench runs in make test (test_core_testbench_catches_a_wrong_golden)
def test_core_testbench_catches_a_wrong_backprop_golden():
    with pytest.raises(AssertionError, match="failed"):
        run_core("bp_odd", samples=10, perturb="rounding")
