"""The board's host link: UART, framed requests (:mod:`hdl.link.frames`) and the learner core.

:class:`BoardLink` is what a board top instantiates: two pins (``rx``, ``tx``) on one
side, the core on the other: two UARTs and a :class:`LinkedCore`, which wires the link to the
core (and the core's reset). :class:`FrameLink` is the frame engine between the UART's
byte streams and the core's word streams (:mod:`hdl.protocol`), three parts in a row:
:class:`~hdl.link.deframer.Deframer` (bytes to a checked frame, payload in a buffer),
:class:`~hdl.link.request_sequencer.RequestSequencer` (checks the request, feeds the core,
plans the reply) and :class:`~hdl.link.reply_framer.ReplyFramer` (core words or INFO to a
reply frame).
"""

from amaranth import Module
from amaranth.hdl import Mux, ResetInserter
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from ..core import LearnerCore
from .deframer import Deframer
from ..errors import reject, require_config
from .frame_crc import SharedCrc
from .frames import info_bytes
from .reply_framer import ReplyFramer
from .request_sequencer import RequestSequencer
from ..store import FlashPins
from .uart import UartRx, UartTx, uart_divisor

__all__ = ["BoardLink", "LinkedCore", "FrameLink"]


class FrameLink(wiring.Component):
    """Requests in, replies out, one at a time: receive a whole frame, check it, then run it on the core.

    Nothing reaches the core before the request's CRC, length, command and ranges are
    checked, so a bad request cannot change the weights. Silence of ``timeout_cycles``
    in the middle of a request drops it (``TRUNCATED``), so the link never hangs. Bytes
    the host sends while a request runs or a reply goes out are not read (the host waits
    for each reply).

    Parameters
    ----------
    config : Config
        The core behind the link.
    timeout_cycles : int
        Clock cycles of silence that end a request.
    info : bytes
        The INFO reply's payload.
    store : DataStore or None
        The core's data store (``LearnerCore.store``), whose commands the link then checks and passes on.

    Members
    -------
    rx : In(stream.Signature(8))
        Request bytes.
    tx : Out(stream.Signature(8))
        Reply bytes.
    cmd : Out(stream.Signature(32))
        To the core's ``i``.
    reply : In(stream.Signature(32))
        From the core's ``o``.
    core_reset : Out(1)
        RESET: one cycle.
    busy : Out(1)
        A request is in progress.
    """

    def __init__(self, config: Config, *, timeout_cycles: int, info: bytes, store=None):
        require_config(self, config)
        self.config, self.info = config, bytes(info)
        try:  # the parts check their own parameters
            self.sequencer = RequestSequencer(config, info_length=len(self.info), store=store)
            self.deframer = Deframer(buffer_size=self.sequencer.buffer_size, timeout_cycles=timeout_cycles)
            self.framer = ReplyFramer(info=self.info, max_words=self.sequencer.max_reply_words)
        except (TypeError, ValueError):
            self._MustUse__silence = True
            raise
        super().__init__({
            "rx": In(stream.Signature(8)), "tx": Out(stream.Signature(8)),
            "cmd": Out(stream.Signature(32)), "reply": In(stream.Signature(32)),
            "core_reset": Out(1), "busy": Out(1),
        })

    @property
    def timeout_cycles(self) -> int:
        return self.deframer.timeout_cycles

    def _buffer(self, m):
        """The payload buffer (one block RAM for digits), and the INFO bytes after it: the deframer writes the
        payload, the sequencer reads it while it runs a request, the reply framer reads INFO while it sends a
        frame (the sequencer then waits for the reply, so the read port is the framer's)."""
        deframer, sequencer, framer = self.deframer, self.sequencer, self.framer
        info_at = deframer.buffer_depth  # a power of two: an INFO byte's address is its index with one bit more set
        # never read where it is written in the same cycle: no read-during-write logic
        m.submodules.buffer = buffer = Memory(shape=8, depth=info_at + len(self.info),
                                              init=[0] * info_at + list(self.info), attrs={"no_rw_check": 1})
        write, read = buffer.write_port(), buffer.read_port()
        info = info_at | framer.rom.addr if len(self.info) <= info_at else info_at + framer.rom.addr
        m.d.comb += [write.addr.eq(deframer.buffer.addr), write.data.eq(deframer.buffer.data),
                     write.en.eq(deframer.buffer.en), read.en.eq(1),
                     read.addr.eq(Mux(sequencer.reply.valid, info, sequencer.buffer.addr)),
                     sequencer.buffer.data.eq(read.data), framer.rom.data.eq(read.data)]

    def elaborate(self, platform):
        m = Module()
        m.submodules.deframer = deframer = self.deframer
        m.submodules.sequencer = sequencer = self.sequencer
        m.submodules.framer = framer = self.framer
        m.submodules.crc = crc = SharedCrc()
        self._buffer(m)
        wiring.connect(m, wiring.flipped(self.rx), deframer.i)
        wiring.connect(m, deframer.o, sequencer.i)
        wiring.connect(m, sequencer.cmd, wiring.flipped(self.cmd))
        wiring.connect(m, sequencer.reply, framer.plan)
        wiring.connect(m, wiring.flipped(self.reply), framer.reply)
        wiring.connect(m, framer.o, wiring.flipped(self.tx))
        wiring.connect(m, deframer.crc, crc.a)
        wiring.connect(m, framer.crc, crc.b)
        m.d.comb += [self.core_reset.eq(sequencer.core_reset), self.busy.eq(deframer.busy)]
        return m


class BoardLink(wiring.Component):
    """The learner core behind a UART host link.

    Parameters
    ----------
    config : Config
    clk_freq : float
        The ``sync`` clock frequency in Hz (sets the UART divisor and the frame timeout).
    baud : int
        UART bit rate (8N1).
    seed : int
        Initial weights: golden's ``FixedNet(config, seed)``.
    timeout : float
        Seconds of silence in the middle of a request after which it is dropped as truncated.
    store_samples : int
        The core's data store, in samples (``LearnerCore(store_samples=...)``); 0: none.
    flash : FlashPlacement or None
        The store's records are in the board's SPI flash (``LearnerCore(flash=...)``).

    Members
    -------
    rx : In(1)
        UART receive line (idle high), from the host.
    tx : Out(1)
        UART transmit line, to the host.
    busy : Out(1)
        High while a request is being received or executed (an activity LED).
    flash : Out(FlashPins)
        With ``flash`` only: the SPI flash's pins.
    """

    def __init__(self, config: Config, *, clk_freq: float, baud: int = 1_000_000, seed: int = 0,
                 timeout: float = 0.05, store_samples: int = 0, flash=None):
        try:
            self.divisor = uart_divisor(clk_freq, baud)
        except ValueError as exc:
            reject(self, str(exc))
        self.config, self.clk_freq, self.baud, self.seed, self.timeout = config, clk_freq, baud, seed, timeout
        try:
            self.core = LearnerCore(config, seed=seed, store_samples=store_samples, flash=flash)
        except ValueError as exc:
            reject(self, str(exc))
        self.link = FrameLink(config, timeout_cycles=max(1, round(timeout * clk_freq)),
                              info=info_bytes(config, clk_freq, baud, store_samples, in_flash=flash is not None),
                              store=self.core.store)
        self.linked = LinkedCore(self.link, self.core)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "busy": Out(1),
                          **({"flash": Out(FlashPins)} if flash else {})})

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = uart_rx = UartRx(self.divisor)
        m.submodules.uart_tx = uart_tx = UartTx(self.divisor)
        m.submodules.linked = linked = self.linked
        wiring.connect(m, uart_rx.o, linked.rx)
        wiring.connect(m, linked.tx, uart_tx.i)
        m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx), self.busy.eq(linked.busy)]
        if "flash" in linked.signature.members:
            wiring.connect(m, linked.flash, wiring.flipped(self.flash))
        return m


class LinkedCore(wiring.Component):
    """A :class:`FrameLink` and its :class:`~hdl.core.learner.LearnerCore`, wired: the link's byte streams on one
    side (a board's UARTs, or a testbench's bytes), the core inside.

    The link's streams to and from the core start and end at flip-flops, so no path runs between the
    link's request checks and the core: the command words come from the sequencer's word register,
    the reply words go into the reply framer's word register, whose ``ready`` is its "empty" flip-flop,
    and the reply bytes come from the framer's output register. RESET: the link's ``core_reset`` (a
    flip-flop) clears the core's registers (state, counters); the weight memories keep their contents.

    Parameters
    ----------
    link : FrameLink
    core : LearnerCore

    Members
    -------
    rx : In(stream.Signature(8))
        Request bytes.
    tx : Out(stream.Signature(8))
        Reply bytes.
    busy : Out(1)
        A request is in progress.
    flash : Out(FlashPins)
        When the core's store is in flash only: its pins.
    """

    def __init__(self, link: "FrameLink", core: LearnerCore):
        self.link, self.core = link, core
        in_flash = core.store is not None and core.store.flash is not None
        super().__init__({"rx": In(stream.Signature(8)), "tx": Out(stream.Signature(8)), "busy": Out(1),
                          **({"flash": Out(FlashPins)} if in_flash else {})})

    def elaborate(self, platform):
        m = Module()
        m.submodules.link = link = self.link
        m.submodules.core = ResetInserter({"sync": link.core_reset})(self.core)
        wiring.connect(m, wiring.flipped(self.rx), link.rx)
        wiring.connect(m, link.tx, wiring.flipped(self.tx))
        wiring.connect(m, link.cmd, self.core.i)
        wiring.connect(m, self.core.o, link.reply)
        m.d.comb += self.busy.eq(link.busy)
        if "flash" in self.signature.members:
            wiring.connect(m, self.core.flash, wiring.flipped(self.flash))
        return m
