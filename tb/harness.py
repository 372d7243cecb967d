"""Test tops: a unit plus the lane memories it reads and writes, initialised from given bank contents.

The same harness is simulated by Amaranth (fast, in Python) and converted to Verilog for
cocotb + Verilator. Its ports are the unit's streams, forwarded unchanged.
"""

from amaranth import Module
from amaranth.hdl import signed
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from trifactor.hdl.layout import WeightLayout
from trifactor.hdl.mac_array import MacArray


def lane_memories(config, banks):
    """One ``Memory`` per lane, initialised with ``banks[p]``."""
    layout = WeightLayout(config)
    return [Memory(shape=signed(config.weight.width), depth=layout.depth, init=[int(v) for v in banks[p]])
            for p in range(config.lanes)]


class MacArrayHarness(wiring.Component):
    def __init__(self, config, banks):
        self.mac = MacArray(config)
        self.memories = lane_memories(config, banks)
        super().__init__({"i": In(stream.Signature(self.mac.cmd_layout)), "o": Out(stream.Signature(self.mac.result_layout))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.mac = self.mac
        for p, memory in enumerate(self.memories):
            m.submodules[f"bank{p}"] = memory
            wiring.connect(m, memory.read_port(), self.mac.weights[p])
        wiring.connect(m, wiring.flipped(self.i), self.mac.i)
        wiring.connect(m, self.mac.o, wiring.flipped(self.o))
        return m
