"""hdl/arith.py against golden/fixedpoint.py in Amaranth's simulator (pure Python, no compile).

Each case builds the combinational expression for one (shift or format, mode) pair and
sweeps edge values and random values through it; results must be equal, not close.
"""

import numpy as np
import pytest
from amaranth import Module, Signal
from amaranth.hdl import signed, unsigned
from amaranth.sim import Simulator

from trifactor.golden.fixedpoint import Fixed, Overflow, Rounding, narrow, shift_right
from trifactor.hdl import arith


def evaluate(build, in_shape, values):
    """Drive ``values`` through ``build(input)`` combinationally; returns the outputs as ints."""
    m = Module()
    x = Signal(in_shape)
    expr = build(x)
    y = Signal(expr.shape())
    m.d.comb += y.eq(expr)
    results = []

    async def bench(ctx):
        for v in values:
            ctx.set(x, int(v))
            results.append(ctx.get(y))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return results


def edge_and_random(width, is_signed, n=300, seed=0):
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if is_signed else (0, (1 << width) - 1)
    edges = [lo, lo + 1, -1 if is_signed else 1, 0, 1, hi - 1, hi]
    rng = np.random.default_rng(seed)
    return [v for v in edges if lo <= v <= hi] + rng.integers(lo, hi, n, endpoint=True).tolist()


@pytest.mark.parametrize("rounding", list(Rounding))
@pytest.mark.parametrize("shift", [-3, 0, 1, 2, 7, 14])
@pytest.mark.parametrize("width", [6, 20, 34])
def test_shift_right_matches_golden(rounding, shift, width):
    values = edge_and_random(width, True)
    got = evaluate(lambda x: arith.shift_right(x, shift, rounding), signed(width), values)
    assert got == shift_right(np.array(values), shift, rounding).tolist()


@pytest.mark.parametrize("overflow", list(Overflow))
@pytest.mark.parametrize("fmt", [Fixed(8, 6), Fixed(12, 3), Fixed(16, 12), Fixed(3, 0)])
@pytest.mark.parametrize("in_shape", [signed(20), signed(8), unsigned(9), signed(3)])
def test_narrow_matches_golden(overflow, fmt, in_shape):
    values = edge_and_random(in_shape.width, in_shape.signed)
    got = evaluate(lambda x: arith.narrow(x, fmt, overflow), in_shape, values)
    assert got == narrow(np.array(values), fmt, overflow).tolist()
    assert all(fmt.min <= v <= fmt.max for v in got)


@pytest.mark.parametrize("rounding", list(Rounding))
@pytest.mark.parametrize("shift", [-3, 0, 1, 2, 7, 14])
def test_round_constant_then_truncation_is_the_named_rounding(rounding, shift):
    width = 24
    values = edge_and_random(width, True)
    constant = arith.round_constant(shift, rounding)
    got = evaluate(lambda x: arith.shift_right(x + constant, shift, Rounding.TRUNCATE), signed(width), values)
    assert got == shift_right(np.array(values), shift, rounding).tolist()


@pytest.mark.parametrize("values", [[5, -3, 12], [7, 7, 7], [0]])
def test_select_picks_by_index(values):
    got = evaluate(lambda i: arith.select(i, values), unsigned(2), range(len(values)))
    assert got == values
