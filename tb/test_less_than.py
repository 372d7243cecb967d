"""hdl/compare.py in Amaranth's simulator: every value of small widths against Python's ``<``.

``less_than`` and ``below`` (with the carry-chain comparison and without) must equal ``value < limit`` for every
value and limit, the limits around each power of two included, and ``below`` must narrow a value below the limit to
itself.
"""

import pytest
from amaranth import Module, Signal
from amaranth.sim import Simulator

from trifactor.hdl.compare import below, less_than


def evaluate(width, build):
    """Every ``width``-bit value through ``build(m, x)`` (a tuple of expressions); returns their values per input."""
    m = Module()
    x = Signal(width)
    exprs = build(m, x)
    outs = [Signal(len(e), name=f"out{k}") for k, e in enumerate(exprs)]
    m.d.comb += [o.eq(e) for o, e in zip(outs, exprs)]
    results = []

    async def bench(ctx):
        for v in range(1 << width):
            ctx.set(x, v)
            results.append(tuple(ctx.get(o) for o in outs))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return results


@pytest.mark.parametrize("width", [1, 3, 6])
def test_less_than_is_python_s_less_than_for_every_value_and_limit(width):
    for limit in range(0, (1 << width) + 3):
        got = [r[0] for r in evaluate(width, lambda m, x: (less_than(x, limit),))]
        assert got == [int(v < limit) for v in range(1 << width)], f"width {width}, limit {limit}"


@pytest.mark.parametrize("chain", [True, False])
@pytest.mark.parametrize("width", [4, 7])
def test_below_answers_and_narrows_with_a_chain_or_without(width, chain):
    for limit in sorted({1, 2, 3, 5, 8, 9, 13, 16, 17, (1 << width) - 1, 1 << width}):
        got = evaluate(width, lambda m, x: below(m, x, limit, chain=chain))
        for v, (ok, narrow) in enumerate(got):
            assert ok == int(v < limit), f"width {width}, limit {limit}, value {v}"
            if v < limit:
                assert narrow == v
