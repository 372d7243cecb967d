"""cocotb helpers shared by every testbench: struct packing, stream source and sink, clock and reset.

Amaranth flattens a stream's payload into one vector port (``i__payload``); :func:`pack`
and :func:`unpack` convert between that integer and nested Python values using the same
``amaranth.lib.data`` layout the RTL was built from.
"""

import random

import cocotb
from amaranth.hdl import Shape
from amaranth.lib import data
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge


def pack(layout, value) -> int:
    """Nested dicts/lists/ints -> the payload's bit pattern."""
    if isinstance(layout, data.StructLayout):
        return sum(pack(field.shape, value[name]) << field.offset for name, field in layout)
    if isinstance(layout, data.ArrayLayout):
        width = Shape.cast(layout.elem_shape).width
        return sum(pack(layout.elem_shape, v) << (n * width) for n, v in enumerate(value))
    width = Shape.cast(layout).width
    return int(value) & ((1 << width) - 1)


def unpack(layout, bits: int):
    """The payload's bit pattern -> nested dicts/lists/ints (signed fields sign-extended)."""
    if isinstance(layout, data.StructLayout):
        return {name: unpack(field.shape, bits >> field.offset) for name, field in layout}
    if isinstance(layout, data.ArrayLayout):
        width = Shape.cast(layout.elem_shape).width
        return [unpack(layout.elem_shape, bits >> (n * width)) for n in range(layout.length)]
    shape = Shape.cast(layout)
    bits &= (1 << shape.width) - 1
    if shape.signed and bits >> (shape.width - 1):
        bits -= 1 << shape.width
    return bits


async def start_clock_and_reset(dut, cycles=2):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


class CycleCounter:
    """Counts rising edges from start: latency and throughput are measured in these cycles.

    Sources and sinks read it in the ReadOnly phase of a transfer's cycle, so a latency is
    the number of clock edges between an input transfer and the resulting output transfer.
    """

    def __init__(self, dut):
        self.dut, self.now = dut, 0
        cocotb.start_soon(self._run())

    async def _run(self):
        while True:
            await RisingEdge(self.dut.clk)
            self.now += 1


class StreamSource:
    """Drives ``<name>__valid`` / ``<name>__payload``; ``idle`` is the chance of a cycle without valid."""

    def __init__(self, dut, name, layout, idle=0.0, rng=None, clock=None):
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready", None)  # None: an always-ready stream has no ready port
        self.payload = getattr(dut, f"{name}__payload")
        self.layout, self.idle, self.rng, self.dut = layout, idle, rng or random.Random(0), dut
        self.clock = clock
        self.sent_at = []
        self.valid.value = 0

    async def send(self, items):
        """Send every item; returns when the last one has been taken."""
        for item in items:
            while self.idle and self.rng.random() < self.idle:
                self.valid.value = 0
                await RisingEdge(self.dut.clk)
            self.valid.value = 1
            self.payload.value = pack(self.layout, item)
            while True:
                await ReadOnly()  # sample in the cycle of the transfer, as the sink does
                taken, cycle = self.ready is None or bool(self.ready.value), self.clock.now if self.clock else None
                await RisingEdge(self.dut.clk)
                if taken:
                    break
            if self.clock:
                self.sent_at.append(cycle)
        self.valid.value = 0


class StreamSink:
    """Collects every transfer on ``<name>``; ``stall`` is the chance of a cycle with ready low."""

    def __init__(self, dut, name, layout, stall=0.0, rng=None, clock=None):
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.payload = getattr(dut, f"{name}__payload")
        self.layout, self.stall, self.rng, self.dut, self.clock = layout, stall, rng or random.Random(1), dut, clock
        self.items, self.received_at = [], []
        self.ready.value = 0
        cocotb.start_soon(self._run())

    async def _run(self):
        while True:
            self.ready.value = int(not (self.stall and self.rng.random() < self.stall))
            await ReadOnly()
            if self.valid.value and self.ready.value:
                self.items.append(unpack(self.layout, int(self.payload.value)))
                if self.clock:
                    self.received_at.append(self.clock.now)
            await RisingEdge(self.dut.clk)

    async def wait_for(self, count, timeout_cycles=1_000_000):
        for _ in range(timeout_cycles):
            if len(self.items) >= count:
                return self.items
            await RisingEdge(self.dut.clk)
        raise AssertionError(f"timed out: {len(self.items)} of {count} transfers arrived")
