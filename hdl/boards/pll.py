"""The boards' PLLs: their divider settings, computed here once, and the clock domain they drive.

:func:`pll_settings` chooses a PLL's dividers for a requested output frequency the way
the vendor-free calculators do (``icepll`` for the iCE40 SB_PLL40, ``ecppll`` for the ECP5
EHXPLLL; ``tb/boards/test_pll.py`` checks that both agree), and gives the frequency the PLL
really makes as an exact fraction. The board top builds its PLL from these settings, the
UART divisor follows ``f_out``, and ``trifactor build`` reports it.

:class:`PllDomain` is the clock domain: the PLL fed from the board oscillator's pad, and
the domain held in reset until the PLL has locked and then ``LOCK_DELAY`` longer (the
iCE40 block RAMs read as zero for ~3 us after configuration; amaranth's own iCE40 reset
waits 15 us for the same reason).
"""

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from amaranth import ClockDomain, ClockSignal, Elaboratable, Module, ResetSignal, Signal
from amaranth.hdl import Instance
from amaranth.lib import io, wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["Ice40Pll", "Ecp5Pll", "PLL_RANGES", "pll_settings", "fastest_exact_clock", "LockReset", "PllDomain",
           "LOCK_DELAY"]

MHZ = 1_000_000
LOCK_DELAY = 15e-6  # seconds in reset after LOCK rises

# (input, output) frequency ranges in MHz the calculators accept (iCE40: the datasheet's;
# ECP5: ecppll's, which only warns outside them; we refuse)
PLL_RANGES = {"ice40": ((10, 133), (16, 275)), "ecp5": ((8, 400), (10, 400))}


@dataclass(frozen=True)
class Ice40Pll:
    """SB_PLL40 dividers, SIMPLE feedback: ``f_out = f_in * (DIVF + 1) / (DIVR + 1) / 2**DIVQ``."""

    f_in: Fraction
    divr: int
    divf: int
    divq: int

    @property
    def f_pfd(self) -> Fraction:
        return self.f_in / (self.divr + 1)

    @property
    def f_vco(self) -> Fraction:
        return self.f_pfd * (self.divf + 1)

    @property
    def f_out(self) -> Fraction:
        return self.f_vco / 2 ** self.divq

    @property
    def filter_range(self) -> int:
        """The loop filter setting for the phase detector frequency (icepll's table)."""
        return 1 + sum(self.f_pfd >= bound * MHZ for bound in (17, 26, 44, 66, 101))


@dataclass(frozen=True)
class Ecp5Pll:
    """EHXPLLL dividers, CLKOP fed back: ``f_out = f_in * CLKFB_DIV / CLKI_DIV``, ``f_vco = f_out * CLKOP_DIV``."""

    f_in: Fraction
    clki_div: int
    clkfb_div: int
    clkop_div: int
    clkop_cphase: int  # ecppll shifts CLKOP by 180 degrees, as Lattice's tools do

    @property
    def f_out(self) -> Fraction:
        return self.f_in * self.clkfb_div / self.clki_div

    @property
    def f_vco(self) -> Fraction:
        return self.f_out * self.clkop_div


def _ice40(f_in: Fraction, f_out: Fraction) -> Ice40Pll:
    # icepll's search: the first closest output, in the order DIVR, DIVF, DIVQ
    best = None
    for divr in range(16):
        f_pfd = f_in / (divr + 1)
        if not 10 * MHZ <= f_pfd <= 133 * MHZ:
            continue
        for divf in range(128):
            if not 533 * MHZ <= f_pfd * (divf + 1) <= 1066 * MHZ:
                continue
            for divq in range(1, 7):
                pll = Ice40Pll(f_in, divr, divf, divq)
                if best is None or abs(pll.f_out - f_out) < abs(best.f_out - f_out):
                    best = pll
    return best


def _ecp5(f_in: Fraction, f_out: Fraction) -> Ecp5Pll:
    # ecppll's search, in its single-precision arithmetic (so that ties break the same way):
    # the closest output, then the VCO closest to 600 MHz, then the first in the order
    # CLKI_DIV, CLKFB_DIV, CLKOP_DIV
    f32 = np.float32
    clki, clkfb, clkop = np.meshgrid(np.arange(1, 129), np.arange(1, 81), np.arange(1, 129), indexing="ij")
    f_pfd = f32(f_in / MHZ) / clki.astype(f32)
    f_vco = f_pfd * clkfb.astype(f32) * clkop.astype(f32)
    out = f_vco / clkop.astype(f32)
    ok = (f_pfd >= f32(3.125)) & (f_pfd <= f32(400)) & (f_vco >= f32(400)) & (f_vco <= f32(800))
    error = np.where(ok, np.abs(out - f32(f_out / MHZ)), np.inf)
    off_600 = np.where(ok, np.abs(f_vco - f32(600)), np.inf)
    closest = np.flatnonzero(error.ravel() == error.min())
    index = closest[np.argmin(off_600.ravel()[closest])]  # argmin: the first of equals
    i, fb, op = (int(a.ravel()[index]) for a in (clki, clkfb, clkop))
    fout32, fvco32 = out.ravel()[index], f_vco.ravel()[index]
    half_period = float(f32(1 / (float(fout32) * 1e6) * 0.5))
    return Ecp5Pll(f_in, i, fb, op, int(half_period * (float(fvco32) * 1e6)))


def pll_settings(family: str, f_in: float, f_out: float):
    """The dividers that bring ``f_in`` (Hz) closest to ``f_out`` (Hz); the result's ``f_out`` is what the PLL makes.

    Raises ``ValueError`` naming the range when the PLL cannot make ``f_out`` from ``f_in``.
    """
    if family not in PLL_RANGES:
        raise ValueError(f"no PLL for the FPGA family {family!r}; known: {', '.join(PLL_RANGES)}")
    (in_lo, in_hi), (out_lo, out_hi) = PLL_RANGES[family]
    if not in_lo * MHZ <= f_in <= in_hi * MHZ:
        raise ValueError(f"the {family} PLL takes {in_lo} to {in_hi} MHz, not a {f_in / MHZ:g} MHz input")
    numeric = isinstance(f_out, (int, float, Fraction)) and math.isfinite(f_out)
    if not (numeric and out_lo * MHZ <= f_out <= out_hi * MHZ):
        raise ValueError(f"the {family} PLL makes {out_lo} to {out_hi} MHz, not {f_out / MHZ:g} MHz")
    return (_ice40 if family == "ice40" else _ecp5)(Fraction(f_in), Fraction(f_out))


def fastest_exact_clock(family: str, f_in: float, limit: float):
    """The settings of the fastest whole number of MHz, at most ``limit`` Hz, that the PLL makes exactly; or None."""
    lowest = PLL_RANGES[family][1][0]
    for mhz in range(min(math.floor(limit / MHZ), PLL_RANGES[family][1][1]), lowest - 1, -1):
        pll = pll_settings(family, f_in, mhz * MHZ)
        if pll.f_out == mhz * MHZ:
            return pll
    return None


class LockReset(wiring.Component):
    """A domain's reset from a PLL's ``LOCK``: asserted at once while unlocked, released ``delay_cycles`` after lock.

    Parameters
    ----------
    delay_cycles : int
        Cycles of ``domain``'s clock between ``lock`` rising and ``reset`` falling (about two more for
        the synchroniser).
    domain : str
        Whose clock counts the cycles.

    Members
    -------
    lock : In(1)
        The PLL's LOCK, asynchronous.
    reset : Out(1)
        For ``domain``'s ``ResetSignal``: high until the delay after lock, and again whenever lock drops.
    """

    lock: In(1)
    reset: Out(1)

    def __init__(self, delay_cycles: int, *, domain: str = "sync"):
        if not isinstance(delay_cycles, int) or delay_cycles < 1:
            raise ValueError(f"delay_cycles must be a positive integer, not {delay_cycles!r}")
        self.delay_cycles, self.domain = delay_cycles, domain
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        # a domain of its own on the same clock, reset (asynchronously) while unlocked
        m.domains.unlocked = ClockDomain("unlocked", local=True)
        m.d.comb += ClockSignal("unlocked").eq(ClockSignal(self.domain))
        m.submodules.lock_sync = ResetSynchronizer(~self.lock, domain="unlocked")
        timer = Signal(range(self.delay_cycles + 1))
        ready = Signal()  # power-up value 0, as every FF on these parts
        with m.If(timer == self.delay_cycles):
            m.d.unlocked += ready.eq(1)
        with m.Else():
            m.d.unlocked += timer.eq(timer + 1)
        m.d.comb += self.reset.eq(~ready)
        return m


class PllDomain(Elaboratable):
    """The clock and reset of a domain, from the family's PLL fed by a board oscillator's pad.

    The iCE40 uses SB_PLL40_PAD (the iCEBreaker's 12 MHz oscillator is on pin 35, the UP5K
    PLL's own input pad), the ECP5 EHXPLLL behind an input buffer. nextpnr derives the
    output's clock constraint from the oscillator's (which the platform sets) and the
    dividers, so it checks timing at the real frequency: no net name to keep through
    synthesis. The domain is in reset until the PLL locks and ``LOCK_DELAY`` after
    (:class:`LockReset`).

    Parameters
    ----------
    pll : Ice40Pll or Ecp5Pll
        From :func:`pll_settings`.
    pad : the oscillator's raw port (``platform.request(name, dir="-")``)
    domain : str
        The domain it drives the clock and reset of; the parent defines it (Amaranth 0.6 will
        not let a domain defined here reach the parent's other submodules).
    """

    def __init__(self, pll, pad, *, domain: str = "sync"):
        if not isinstance(pll, (Ice40Pll, Ecp5Pll)):
            raise TypeError(f"pll must be an Ice40Pll or Ecp5Pll, not {pll!r}")
        self.pll, self.pad, self.domain = pll, pad, domain
        self.lock_reset = LockReset(math.ceil(LOCK_DELAY * pll.f_out), domain=domain)

    def elaborate(self, platform):
        m = Module()
        clk, lock = Signal(name="pll_clk"), Signal(name="pll_lock")
        m.submodules.pll = self._instance(m, clk, lock)
        m.submodules.lock_reset = lock_reset = self.lock_reset
        m.d.comb += [ClockSignal(self.domain).eq(clk), lock_reset.lock.eq(lock),
                     ResetSignal(self.domain).eq(lock_reset.reset)]
        return m
    def _instance(self, m, clk, lock):
        pll = self.pll
        if isinstance(pll, Ice40Pll):
            return Instance("SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE", p_DIVR=pll.divr, p_DIVF=pll.divf,
                            p_DIVQ=pll.divq, p_FILTER_RANGE=pll.filter_range,
                            i_PACKAGEPIN=self.pad.io, i_RESETB=1, i_BYPASS=0, o_PLLOUTGLOBAL=clk, o_LOCK=lock)
        m.submodules.clk_in = clk_in = io.Buffer("i", self.pad)
        return Instance(
            "EHXPLLL",
            # as ecppll writes them: the loop filter settings and the frequencies for nextpnr
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            a_FREQUENCY_PIN_CLKI=f"{float(pll.f_in / MHZ):g}", a_FREQUENCY_PIN_CLKOP=f"{float(pll.f_out / MHZ):g}",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_CLKOP_ENABLE="ENABLED",
            p_CLKOP_DIV=pll.clkop_div, p_CLKOP_CPHASE=pll.clkop_cphase, p_CLKOP_FPHASE=0,
            p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=pll.clkfb_div, p_CLKI_DIV=pll.clki_div,
            i_CLKI=clk_in.i, i_CLKFB=clk, o_CLKOP=clk, i_RST=0, i_STDBY=0, i_PHASESEL0=0, i_PHASESEL1=0,
            i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0, o_LOCK=lock)
