"""Drivers of the simulated hardware under cocotb: the core's word protocol, and the board's bytes.

:class:`CoreDriver` speaks :mod:`hdl.protocol` to a simulated LearnerCore (async, for
testbenches); :class:`CoreClient` offers it with the synchronous API of
:class:`scripts.host.client.BoardClient`, for code that runs in a cocotb ``bridge`` thread,
such as golden's training loop through :class:`scripts.host.model.HardwareModel`.
:class:`SimTransport` is the byte transport of a BoardClient talking to the simulated
board's host UART. All of them move data with :mod:`scripts.sim.streams`.
"""

import numpy as np
from amaranth.hdl import unsigned
from cocotb.task import resume

from trifactor.hdl.layout import WeightLayout
from trifactor.hdl.protocol import ACK, MAX_COUNT, Op, counter_names, header, position

from ..host.client import signed_values
from ..host import commands
from .streams import StreamSink, StreamSource, start_clock

__all__ = ["CoreDriver", "CoreClient", "SimTransport"]


class CoreDriver:
    """The word protocol of a LearnerCore top ``dut`` (streams ``i`` and ``o``); start the clock first."""

    def __init__(self, dut, config):
        self.dut, self.config, self.layout = dut, config, WeightLayout(config)
        self.source = StreamSource(dut, "i", unsigned(32))
        self.sink = StreamSink(dut, "o", unsigned(32))

    async def start(self):
        """Start the clock and reset the core."""
        await start_clock(self.dut)

    async def command(self, words, replies=1) -> list:
        """Send ``words`` (a command and its operands) and return the next ``replies`` reply words."""
        await self.source.send(words if isinstance(words, list) else [words])
        return await self.sink.recv(replies)

    async def train(self, x, label: int) -> int:
        """One TRAIN command; returns the prediction the core made before its update."""
        return (await self.command([header(Op.TRAIN, label), *np.asarray(x).tolist()]))[0]

    async def infer(self, x) -> int:
        return (await self.command([header(Op.INFER), *np.asarray(x).tolist()]))[0]

    async def infer_all(self, rows) -> np.ndarray:
        return np.array([await self.infer(x) for x in rows])

    async def read_words(self, start: int, count: int) -> list:
        """``count`` raw bank words from flat index ``start`` (address-major, lane-minor)."""
        words = []
        for at in range(start, start + count, MAX_COUNT):
            n = min(MAX_COUNT, start + count - at)
            words += await self.command([header(Op.READ, n), position(*divmod(at, self.config.lanes))], n)
        return words

    async def load_words(self, start: int, words: list):
        for at in range(0, len(words), MAX_COUNT):
            chunk = words[at:at + MAX_COUNT]
            reply = await self.command([header(Op.LOAD, len(chunk)), position(*divmod(start + at, self.config.lanes)),
                                        *chunk])
            assert reply == [ACK], f"LOAD answered {reply}, not ACK"

    async def read_weights(self) -> list:
        """Golden-layout matrices (``n_out x (n_in + 1)``, bias last) read back from the banks."""
        lanes, depth = self.config.lanes, self.layout.depth
        words = signed_values(await self.read_words(0, depth * lanes), self.config.weight.width)
        return self.layout.from_banks(words.reshape(depth, lanes).T)

    async def read_learned(self) -> list:
        """A ``ddfa`` core's learned feedback ``B_l`` (``n_l x n_classes``) read back from the banks."""
        lanes, start = self.config.lanes, self.layout.weight_depth
        count = self.layout.depth - start
        words = signed_values(await self.read_words(start * lanes, count * lanes), self.config.weight.width)
        banks = np.zeros((lanes, self.layout.depth), dtype=np.int64)
        banks[:, start:] = words.reshape(count, lanes).T
        return self.layout.learned_from_banks(banks)

    async def load_weights(self, weights: list, learned: list = ()):
        """LOAD every bank word: the weights and (rule ``ddfa``) the learned feedback, zero when not given."""
        await self.load_words(0, self.layout.to_banks(weights, learned).T.reshape(-1).tolist())

    async def send(self, batch) -> list:
        """Run :class:`scripts.sim.commands.Command` s (one or a list); returns all their replies."""
        replies = []
        for command in batch if isinstance(batch, list) else [batch]:
            replies += await self.command(command.words, command.replies)
        return replies

    async def store(self, record: int, x, y):
        """STORE quantised samples ``x`` and labels ``y`` as records ``record, record + 1, ...``."""
        replies = await self.send(commands.store(self.config, record, x, y))
        assert replies == [ACK] * len(replies), f"STORE answered {replies}"

    async def order(self, start: int, indices):
        replies = await self.send(commands.order(start, indices))
        assert replies == [ACK] * len(replies), f"ORDER answered {replies}"

    async def epoch(self, start: int, count: int) -> tuple:
        """EPOCH: (samples predicted right, cycles, checksum of the records read)."""
        return tuple(await self.send(commands.epoch(start, count)))

    async def evaluate(self, start: int, count: int) -> tuple:
        """EVALUATE: (samples predicted right, cycles, checksum of the records read)."""
        return tuple(await self.send(commands.evaluate(start, count)))

    async def counters(self) -> dict:
        """The core's counters by name (:func:`hdl.protocol.counter_names`)."""
        names = counter_names(self.config)
        words = await self.command([header(Op.COUNTERS)], 2 * len(names))
        return {name: words[2 * k] | (words[2 * k + 1] << 32) for k, name in enumerate(names)}


class CoreClient:
    """A :class:`CoreDriver` with BoardClient's synchronous API, for a cocotb ``bridge`` thread."""

    def __init__(self, driver: CoreDriver):
        self.driver, self.config = driver, driver.config

    def check(self) -> dict:
        return {}  # the simulator runs the core it was built from

    def reset(self):
        pass  # the session starts the core from reset

    def train(self, x, label: int) -> int:
        return resume(self.driver.train)(x, label)

    def infer(self, x) -> int:
        return resume(self.driver.infer)(x)

    def infer_all(self, rows) -> np.ndarray:
        return resume(self.driver.infer_all)(rows)  # one hand-over to the simulator for the whole batch

    def load_weights(self, weights: list, learned: list = ()):
        resume(self.driver.load_weights)(weights, learned)

    def read_weights(self) -> list:
        return resume(self.driver.read_weights)()

    def read_learned(self) -> list:
        return resume(self.driver.read_learned)() if self.driver.layout.learned_layers else []

    def counters(self) -> dict:
        return resume(self.driver.counters)()


class SimTransport:
    """Bytes to and from the simulated board (streams ``host_tx``, ``host_rx``), for a client in a bridge thread."""

    name = "the simulated board"

    def __init__(self, dut, idle_cycles: int):
        self.source = StreamSource(dut, "host_tx", unsigned(8))
        self.sink = StreamSink(dut, "host_rx", unsigned(8))
        self.idle_cycles = idle_cycles

    def write(self, data: bytes):
        resume(self.source.send)(list(data))

    def read(self, n: int, wait: float | None = None) -> bytes:
        """``n`` bytes, or fewer after ``idle_cycles`` without one (``wait``, a board's seconds, is not needed:
        the simulation waits in cycles)."""
        return bytes(resume(self.sink.recv)(n, self.idle_cycles))
