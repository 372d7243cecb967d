"""The host link end to end in Verilator: the host driver against the simulated board (see cocotb_board_link.py)."""

import dataclasses

import pytest

from trifactor.hdl.boards.sim_board import SimulatedBoard

from sim import run_cocotb
from unit_params import CORE_CONFIGS, build_name, link_params

# 8-bit inputs / 16-bit weights; 6-bit inputs / 12-bit weights (sign extension); the latter with the cost
# counters ([hardware] cost_counters: COUNTERS answers 26 words through the link, not 8)
LINK_CONFIGS = {
    "default": CORE_CONFIGS["default"],
    "narrow": CORE_CONFIGS["narrow"],
    "narrow_costs": (lambda: dataclasses.replace(CORE_CONFIGS["narrow"][0](), cost_counters=True), "random"),
}


def run_link(name, samples=24, perturb=None):
    make, data = LINK_CONFIGS[name]
    cfg = make()
    top = SimulatedBoard(cfg, seed=2)
    params = link_params(cfg, top, data, samples, perturb)
    return run_cocotb(top, build_name("board_link", name, perturb), "cocotb_board_link", params)


# make test runs narrow (sign extension through the link); default's widths go through the same link in
# test_rtl_backend's board-sim runs, and the cost counters in its rtl run
SLOW = {"default", "narrow_costs"}


@pytest.mark.parametrize("name", [pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else [])
                                  for name in LINK_CONFIGS])
def test_board_link(name):
    run_link(name)


@pytest.mark.slow  # one more full board build; checked to fail by hand too
def test_board_link_testbench_catches_a_wrong_golden():
    """With golden's rounding flipped, training through the link must fail the comparison."""
    with pytest.raises(AssertionError, match="failed"):
        run_link("narrow", samples=6, perturb="rounding")
