"""Host side of the board's framed link (:mod:`hdl.link.frames`): one API over a serial port or the simulated board.

A transport moves bytes: ``write(data)`` and ``read(n)`` (fewer bytes back means the
board went quiet). :class:`scripts.host.transport.SerialTransport` is a real port
(pyserial); the simulated board's is :class:`scripts.sim.drivers.SimTransport`.
:class:`BoardClient` speaks the frames over either; :class:`scripts.host.model.HardwareModel`
plugs it into golden's training loop.
"""

import struct

import numpy as np

from trifactor.hdl.link.frames import (CHUNK, INFO_FIELDS, INFO_FORMAT, INFO_MAGIC, REPLY_SYNC, REQUEST_SYNC, Command,
                                  Error, FrameHeader, LoadHead, ReadHead, TrainHead, config_id, crc16, encode, pack,
                                  reply_length, unpack, value_bytes)
from trifactor.hdl.layout import WeightLayout
from trifactor.hdl.protocol import Header, counter_names

from . import commands

from ..util.errors import UsageError

__all__ = ["BoardError", "BoardClient", "signed_values"]

READ_CHUNK = 4096  # weights per READ request (a reply's length field counts bytes)


class BoardError(UsageError):
    """The board answered with an error, or not at all."""


#: What to do about an error reply, by its code (the rest are a host bug or a line error)
_FIXES = {
    Error.NOT_STORED: "store the data set first (trifactor train --backend board does), or for a flash store write "
                      "it with trifactor flash --data",
    Error.UNKNOWN_COMMAND: "build and flash a bitstream with a data store (trifactor build --store ...), "
                           "or use --per-sample",
}


def signed_values(raw, width: int) -> np.ndarray:
    """Two's complement ``width``-bit values from their unsigned bit patterns."""
    raw = np.asarray(raw, dtype=np.int64) & ((1 << width) - 1)
    return np.where(raw >= 1 << (width - 1), raw - (1 << width), raw)


class BoardClient:
    """Requests and replies over ``transport`` for a board built from ``config``."""

    def __init__(self, transport, config, clk_freq: float = 12e6):
        self.transport, self.config, self.layout, self.clk_freq = transport, config, WeightLayout(config), clk_freq
        self.in_flash = False  # the store's records are in the board's flash (INFO, after check())
        self.input_bytes, self.weight_bytes = value_bytes(config.input.width), value_bytes(config.weight.width)

    def _read(self, n: int, wait: float | None = None) -> bytes:
        data = self.transport.read(n, wait)
        if len(data) < n:
            raise BoardError(f"the board on {getattr(self.transport, 'name', 'the link')} stopped answering "
                             f"({len(data)} of {n} bytes)",
                             "check the port and baud rate, and that the board runs a trifactor bitstream "
                             "(trifactor build, trifactor flash)")
        return data

    def exchange(self, frame: bytes, wait: float | None = None) -> tuple[int, bytes]:
        """Send raw bytes (one request frame, or a broken one) and return the reply's code and payload.

        ``wait``: seconds the request may run, when longer than the port's timeout (a whole EPOCH). The board
        sends a reply's header when it takes the request and its payload when the run ends, so every part of
        the reply is waited for as long."""
        self.transport.write(frame)
        while self._read(1, wait)[0] != REPLY_SYNC:  # bytes before a reply are line noise
            pass
        head = self._read(FrameHeader.size // 8, wait)
        header = unpack(FrameHeader, head)
        length, code = header.length, header.code
        rest = self._read(length + 2, wait)
        if crc16(head + rest[:-2]) != struct.unpack(">H", rest[-2:])[0]:
            raise BoardError("a reply arrived corrupted (CRC mismatch)", "check the cable and the baud rate; retry")
        return code, rest[:-2]

    def request(self, command: Command, payload: bytes = b"", wait: float | None = None) -> bytes:
        """Send one request; return the reply's payload, or raise BoardError for an error reply."""
        code, reply = self.exchange(encode(REQUEST_SYNC, command, payload), wait)
        if code in set(Error):
            raise BoardError(f"the board refused {command.name}: {Error(code).name}",
                             _FIXES.get(code, "this is a bug in the host driver or a line error; retry, and report "
                                              "it if it repeats"))
        if code != command:
            raise BoardError(f"the board answered {command.name} with code {code:#x}", "retry after a reset")
        return reply

    def info(self) -> dict:
        reply = self.request(Command.INFO)
        if reply[:4] != INFO_MAGIC:
            raise BoardError("the board does not speak trifactor's link protocol", "flash a trifactor bitstream")
        if len(reply) != reply_length(self.config, Command.INFO):
            raise BoardError(f"the board's INFO reply is {len(reply)} bytes, not "
                             f"{reply_length(self.config, Command.INFO)}",
                             "build and flash the bitstream again with this trifactor (trifactor build, trifactor flash)")
        return dict(zip(INFO_FIELDS, struct.unpack(INFO_FORMAT, reply[4:])))

    def check(self) -> dict:
        """The board must run the core built from this configuration (its INFO, whose clock :meth:`send` uses)."""
        info = self.info()
        self.clk_freq, self.in_flash = info["clk_freq"], bool(info["store_in_flash"])
        if info["config_id"] != config_id(self.config):
            raise BoardError(f"the board runs a different core (id {info['config_id']:08x}, "
                             f"{info['n_inputs']} inputs, {info['lanes']} lanes) than {self.config.source} "
                             f"(id {config_id(self.config):08x})",
                             f"build and flash this configuration: trifactor build --config {self.config.source} ...")
        return info

    def _inputs(self, x) -> bytes:
        return np.asarray(x, dtype=f"<i{self.input_bytes}").tobytes()

    def train(self, x, label: int) -> int:
        return struct.unpack("<H", self.request(Command.TRAIN, pack(TrainHead, label=label) + self._inputs(x)))[0]

    def infer(self, x) -> int:
        return struct.unpack("<H", self.request(Command.INFER, self._inputs(x)))[0]

    def infer_all(self, rows) -> np.ndarray:
        return np.array([self.infer(x) for x in rows])

    def load_weights(self, weights: list, learned: list = ()):
        """LOAD every bank word: the weights and (rule ``ddfa``) the learned feedback, zero when not given."""
        words = self.layout.to_banks(weights, learned).T.reshape(-1)
        for start in range(0, len(words), CHUNK):
            chunk = words[start:start + CHUNK]
            address, lane = divmod(start, self.config.lanes)
            payload = pack(LoadHead, position={"address": address, "lane": lane})
            self.request(Command.LOAD, payload + chunk.astype(f"<i{self.weight_bytes}").tobytes())

    def read_weights(self) -> list:
        """Golden-layout matrices read back from the banks."""
        return self.layout.from_banks(self.read_banks())

    def read_learned(self) -> list:
        """Rule ``ddfa``'s learned feedback ``B_l`` read back from the banks (empty for the other rules)."""
        return self.layout.learned_from_banks(self.read_banks()) if self.layout.learned_layers else []

    def read_banks(self):
        """Every bank word (``lanes x depth``)."""
        total = self.layout.depth * self.config.lanes
        raw = []
        for start in range(0, total, READ_CHUNK):
            count = min(READ_CHUNK, total - start)
            address, lane = divmod(start, self.config.lanes)
            reply = self.request(Command.READ, pack(ReadHead, position={"address": address, "lane": lane}, count=count))
            raw.append(np.frombuffer(reply, dtype=f"<u{self.weight_bytes}"))
        words = signed_values(np.concatenate(raw), self.config.weight.width)
        return words.reshape(self.layout.depth, self.config.lanes).T

    def counters(self) -> dict:
        """The core's counters by name (:func:`hdl.protocol.counter_names`: the cost counters too, if configured)."""
        names = counter_names(self.config)
        reply = self.request(Command.COUNTERS)
        if len(reply) != reply_length(self.config, Command.COUNTERS):
            raise BoardError(f"the board sent {len(reply)} bytes of counters, not "
                             f"{reply_length(self.config, Command.COUNTERS)}",
                             f"build and flash this configuration: trifactor build --config {self.config.source} ...")
        return dict(zip(names, struct.unpack(f"<{len(names)}Q", reply)))

    def reset(self):
        self.request(Command.RESET)

    def send(self, store_samples: int, command) -> list:
        """A core command (:mod:`scripts.host.commands`) as one request to a core with a data store of
        ``store_samples``; the core's reply words. EPOCH and EVALUATE may run for seconds: their reply is waited
        for, payload and all, as long as the core could take at ``clk_freq`` (from INFO), twice over."""
        frame, _ = commands.to_frame(self.config, store_samples, command)
        code = Command(frame[3])
        wait = None
        if code in (Command.EPOCH, Command.EVALUATE):
            count = (command.words[0] >> Header["arg"].offset) & 0xFFFF
            wait = 1 + 2 * commands.run_cycles_bound(self.config, count, self.in_flash) / self.clk_freq
        return commands.payload_words(self.config, store_samples, command,
                                      self.request(code, frame[4:-2], wait))
