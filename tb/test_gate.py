"""Gate-level simulation: the learner core as Yosys maps it, trained by the same testbench as the RTL.

The netlist is ``synth_ice40 -dsp`` (with ``-spram`` when the banks are in SPRAM: the commands of
``trifactor synth``), simulated in Verilator with Yosys's iCE40 cell models (``cells_sim.v``), and
cocotb_core.py checks every prediction and weight against golden bit for bit, as on the RTL
(scripts/flow/gate.py; docs/verification.md, "Gate-level simulation").
"""

import pytest

from trifactor.golden.config import config_from_dict
from trifactor.hdl.core import LearnerCore

from sim import run_cocotb_gates
from test_core import CORE_CONFIGS, core_params

pytestmark = pytest.mark.gate

# name: (configuration, data, training samples, held-out samples for INFER)
GATE_CONFIGS = {
    # two lanes on digits: every kind of cell (LUTs, carries, flip-flops, SB_MAC16, SB_RAM40_4K), in seconds
    "small": (lambda: config_from_dict({"name": "gate_small", "network": {"sizes": [64, 12, 10]},
                                        "hardware": {"lanes": 2}}), "digits", 30, 10),
    # the default digits core (8 lanes, 64-64-10), as the iCEBreaker runs it
    "default": (CORE_CONFIGS["default"][0], "digits", 100, 40),
}
SLOW = {"default"}


def run_gate(name, target="up5k", perturb=None):
    make, data, samples, test_samples = GATE_CONFIGS[name]
    cfg = make()
    params = core_params(cfg, data, samples, perturb, test_samples)
    return run_cocotb_gates(LearnerCore(cfg, seed=2), f"core_{cfg.name}", "cocotb_core", params, cfg, target)


@pytest.mark.parametrize("name", [pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else [])
                                  for name in GATE_CONFIGS])
def test_netlist_trains_bit_exactly(name):
    run_gate(name)
