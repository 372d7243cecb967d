"""Sparse-ternary feedback error unit: Verilator (and Icarus when installed) against the golden model, exactly."""

import gc

import pytest

from trifactor.hdl.rules.feedback_unit import FeedbackUnit

from sim import run_cocotb, simulators
from unit_params import CONFIGS, build_name, params_for


def run_feedback(name, simulator="verilator", perturb=None):
    cfg = CONFIGS[name]()
    hidden = sum(cfg.sizes[1:-1])
    params = params_for(cfg, perturb=perturb, samples=max(4, -(-1000 // hidden)))
    return run_cocotb(FeedbackUnit(cfg), build_name("feedback_unit", name, perturb), "cocotb_feedback_unit", params, simulator)


@pytest.mark.parametrize("simulator", simulators())
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_feedback_unit(name, simulator):
    run_feedback(name, simulator)


def test_feedback_unit_testbench_catches_a_wrong_golden():
    """One flipped sign in golden's B must make the same RTL fail."""
    with pytest.raises(AssertionError, match="failed"):
        run_feedback("odd", perturb="sign")


def test_feedback_unit_rejects_what_it_cannot_build():
    from unit_params import config_from_dict
    with pytest.raises(ValueError, match="no hidden layer"):
        FeedbackUnit(config_from_dict({"network": {"sizes": [4, 3]}}))
    with pytest.raises(ValueError, match="ternary"):
        FeedbackUnit(config_from_dict({"network": {"sizes": [4, 5, 3]}, "feedback": {"values": "continuous"}}))
    # hdl.errors.reject marks a refused unit as used: its "created but never used" warning,
    # raised when it was collected, once failed an unrelated later test under xdist
    gc.collect()

