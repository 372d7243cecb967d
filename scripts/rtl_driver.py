"""Host side of :mod:`hdl.protocol` for a LearnerCore simulated under cocotb.

Used by the end-to-end testbench and by ``trifactor train --backend rtl``. Inputs are
driven on falling clock edges, where every value has settled, so ``ready`` and ``valid``
can be read without extra waits; a sample costs about one Python await per word, and the
core's hundreds of compute cycles run in the simulator without Python in the loop.
"""

import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, First, RisingEdge, Timer

from trifactor.hdl.layout import WeightLayout
from trifactor.hdl.protocol import ACK, COUNTER_NAMES, MAX_COUNT, Op, header, position


class StreamIO:
    """Falling-edge driving of a top's input stream ``sink`` and output stream ``source``
    (signal names as Amaranth emits them: ``i__valid``, ``i__payload``, ...)."""

    def __init__(self, dut, sink: str, source: str, width: int):
        self.clk = dut.clk
        self.in_valid, self.in_ready, self.in_payload = (getattr(dut, f"{sink}__{n}") for n in ("valid", "ready", "payload"))
        self.out_valid, self.out_ready, self.out_payload = (getattr(dut, f"{source}__{n}") for n in ("valid", "ready", "payload"))
        self.mask = (1 << width) - 1
        self.in_valid.value = 0
        self.out_ready.value = 0

    async def send(self, words):
        await FallingEdge(self.clk)
        for word in words:
            while not self.in_ready.value:
                self.in_valid.value = 0
                await RisingEdge(self.in_ready)
                await FallingEdge(self.clk)
            self.in_payload.value = int(word) & self.mask
            self.in_valid.value = 1
            await FallingEdge(self.clk)  # the rising edge in between took the word
        self.in_valid.value = 0

    async def receive(self, count: int, idle_cycles: int | None = None) -> list:
        """``count`` words; fewer if ``idle_cycles`` pass without one."""
        words = []
        self.out_ready.value = 1
        while len(words) < count:
            if not self.out_valid.value:
                if idle_cycles is None:
                    await RisingEdge(self.out_valid)
                else:
                    # a Timer is one simulator callback; ClockCycles would wake Python every cycle
                    await First(RisingEdge(self.out_valid), Timer(idle_cycles * PERIOD_NS, unit="ns"))
                    if not self.out_valid.value:
                        break
                await FallingEdge(self.clk)
                continue
            words.append(int(self.out_payload.value))
            await FallingEdge(self.clk)
        self.out_ready.value = 0
        return words


PERIOD_NS = 10


async def start_clock(dut):
    """A 100 MHz clock and two cycles of reset."""
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    dut.rst.value = 1
    for _ in range(2):
        await FallingEdge(dut.clk)
    dut.rst.value = 0


class CoreDriver:
    def __init__(self, dut, config):
        self.dut, self.config, self.layout = dut, config, WeightLayout(config)
        self.words = StreamIO(dut, "i", "o", 32)

    async def start(self):
        await start_clock(self.dut)

    async def _send(self, words):
        await self.words.send(words)

    async def _receive(self, count):
        return await self.words.receive(count)

    async def train(self, x, label: int) -> int:
        """One TRAIN command; returns the prediction the core made before its update."""
        await self._send([header(Op.TRAIN, label), *x.tolist()])
        return (await self._receive(1))[0]

    async def infer(self, x) -> int:
        await self._send([header(Op.INFER), *x.tolist()])
        return (await self._receive(1))[0]

    async def read_words(self, start: int, count: int) -> list:
        """``count`` raw bank words from flat index ``start`` (address-major, lane-minor)."""
        words = []
        for at in range(start, start + count, MAX_COUNT):
            n = min(MAX_COUNT, start + count - at)
            await self._send([header(Op.READ, n), position(*divmod(at, self.config.lanes))])
            words += await self._receive(n)
        return words

    async def load_words(self, start: int, words: list):
        for at in range(0, len(words), MAX_COUNT):
            chunk = words[at:at + MAX_COUNT]
            await self._send([header(Op.LOAD, len(chunk)), position(*divmod(start + at, self.config.lanes)), *chunk])
            reply = (await self._receive(1))[0]
            assert reply == ACK, f"LOAD answered {reply:#x}, not ACK"

    async def read_weights(self) -> list:
        """Golden-layout matrices (``n_out x (n_in + 1)``, bias last) read back from the banks."""
        lanes, depth, width = self.config.lanes, self.layout.depth, self.config.weight.width
        words = np.array(await self.read_words(0, depth * lanes), dtype=np.int64) & ((1 << width) - 1)
        words = np.where(words >= 1 << (width - 1), words - (1 << width), words)
        return self.layout.from_banks(words.reshape(depth, lanes).T)

    async def load_weights(self, weights: list):
        await self.load_words(0, self.layout.to_banks(weights).T.reshape(-1).tolist())

    async def counters(self) -> dict:
        await self._send([header(Op.COUNTERS)])
        words = await self._receive(8)
        return {name: words[2 * k] | (words[2 * k + 1] << 32) for k, name in enumerate(COUNTER_NAMES)}

    async def command(self, word, replies=1):
        """A raw command (for protocol tests)."""
        await self._send([word])
        return await self._receive(replies)
