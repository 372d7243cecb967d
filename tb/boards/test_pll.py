# amaranth: UnusedElaboratable=no
"""The PLL settings (:mod:`hdl.boards.pll`) against the calculators the open toolchains ship, and the lock reset in simulation.

``yowasp-icepll`` and ``yowasp-ecppll`` (installed with the yowasp tools) are the
reference: for each requested frequency our dividers must be theirs, so the board build
and its report name the clock the PLL really makes.
"""

import math
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from amaranth.sim import Simulator

from trifactor.hdl.boards.pll import Ecp5Pll, Ice40Pll, LockReset, fastest_exact_clock, pll_settings

BIN = Path(sys.executable).parent
MHZ = 1_000_000


def icepll(f_in, f_out):
    text = subprocess.run([BIN / "yowasp-icepll", "-i", str(f_in), "-o", str(f_out)], capture_output=True,
                          text=True, check=True).stdout
    names = ("DIVR", "DIVF", "DIVQ", "FILTER_RANGE")
    return tuple(int(re.search(rf"{name}:\s+(\d+)", text).group(1)) for name in names)


def ecppll(tmp_path, f_in, f_out):
    # the WebAssembly tool sees its working folder only
    subprocess.run([BIN / "yowasp-ecppll", "-i", str(f_in), "-o", str(f_out), "-f", "pll.v"], cwd=tmp_path,
                   capture_output=True, check=True)
    verilog = (tmp_path / "pll.v").read_text()
    return tuple(int(re.search(rf"\.{name}\((\d+)\)", verilog).group(1))
                 for name in ("CLKI_DIV", "CLKFB_DIV", "CLKOP_DIV", "CLKOP_CPHASE"))


# exact and inexact requests, ties between divider sets, and both ends of the output range
@pytest.mark.parametrize("f_out", [16, 21, 25, 33.3, 48, 275])
def test_ice40_settings_are_icepll_s(f_out):
    pll = pll_settings("ice40", 12 * MHZ, f_out * MHZ)
    assert (pll.divr, pll.divf, pll.divq, pll.filter_range) == icepll(12, f_out)
    assert pll.f_out == Fraction(12 * MHZ) * (pll.divf + 1) / (pll.divr + 1) / 2 ** pll.divq
    assert 533 * MHZ <= pll.f_vco <= 1066 * MHZ


@pytest.mark.parametrize("f_out", [10, 24, 33.3, 48, 65, 100, 400])
def test_ecp5_settings_are_ecppll_s(tmp_path, f_out):
    pll = pll_settings("ecp5", 25 * MHZ, f_out * MHZ)
    assert (pll.clki_div, pll.clkfb_div, pll.clkop_div, pll.clkop_cphase) == ecppll(tmp_path, 25, f_out)
    assert 400 * MHZ <= pll.f_vco <= 800 * MHZ


def test_the_real_frequency_is_exact():
    assert pll_settings("ice40", 12 * MHZ, 25 * MHZ).f_out == Fraction(25_125_000)      # 12 * 67 / 32
    assert pll_settings("ecp5", 25 * MHZ, 33.3 * MHZ).f_out == Fraction(100 * MHZ, 3)  # 25 * 4 / 3


@pytest.mark.parametrize("family, f_in, limit_mhz, expected", [
    ("ice40", 12, 22.9, Ice40Pll(Fraction(12 * MHZ), 0, 55, 5)),    # 21 MHz: 12 MHz x 56 / 32
    ("ice40", 12, 20.5, Ice40Pll(Fraction(12 * MHZ), 0, 47, 5)),    # 18: 20 and 19 are not exact (19.875, 18.75)
    ("ice40", 12, 17.9, None),                                      # 16 and 17 are not exact, 15 is below the PLL
    ("ecp5", 25, 47.9, Ecp5Pll(Fraction(25 * MHZ), 5, 9, 13, 6)),   # 45: no 46 or 47 from 25 MHz
])
def test_the_fastest_exact_clock_is_a_whole_mhz_the_pll_makes(family, f_in, limit_mhz, expected):
    assert fastest_exact_clock(family, f_in * MHZ, limit_mhz * MHZ) == expected


@pytest.mark.parametrize("family, f_out_mhz, words", [
    ("ice40", 12, "the ice40 PLL makes 16 to 275 MHz, not 12 MHz"),
    ("ice40", 300, "not 300 MHz"),
    ("ice40", math.nan, "not nan MHz"),
    ("ecp5", 401, "the ecp5 PLL makes 10 to 400 MHz"),
    ("xilinx", 50, "no PLL for the FPGA family 'xilinx'"),
])
def test_impossible_frequencies_are_refused(family, f_out_mhz, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        pll_settings(family, 12 * MHZ, f_out_mhz * MHZ)


def test_lock_holds_the_domain_in_reset_until_the_delay_after_lock():
    dut = LockReset(10)
    trace = []

    async def bench(ctx):
        for lock in [0] * 20 + [1] * 30 + [0] * 3 + [1] * 20:
            ctx.set(dut.lock, lock)
            await ctx.tick()
            trace.append(ctx.get(dut.reset))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    # in reset while unlocked; released 10 cycles after lock plus the synchroniser's two;
    # in reset again at once when lock drops, for the whole delay again
    assert trace[:20] == [1] * 20
    released = trace.index(0)
    assert released == 20 + 10 + 2, trace
    assert trace[released:50] == [0] * (50 - released)
    assert trace[50:53] == [1] * 3 and trace[53:53 + 12] == [1] * 12 and trace[-1] == 0
