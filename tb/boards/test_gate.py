"""Gate-level simulation: the learner core as Yosys maps it, trained by the same testbench as the RTL.

The netlist is ``synth_ice40 -dsp`` (with ``-spram`` when the banks are in SPRAM: the commands of
``trifactor synth``), simulated in Verilator with Yosys's iCE40 cell models (``cells_sim.v``), and
cocotb_core.py checks every prediction and weight against golden bit for bit, as on the RTL. On the
ECP5, ``synth_ecp5 -nodsp -nobram`` with the ECP5 cell models: Yosys has none of the DSP and the
block RAM (scripts/flow/gate.py; docs/verification.md, "Gate-level simulation").
"""

import re

import pytest

from trifactor.golden.config import config_from_dict
from trifactor.hdl.core.learner import LearnerCore
from trifactor.hdl.boards.sim_board import SimulatedBoard

from sim import run_cocotb_gates
from unit_params import CORE_CONFIGS, core_params, link_params

pytestmark = pytest.mark.gate

# name: (configuration, data, training samples, held-out samples for INFER)
GATE_CONFIGS = {
    # two lanes on digits: every kind of cell (LUTs, carries, flip-flops, SB_MAC16, SB_RAM40_4K), the cheapest
    "small": (lambda: config_from_dict({"name": "gate_small", "network": {"sizes": [64, 12, 10]},
                                        "hardware": {"lanes": 2}}), "digits", 12, 6),
    # the banks in SPRAM (synth_ice40 -spram; SB_SPRAM256KA): 8-bit weights, LOADed first (as configs/mnist-up5k.toml)
    "spram": (lambda: config_from_dict({"name": "gate_spram", "network": {"sizes": [64, 12, 10]},
                                        "fixed": {"weight": {"width": 8, "frac": 7}},
                                        "hardware": {"lanes": 2, "banks": "spram"}}), "digits", 12, 6),
    # the default digits core (8 lanes, 64-64-10), as the iCEBreaker runs it
    "default": (CORE_CONFIGS["default"][0], "digits", 100, 40),
}
# (configuration, target, slow): the ECP5 netlist has no DSPs or block RAM (scripts/flow/gate.py, GATE_SYNTH)
CASES = [("small", "up5k", False), ("default", "up5k", True), ("spram", "up5k", True), ("small", "ecp5-85k", True)]


def run_gate(name, target="up5k", broken=None):
    make, data, samples, test_samples = GATE_CONFIGS[name]
    cfg = make()
    params = core_params(cfg, data, samples, test_samples=test_samples)
    return run_cocotb_gates(LearnerCore(cfg, seed=2), f"core_{cfg.name}", "cocotb_core", params, cfg, target, broken)


def unsigned_multiplier(netlist: str) -> str:
    """The netlist with its first SB_MAC16 taking operand B as unsigned: a DSP mapping that lost a sign."""
    wrong, count = re.subn(r"\.B_SIGNED\(32'd1\)", ".B_SIGNED(32'd0)", netlist, count=1)
    assert count == 1, "no signed SB_MAC16 in the netlist"
    return wrong


@pytest.mark.parametrize("name, target", [pytest.param(name, target, marks=[pytest.mark.slow] if slow else [],
                                                         id=f"{name}-{target}") for name, target, slow in CASES])
def test_netlist_trains_bit_exactly(name, target):
    run_gate(name, target)


@pytest.mark.slow  # a second netlist build; the same testbench's self-check runs in make test (test_core.py)
def test_gate_testbench_catches_a_wrong_netlist():
    with pytest.raises(AssertionError, match="failed"):
        run_gate("small", broken=unsigned_multiplier)


@pytest.mark.slow  # byte by byte through the UARTs
def test_board_netlist_trains_bit_exactly():
    """The board's logic between its pins (the host link and the core; the board top adds only the PLL and the
    pins) with the host's UART, as one netlist: the link's testbench trains through it and sends it bad requests."""
    make, data, _, _ = GATE_CONFIGS["small"]
    cfg = make()
    top = SimulatedBoard(cfg, seed=2)
    params = link_params(cfg, top, data, samples=4, test_samples=4)
    run_cocotb_gates(top, f"board_{cfg.name}", "cocotb_board_link", params, cfg)


def test_a_netlist_with_cells_without_models_is_refused(tmp_path, monkeypatch):
    """Mapped as the ULX3S build maps it (block RAM and DSPs), the ECP5 netlist holds cells that Yosys's models
    leave empty: write_netlist must refuse it, not let the simulator run them as empty modules."""
    from trifactor.scripts.flow import gate
    from trifactor.scripts.util.errors import UsageError

    monkeypatch.setitem(gate.GATE_SYNTH, "ecp5", "synth_ecp5")
    cfg = config_from_dict({"name": "gate_tiny", "network": {"sizes": [8, 6, 3]}, "hardware": {"lanes": 2}})
    with pytest.raises(UsageError, match="DP16KD.*MULT18X18D.*no simulation model"):
        gate.write_netlist(LearnerCore(cfg), "tiny", cfg, "ecp5-85k", tmp_path)
