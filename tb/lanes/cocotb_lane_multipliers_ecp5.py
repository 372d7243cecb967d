"""cocotb: the lane multipliers' ECP5 netlist, cycle by cycle against an Amaranth simulation of the same multipliers.

The parameters (tb/lanes/test_lane_multipliers_ecp5.py) hold every cycle's raw port values: the inputs to drive
before its rising edge and, once two enabled cycles have passed, the ``product`` the Amaranth simulation showed
after that edge. Inputs change and products are read at the falling edges.
"""

import cocotb
from cocotb.triggers import FallingEdge

from trifactor.scripts.sim.streams import start_clock

from sim import load_params


@cocotb.test()
async def netlist_products_match_the_rtl(dut):
    params = load_params()
    await start_clock(dut)
    checked, expected = 0, None
    for n, cycle in enumerate(params["cycles"] + [None]):
        await FallingEdge(dut.clk)
        if expected is not None:
            got = int(dut.product.value)
            assert got == expected, (f"cycle {n - 1}: product {got:#x}, the RTL's {expected:#x} "
                                     f"(lanes differ: {_lanes_differing(got, expected, params)})")
            checked += 1
        if cycle is None:
            break
        for port in params["inputs"]:
            getattr(dut, port).value = cycle[port]
        expected = cycle["product"]
    assert checked >= len(params["cycles"]) // 2, f"only {checked} of {len(params['cycles'])} cycles checked"


def _lanes_differing(got: int, expected: int, params) -> list:
    width, mask = params["product_width"], (1 << params["product_width"]) - 1
    return [p for p in range(params["lanes"]) if (got >> (p * width)) & mask != (expected >> (p * width)) & mask]
