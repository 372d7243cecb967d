"""The learner core end to end: Verilator runs, every weight compared with golden (see cocotb_core.py)."""

import dataclasses

import pytest

from trifactor.golden.config import load_config
from trifactor.hdl.core import LearnerCore

from conftest import ROOT
from sim import run_cocotb, simulators
from unit_params import CONFIGS, build_name, config_from_dict, params_for

def _dense(make):
    return lambda: dataclasses.replace(make(), zero_skipping=False)


CORE_CONFIGS = {
    "default": (CONFIGS["default"], "digits"),
    "default_dense": (_dense(CONFIGS["default"]), "digits"),
    "two_hidden": (lambda: config_from_dict({"name": "two_hidden", "network": {"sizes": [64, 32, 24, 10]},
                                             "feedback": {"seed": 3}, "hardware": {"lanes": 4}}), "digits"),
    "odd": (CONFIGS["odd"], "random"),
    "narrow": (_dense(CONFIGS["narrow"]), "random"),
    # [hardware] cost_counters: every cost counter against the count from golden and the sweeper's walk
    "default_costs": (lambda: dataclasses.replace(CONFIGS["default"](), name="default_costs", cost_counters=True),
                      "digits"),
    # no hidden layer: no feedback unit, the core keeps the errors itself
    "no_hidden": (lambda: config_from_dict({"name": "no_hidden", "network": {"sizes": [24, 6]},
                                            "hardware": {"lanes": 4}}), "random"),
    # backpropagation: the backward unit, and the hybrid rule's LFSR choosing per sample
    "bp_default": (lambda: config_from_dict({"name": "bp_default", "network": {"sizes": [64, 64, 10]},
                                             "feedback": {"rule": "bp"}}), "digits"),
    "bp_odd": (lambda: config_from_dict({"name": "bp_odd", "network": {"sizes": [37, 23, 19, 3],
                                         "activation": "hardtanh", "loss": "mse"}, "feedback": {"rule": "bp"},
                                         "hardware": {"lanes": 5, "pipeline": "fast"}}), "random"),
    "hybrid_two_hidden": (lambda: config_from_dict({"name": "hybrid_two_hidden", "network": {"sizes": [64, 29, 13, 10]},
                                                    "feedback": {"rule": "hybrid", "bp_fraction": 0.4, "seed": 4,
                                                                 "nonzeros_per_row": 2},
                                                    "hardware": {"lanes": 3}}), "digits"),
    # the banks in single-port RAM (SPRAM on the UP5K): 8-bit weights packed 5 to a word, LOADed
    # first, the update's reads and writes alternating
    "spram": (lambda: config_from_dict({"name": "spram", "network": {"sizes": [64, 23, 10]},
                                        "fixed": {"weight": {"width": 8, "frac": 7}},
                                        "hardware": {"lanes": 5, "banks": "spram"}}), "digits"),
    # MNIST on the iCEBreaker (configs/mnist-up5k.toml): 784-128-10 in the four SPRAMs
    "mnist_up5k": (lambda: load_config(ROOT / "configs" / "mnist-up5k.toml"), "mnist5k"),
}
# [hardware] cost_counters with backpropagation: every sample (hard-tanh keeps its hidden zeros, the fast
# pipeline), and the hybrid's mix of BP and feedback samples
CORE_CONFIGS.update({
    f"{name}_costs": (lambda make=CORE_CONFIGS[name][0], name=name: dataclasses.replace(
        make(), name=f"{name}_costs", cost_counters=True), CORE_CONFIGS[name][1])
    for name in ("bp_odd", "hybrid_two_hidden")})


# Covered in `make test` by a sibling (the same training with or without the cost counters, or
# the same rule on a smaller network); `make test-full` runs them too.
# in make test: default, odd, narrow, no_hidden, spram, bp_odd and hybrid_two_hidden_costs (every rule, SPRAM banks,
# two hidden layers, the cost counters); the rest only in make test-full
SLOW = {"bp_default", "default_costs", "hybrid_two_hidden", "bp_odd_costs", "mnist_up5k", "two_hidden", "default_dense"}


def core_params(cfg, data, samples=100, perturb=None, test_samples=40) -> dict:
    """cocotb_core's parameters: golden's initial weights from seed 2, ``samples`` training samples of ``data``."""
    return params_for(cfg, perturb=perturb, init_seed=2, samples=samples, test_samples=test_samples, data=data)


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
