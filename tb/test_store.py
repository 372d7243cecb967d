"""Epochs over the core's data store, bit for bit against golden in the same order (see cocotb_store.py)."""

import pytest

from trifactor.hdl.core import LearnerCore
from trifactor.hdl.sim_board import SimulatedBoard

from sim import run_cocotb
from test_core import CORE_CONFIGS
from unit_params import build_name, params_for

STORE_CONFIGS = ("default", "odd", "hybrid_two_hidden")
SLOW = {"hybrid_two_hidden"}


def run_store(name, samples=48, test_samples=24, perturb=None):
    make, data = CORE_CONFIGS[name]
    cfg = make()
    params = params_for(cfg, perturb=perturb, init_seed=2, samples=samples, test_samples=test_samples, data=data,
                        order_seed=5, epochs=2)
    core = LearnerCore(cfg, seed=2, store_samples=samples + test_samples)
    return run_cocotb(core, build_name("store", name, perturb), "cocotb_store", params)


@pytest.mark.parametrize("name", [pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else [])
                                  for name in STORE_CONFIGS])
def test_stored_epochs_equal_golden(name):
    run_store(name)


def test_store_testbench_catches_a_wrong_golden():
    with pytest.raises(AssertionError, match="failed"):
        run_store("odd", samples=12, test_samples=4, perturb="rounding")


def run_board_store(name, samples=24, test_samples=8, perturb=None):
    make, data = CORE_CONFIGS[name]
    cfg = make()
    top = SimulatedBoard(cfg, seed=2, store_samples=samples + test_samples)
    params = params_for(cfg, perturb=perturb, init_seed=2, samples=samples, test_samples=test_samples, data=data,
                        order_seed=5, idle_cycles=4 * top.timeout_cycles)
    return run_cocotb(top, build_name("board_store", name, perturb), "cocotb_board_store", params)


def test_stored_epoch_through_the_link():
    run_board_store("default")
