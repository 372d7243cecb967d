"""A top for measuring the core alone: every input from registers, every output into a register.

An LFSR drives the command stream and ``o.ready``; the core's outputs go into registers,
as in a real consumer (the host link registers the reply word), and those registers are
folded by XOR into one registered output pin. Nothing can be optimised away, every path starts and ends at a
flip-flop, and the design needs three pins (clock, reset, probe), so synthesis and
place-and-route report the core's own resources and Fmax on any package. It does not
compute anything useful: the board tops do that.
"""

from amaranth import Module, Signal
from amaranth.hdl import Cat
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from trifactor.golden.config import Config

from ..core import LearnerCore

__all__ = ["MeasurementTop"]


class MeasurementTop(wiring.Component):
    probe: Out(1)

    def __init__(self, config: Config, *, seed: int = 0):
        self.core = LearnerCore(config, seed=seed)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        # a 40-bit Fibonacci LFSR (taps 40, 38, 21, 19), shifted every cycle
        lfsr = Signal(40, init=1)
        m.d.sync += lfsr.eq(Cat(lfsr[39] ^ lfsr[37] ^ lfsr[20] ^ lfsr[18], lfsr[:39]))
        m.d.sync += [core.i.payload.eq(lfsr[:32]), core.i.valid.eq(lfsr[32]), core.o.ready.eq(lfsr[33])]
        outputs = Signal(len(core.o.payload) + 2)
        m.d.sync += outputs.eq(Cat(core.o.payload, core.o.valid, core.i.ready))
        folded = Signal()
        m.d.sync += folded.eq(outputs.xor())
        m.d.comb += self.probe.eq(folded)
        return m
