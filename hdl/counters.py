"""The core's counters: cycles, samples, MACs done and skipped (``hdl.protocol.COUNTER_NAMES``)."""

from amaranth import Module, Signal
from amaranth.hdl import Array
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .protocol import COUNTER_BITS, COUNTER_NAMES

__all__ = ["Counters"]


class Counters(wiring.Component):
    """``COUNTER_BITS``-bit counters, read as 32-bit words (low word first, in ``COUNTER_NAMES`` order).

    Parameters
    ----------
    max_step : int
        The largest ``macs_done`` or ``macs_skipped`` increment.

    Members
    -------
    busy : In(1)
        Count this cycle (``cycles``: a sample is in progress).
    sample : In(1)
        A training sample is done.
    macs_done, macs_skipped : In(range(max_step + 1))
        Added every cycle; give them from a register, so the carry chains start at a flip-flop.
    select : In(range(words))
    word : Out(32)
        Word ``select`` (combinational).
    """

    #: 32-bit words of the counters.
    words = 2 * len(COUNTER_NAMES)

    def __init__(self, *, max_step: int):
        if not isinstance(max_step, int) or max_step < 1:
            raise ValueError(f"max_step must be a positive integer, not {max_step!r}")
        super().__init__({
            "busy": In(1), "sample": In(1),
            "macs_done": In(range(max_step + 1)), "macs_skipped": In(range(max_step + 1)),
            "select": In(range(self.words)), "word": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        # 48 bits: 68 days of cycles at 48 MHz (the protocol sends 64, the top 16 zero)
        counters = {name: Signal(COUNTER_BITS, name=name) for name in COUNTER_NAMES}
        steps = {"cycles": self.busy, "samples": self.sample,
                 "macs_done": self.macs_done, "macs_skipped": self.macs_skipped}
        for name, counter in counters.items():
            step = steps[name]
            if len(step) == 1:  # an enable and an incrementer, not an adder
                with m.If(step):
                    m.d.sync += counter.eq(counter + 1)
            else:
                m.d.sync += counter.eq(counter + step)
        words = Array(v for name in COUNTER_NAMES for v in (counters[name][:32], counters[name][32:]))
        m.d.comb += self.word.eq(words[self.select])
        return m
