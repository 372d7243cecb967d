"""The shared lane multipliers and the aligned broadcast input, in Amaranth's simulator (pure Python)."""

import gc

import numpy as np
import pytest
from amaranth import Module, Signal
from amaranth.hdl import Fragment, signed, unsigned
from amaranth.sim import Simulator

from trifactor.hdl.lanes.lane_multipliers import LaneMultipliers, align_input, input_frac, input_width
from trifactor.hdl.core.mac_array import MacArray
from trifactor.hdl.core.update_unit import UpdateUnit

from unit_params import CONFIGS, format_values


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_products_leave_two_enabled_cycles_after_their_operands_and_hold_otherwise(name):
    cfg = CONFIGS[name]()
    dut = LaneMultipliers(cfg)
    x_shape, b_shape = dut.x.shape(), dut.b[0].shape()
    rng = np.random.default_rng(0)

    def operand(shape, n):
        lo, hi = -(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1
        return [int(v) for v in rng.choice([lo, hi, 0, -1, *rng.integers(lo, hi, 20)], n)]

    async def bench(ctx):
        # nothing registered yet: the registers have no reset
        operands, expected = None, None
        for _ in range(200):
            x, b, en = operand(x_shape, 1)[0], operand(b_shape, cfg.lanes), rng.random() < 0.7
            ctx.set(dut.x, x)
            for p in range(cfg.lanes):
                ctx.set(dut.b[p], b[p])
            ctx.set(dut.en, en)
            await ctx.tick()
            if en:
                expected = None if operands is None else [operands[0] * v for v in operands[1]]
                operands = (x, b)
            if expected is not None:
                assert [ctx.get(dut.product[p]) for p in range(cfg.lanes)] == expected

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_aligned_input_is_the_same_number_at_the_common_fraction(name):
    cfg = CONFIGS[name]()
    frac = input_frac(cfg)
    m = Module()
    x, layer = Signal(signed(max(s.x.width for s in cfg.layers))), Signal(unsigned(max(1, (cfg.n_layers - 1).bit_length())))
    out = Signal(signed(input_width(cfg)))
    m.d.comb += out.eq(align_input(cfg, x, layer))
    rng = np.random.default_rng(1)

    async def bench(ctx):
        for spec in cfg.layers:
            values = [spec.x.min, spec.x.max, spec.x.one, *format_values(spec.x, 50, rng)]
            for v in values:
                ctx.set(x, int(v))
                ctx.set(layer, spec.index)
                assert ctx.get(out) == int(v) << (frac - spec.x.frac)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


def test_units_take_internal_or_external_multipliers():
    cfg = CONFIGS["default"]()
    for unit in (MacArray, UpdateUnit):
        internal, external = unit(cfg), unit(cfg, multipliers="external")
        assert "mul" not in internal.signature.members and "mul" in external.signature.members
        for built in (internal, external):
            Fragment.get(built, None)  # elaborates (and so uses) it
        with pytest.raises(ValueError, match="multipliers must be one of"):
            unit(cfg, multipliers="shared")
    gc.collect()  # refused units are marked used (hdl.errors.reject); collect them here, not in a later test
