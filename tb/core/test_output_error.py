# amaranth: UnusedElaboratable=no
"""Output error unit (softmax and MSE): Verilator (and Icarus when installed) against the golden model, exactly.

Both softmax products are covered: ``u * r`` on a lane multiplier (the default formats) and the unit's own
Booth multiplier (``narrow``, and the default formats with ``softmax_product = "booth"``). An Amaranth simulation also
puts the unit on the core's bank arbiter, whose other users drive the multipliers with random operands and
claim them at random, as the core's other units may: while the unit ``owns`` them, its errors must not change.
"""

import random
import tomllib

import numpy as np
import pytest
from amaranth import Elaboratable, Module
from amaranth.lib import wiring

from trifactor.golden.config import config_from_dict, load_config
from trifactor.golden.fixed_model import output_error
from trifactor.hdl.core.output_error import OutputErrorUnit
from trifactor.hdl.lanes import BankArbiter
from trifactor.hdl.layout import WeightLayout

from conftest import ROOT
from part_sim import simulate
from sim import run_cocotb, simulators
from unit_params import CONFIGS, build_name, params_for


def _digits(name=None, product="lanes"):
    """A configs/*.toml core with ``[hardware] softmax_product = product`` (``u * r`` on the lanes, or on the
    unit's own Booth multiplier)."""
    raw = tomllib.loads((ROOT / "configs" / f"{name or 'digits'}.toml").read_text())
    raw["hardware"]["softmax_product"], raw["name"] = product, f"{raw.get('name', 'digits')}_{product}"
    return config_from_dict(raw)


#: the unit testbenches' configurations (the default formats take the lanes, ``softmax_product = "auto"``), and
#: the default formats on the Booth multiplier
UNIT_CONFIGS = {**CONFIGS, "default_booth": lambda: _digits(product="booth")}


def run_output_error(name, simulator="verilator", perturb=None):
    cfg = UNIT_CONFIGS[name]()
    return run_cocotb(OutputErrorUnit(cfg), build_name("output_error", name, perturb), "cocotb_output_error", params_for(cfg, perturb=perturb, samples=1000), simulator)


@pytest.mark.parametrize("simulator", simulators())
@pytest.mark.parametrize("name", sorted(UNIT_CONFIGS))
def test_output_error(name, simulator):
    run_output_error(name, simulator)


def test_output_error_testbench_catches_a_wrong_golden():
    with pytest.raises(AssertionError, match="failed"):
        run_output_error("default", perturb="rounding")


def test_each_product_path_is_tested():
    """The unit configurations above cover both products; the lane path's ports exist exactly with it."""
    paths = {name: make().softmax_on_lanes for name, make in UNIT_CONFIGS.items()}
    assert paths == {"default": True, "odd": False, "narrow": False, "default_booth": False}
    assert not load_config(ROOT / "configs" / "mnist-up5k.toml").softmax_lanes_fit  # 8-bit b: 2**15 - 1 does not fit
    for name, lanes in paths.items():
        unit = OutputErrorUnit(UNIT_CONFIGS[name](), multipliers="external")
        assert hasattr(unit, "owns") == hasattr(unit, "mul") == lanes == unit.uses_lanes, name


def test_multipliers_argument_is_checked():
    with pytest.raises(ValueError, match="multipliers"):
        OutputErrorUnit(CONFIGS["default"](), multipliers="shared")


class _SharedLanes(Elaboratable):
    """The unit on a :class:`BankArbiter`'s multipliers (``error_mul``, ``error``), as in the core."""

    def __init__(self, cfg):
        self.unit = OutputErrorUnit(cfg, multipliers="external")
        self.arbiter = BankArbiter(cfg, init=np.zeros((cfg.lanes, WeightLayout(cfg).depth), dtype=int),
                                   output_error=True)

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit, m.submodules.arbiter = self.unit, self.arbiter
        wiring.connect(m, self.unit.mul, self.arbiter.error_mul)
        m.d.comb += self.arbiter.error.eq(self.unit.owns)
        return m


def check_shared_lanes(cfg, samples=12, seed=3):
    """Random scores close together (and ties at the maximum) through a unit on the bank arbiter's multipliers,
    whose other users drive random operands and claim them at random all along; ``o`` stalls at random. Every
    error must be golden's."""
    rng = random.Random(seed)
    dut = _SharedLanes(cfg)
    unit, arbiter, n = dut.unit, dut.arbiter, cfg.n_classes
    inputs = []
    for k in range(samples):  # scores within a few units, so most u are neither 0 nor 1.0
        centre, spread = rng.randint(cfg.act.min, cfg.act.max), rng.choice([1, 4, 16]) * cfg.act.one
        y = [min(max(centre + rng.randint(-spread, spread), cfg.act.min), cfg.act.max) for _ in range(n)]
        if k % 3 == 0:  # several classes at the maximum: each takes r << softmax_frac
            y = [max(y) if rng.random() < 0.4 else v for v in y]
        inputs.append((y, rng.randrange(n)))
    expected = [e for y, label in inputs for e in output_error(y, label, cfg)["e"].tolist()]
    got = []

    def signed_random(value):
        return rng.randint(-(1 << (len(value) - 1)), (1 << (len(value) - 1)) - 1)

    async def others(ctx):  # the MAC array, the update unit and (backpropagation) the backward unit
        ports = [arbiter.forward_mul, arbiter.update_mul] + ([arbiter.backward_mul] if cfg.backprop else [])
        while True:
            for port in ports:
                ctx.set(port.x, signed_random(port.x))
                for p in range(cfg.lanes):
                    ctx.set(port.b[p], signed_random(port.b[p]))
                    if cfg.backprop:
                        ctx.set(port.w[p], signed_random(port.w[p]))
                ctx.set(port.en, rng.random() < 0.7)
            ctx.set(arbiter.update, rng.random() < 0.5)
            if cfg.backprop:  # the backward unit multiplies its lanes' weights (transposed), or not
                ctx.set(arbiter.backward, rng.random() < 0.5)
                ctx.set(arbiter.backward_mul.transposed, rng.random() < 0.5)
            await ctx.tick()

    async def source(ctx):
        for y, label in inputs:
            for v in y:
                ctx.set(unit.i.payload.y, v)
                ctx.set(unit.i.payload.label, label)
                ctx.set(unit.i.valid, 1)
                await ctx.tick().until(unit.i.ready)
            ctx.set(unit.i.valid, 0)

    async def sink(ctx):
        for _ in range(100_000):
            ready = rng.random() < 0.7
            ctx.set(unit.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(unit.o.valid, unit.o.payload)
            if valid and ready:
                got.append(payload)
                if len(got) == len(expected):
                    return

    simulate(dut, source, sink, background=[others])
    assert got == expected


@pytest.mark.parametrize("name", ["digits", "digits-bp"])
def test_lane_product_on_the_bank_arbiter_ignores_the_other_users(name):
    check_shared_lanes(_digits(name))
