"""The host link's receiver: request bytes in, one whole, CRC-checked frame out (:mod:`hdl.link.frames`)."""

from amaranth import Module, Signal
from amaranth.hdl import Mux
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import WritePort
from amaranth.lib.wiring import In, Out

from ..errors import reject
from .frame_crc import CrcSignature
from .frames import REQUEST_SYNC, Error, FrameHeader

__all__ = ["Deframer", "Received"]

#: A received frame: its header, and ``intact``, or else the ``error`` that spoilt it (BAD_CRC, TRUNCATED).
Received = data.StructLayout({"header": FrameHeader, "intact": 1, "error": Error})


class Deframer(wiring.Component):
    """Frames from a byte stream: hunt for the sync byte, header, payload into a buffer, CRC check.

    Anything but ``REQUEST_SYNC`` between frames is skipped. The header's bytes go straight
    from the line into ``o.payload.header``'s flip-flops; the payload's first
    :attr:`buffer_depth` bytes are written to ``buffer`` (byte ``n`` at address ``n``); longer
    payloads are received and checked in full but not stored further. The payload ends when the
    byte count reaches the length (registers compared, no adder in front), so the byte that
    arrives then is the CRC's first. The CRC unit on
    ``crc`` (:class:`~hdl.link.frame_crc.SharedCrc`) takes header, payload and the CRC bytes and
    holds its residue when the frame is intact. Silence of ``timeout_cycles`` in the middle
    of a frame ends it as ``TRUNCATED``.

    The frame is offered on ``o`` :attr:`latency` cycles after its last byte and held there
    (``i`` is not read, the buffer not written) until taken: take it when its payload has
    been used.

    Parameters
    ----------
    buffer_size : int
        Payload bytes to store; ``buffer`` addresses the next power of two (:attr:`buffer_depth`).
    timeout_cycles : int
        Clock cycles of silence after which a frame is dropped.

    Members
    -------
    i : In(stream.Signature(8))
        Bytes from the line.
    buffer : In(WritePort.Signature(addr_width=..., shape=8))
        Drives a write port of the payload buffer.
    crc : Out(CrcSignature)
        Drives a CRC unit (started at a sync byte, fed while receiving).
    o : Out(stream.Signature(Received))
        The frame, once complete; its payload is in the buffer.
    busy : Out(1)
        A frame is being received or waits on ``o``.
    """

    def __init__(self, *, buffer_size: int, timeout_cycles: int):
        for name, value in (("buffer_size", buffer_size), ("timeout_cycles", timeout_cycles)):
            if not isinstance(value, int) or isinstance(value, bool):
                self._MustUse__silence = True
                raise TypeError(f"{name} must be an integer, not {value!r}")
            if value < 1:
                reject(self, f"{name} must be positive, not {value}")
        self._buffer_size, self._timeout_cycles = buffer_size, timeout_cycles
        self._addr_width = max(1, (buffer_size - 1).bit_length())
        super().__init__({
            "i": In(stream.Signature(8)),
            "buffer": In(WritePort.Signature(addr_width=self._addr_width, shape=8)),
            "crc": Out(CrcSignature),
            "o": Out(stream.Signature(Received)),
            "busy": Out(1),
        })

    @property
    def buffer_depth(self) -> int:
        """Bytes the buffer must hold: ``buffer_size`` rounded up to a power of two."""
        return 1 << self._addr_width

    @property
    def timeout_cycles(self) -> int:
        return self._timeout_cycles

    @property
    def latency(self) -> int:
        """Clock cycles from the transfer of a frame's last byte to ``o.valid``."""
        return 2

    def elaborate(self, platform):
        m = Module()
        crc = self.crc
        header = self.o.payload.header            # held in place until the frame is taken
        index = Signal(16)                        # the byte within the header or payload
        restart = Signal()                        # index back to 0 (after the sync byte or a part's last byte)
        receiving, timer = Signal(), Signal(range(self._timeout_cycles))
        truncated = Signal()                      # the error, if the frame is not intact: TRUNCATED, else BAD_CRC
        byte, got = self.i.payload, Signal()
        m.d.comb += [got.eq(self.i.valid & self.i.ready), crc.data.eq(byte),
                     self.i.ready.eq(receiving), crc.valid.eq(receiving & got),
                     self.o.payload.error.eq(Mux(truncated, Error.TRUNCATED, Error.BAD_CRC))]
        # one assignment per counter, so that each maps to a flip-flop's reset and enable
        with m.If(restart):
            m.d.sync += index.eq(0)
        with m.Elif(got):
            m.d.sync += index.eq(index + 1)
        with m.If(got | ~receiving):
            m.d.sync += timer.eq(0)
        with m.Else():
            m.d.sync += timer.eq(timer + 1)

        def receive():
            """A byte moves on and feeds the CRC; silence for ``timeout_cycles`` ends the frame."""
            m.d.comb += receiving.eq(1)
            with m.If(~got & (timer == self._timeout_cycles - 1)):
                m.d.sync += [self.o.payload.intact.eq(0), truncated.eq(1)]
                m.next = "done"

        with m.FSM() as fsm:
            with m.State("hunt"):
                m.d.comb += [self.i.ready.eq(1), restart.eq(1), crc.start.eq(got & (byte == REQUEST_SYNC))]
                with m.If(got & (byte == REQUEST_SYNC)):
                    m.next = "header"
            with m.State("header"):  # little-endian, as FrameHeader lays it out
                receive()
                with m.If(got):
                    m.d.sync += header.as_value().word_select(index[:2], 8).eq(byte)
                    with m.If(index == FrameHeader.size // 8 - 1):
                        m.d.comb += restart.eq(1)
                        m.next = "payload"
            # until ``index`` reaches the length: then the byte is the CRC's first (at once for an empty payload)
            with m.State("payload"):
                receive()
                complete = index == header.length  # registers only: no adder in front of the comparison
                m.d.comb += [self.buffer.addr.eq(index), self.buffer.data.eq(byte),
                             self.buffer.en.eq(got & ~complete & (index[self._addr_width:] == 0))]
                with m.If(got & complete):
                    m.d.comb += restart.eq(1)
                    m.next = "crc_low"
            with m.State("crc_low"):  # the CRC's high byte came in ``payload``
                receive()
                with m.If(got):
                    m.next = "check"
            with m.State("check"):  # the CRC register has taken the last byte
                m.d.sync += [self.o.payload.intact.eq(crc.match), truncated.eq(0)]
                m.next = "done"
            with m.State("done"):
                m.d.comb += self.o.valid.eq(1)
                with m.If(self.o.ready):
                    m.next = "hunt"
        m.d.comb += self.busy.eq(~fsm.ongoing("hunt"))
        return m
