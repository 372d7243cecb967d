"""The one valid/ready stream driver of every testbench and simulation session (cocotb 2.x).

:class:`StreamSource` drives a top's input stream and :class:`StreamSink` takes its
output stream, as cocotbext-axi's sources and sinks do: a queue API (``send``,
``recv``) and backpressure from a pluggable *pause generator*, an iterator that yields
one boolean per clock cycle: True holds the source's ``valid`` (or the sink's ``ready``)
low for that cycle (:func:`random_pause`). Without a pause generator a driver waits on
its signals' edges, not on every clock, so the design computes without Python in the loop.

Signals are sampled in the ``ReadOnly`` phase of the cycle of a transfer, and a
:class:`CycleCounter` given as ``clock`` stamps every transfer with its cycle
(``sent_at``, ``received_at``): a latency is the number of clock edges between two
transfers. Amaranth flattens a stream's payload into one vector port
(``i__payload``); :func:`pack` and :func:`unpack` convert between that integer and nested
Python values using the ``amaranth.lib.data`` layout (or plain shape) the RTL was built from.
"""

import random
from collections import deque

import cocotb
from amaranth.hdl import Shape
from amaranth.lib import data
from cocotb.clock import Clock
from cocotb.triggers import Event, First, ReadOnly, RisingEdge, Timer

__all__ = ["PERIOD_NS", "pack", "unpack", "random_pause", "start_clock", "CycleCounter", "StreamSource", "StreamSink"]

PERIOD_NS = 10  # the clock of every simulation: 100 MHz


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


def random_pause(probability: float, seed: int = 0):
    """A pause generator pausing each cycle with ``probability`` (reproducible from ``seed``); None for 0: no pauses."""
    if not probability:
        return None
    rng = random.Random(seed)
    return (rng.random() < probability for _ in iter(int, 1))


async def start_clock(dut, reset_cycles: int = 2):
    """Start ``dut.clk`` at :data:`PERIOD_NS` and hold ``dut.rst`` for ``reset_cycles`` rising edges."""
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    dut.rst.value = 1
    for _ in range(reset_cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


class CycleCounter:
    """Counts rising edges from its creation: the cycle stamps of the drivers' transfers."""

    def __init__(self, dut):
        self.dut, self.now = dut, 0
        cocotb.start_soon(self._run())

    async def _run(self):
        while True:
            await RisingEdge(self.dut.clk)
            self.now += 1


class _Stream:
    def __init__(self, dut, name: str, layout, pause, clock):
        self.clk = dut.clk
        self.valid, self.payload = getattr(dut, f"{name}__valid"), getattr(dut, f"{name}__payload")
        self.ready = getattr(dut, f"{name}__ready", None)  # None: an always-ready stream has no ready port
        self.layout, self.pause, self.clock = layout, pause, clock


class StreamSource(_Stream):
    """Drives the stream ``<name>__valid/ready/payload`` of ``dut`` (clock ``dut.clk``) with ``layout`` payloads.

    Parameters
    ----------
    pause : iterator of bool, optional
        Idle cycles: ``valid`` stays low in a cycle for which it yields True.
    clock : CycleCounter, optional
        Stamps each transfer's cycle into ``sent_at``.
    """

    def __init__(self, dut, name: str, layout, *, pause=None, clock=None):
        super().__init__(dut, name, layout, pause, clock)
        self.sent_at = []
        self.valid.value = 0

    async def send(self, items):
        """Send every item in order; returns after the rising edge that took the last one."""
        for item in items:
            while self.pause is not None and next(self.pause):
                self.valid.value = 0
                await RisingEdge(self.clk)
            self.payload.value = pack(self.layout, item)
            self.valid.value = 1
            await ReadOnly()
            while self.ready is not None and not self.ready.value:
                await RisingEdge(self.ready)  # any edge after which ready may be high: no Python per cycle
                await ReadOnly()
            if self.clock:
                self.sent_at.append(self.clock.now)
            await RisingEdge(self.clk)  # the transfer
        self.valid.value = 0


class StreamSink(_Stream):
    """Takes every transfer on the stream ``<name>`` of ``dut`` into a queue, from its creation on.

    Parameters
    ----------
    pause : iterator of bool, optional
        Backpressure: ``ready`` stays low in a cycle for which it yields True.
    clock : CycleCounter, optional
        Stamps each transfer's cycle into ``received_at``.
    """

    def __init__(self, dut, name: str, layout, *, pause=None, clock=None):
        super().__init__(dut, name, layout, pause, clock)
        self.queue, self.received_at, self._arrived = deque(), [], Event()
        self.ready.value = 0
        cocotb.start_soon(self._run())

    async def _run(self):
        while True:
            ready = self.pause is None or not next(self.pause)
            self.ready.value = int(ready)
            await ReadOnly()
            taken = ready and self.valid.value
            if taken:
                self.queue.append(unpack(self.layout, int(self.payload.value)))
                if self.clock:
                    self.received_at.append(self.clock.now)
            elif ready and self.pause is None:
                await RisingEdge(self.valid)  # always ready: sleep until something comes
                continue
            await RisingEdge(self.clk)
            if taken:  # after the edge, where whoever waits may drive signals again
                self._arrived.set()

    async def recv(self, count: int = 1, idle_cycles: int | None = None) -> list:
        """The next ``count`` items; fewer if ``idle_cycles`` clock cycles pass without one."""
        while len(self.queue) < count:
            self._arrived.clear()
            if idle_cycles is None:
                await self._arrived.wait()
            else:
                # a Timer is one simulator callback; counting clock edges would wake Python every cycle
                await First(self._arrived.wait(), Timer(idle_cycles * PERIOD_NS, unit="ns"))
                if not self._arrived.is_set():
                    break
        return [self.queue.popleft() for _ in range(min(count, len(self.queue)))]
