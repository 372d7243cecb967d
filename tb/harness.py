"""Test tops: a unit plus the lane memories it reads and writes, initialised from given bank contents.

The same harness is simulated by Amaranth (fast, in Python) and converted to Verilog for
cocotb + Verilator. Its ports are the unit's streams, forwarded unchanged.
"""

from amaranth import Module
from amaranth.hdl import signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from trifactor.hdl.layout import WeightLayout
from trifactor.hdl.core.mac_array import MacArray
from trifactor.hdl.core.update_unit import UpdateUnit


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


def written_layout(config):
    """What ``UpdateUnitHarness.written`` carries: the write enable, address and P words of a cycle."""
    words = data.ArrayLayout(signed(config.weight.width), config.lanes)
    return data.StructLayout({"valid": 1, "addr": unsigned(WeightLayout(config).addr_width), "data": words})


class UpdateUnitHarness(wiring.Component):
    """The update unit on its lane memories; ``written`` mirrors the write ports, ``peek`` reads a bank word back."""

    def __init__(self, config, banks):
        self.unit = UpdateUnit(config)
        self.memories = lane_memories(config, banks)
        self.written_layout = written_layout(config)
        super().__init__({
            "i": In(stream.Signature(self.unit.cmd_layout)),
            "written": Out(self.written_layout),
            "peek_addr": In(unsigned(WeightLayout(config).addr_width)),
            "peek_data": Out(self.written_layout["data"].shape),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = self.unit
        wiring.connect(m, wiring.flipped(self.i), self.unit.i)
        for p, memory in enumerate(self.memories):
            m.submodules[f"bank{p}"] = memory
            wiring.connect(m, memory.read_port(), self.unit.read[p])
            write = memory.write_port()
            wiring.connect(m, write, self.unit.write[p])
            peek = memory.read_port()
            m.d.comb += [peek.addr.eq(self.peek_addr), self.peek_data[p].eq(peek.data)]
            m.d.comb += self.written.data[p].eq(write.data)
        m.d.comb += [self.written.valid.eq(self.unit.write[0].en), self.written.addr.eq(self.unit.write[0].addr)]
        return m
