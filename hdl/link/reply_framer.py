"""The host link's transmitter: a reply plan and the core's words in, a reply frame's bytes out (:mod:`hdl.link.frames`)."""

from amaranth import Module, Signal
from amaranth.hdl import Mux
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..errors import reject
from .frame_crc import CrcSignature
from .frames import REPLY_SYNC, FrameHeader

__all__ = ["ReplyFramer", "ReplyPlan"]

#: What a reply frame carries: its header, then ``words`` core words (``word_bytes`` bytes of
#: each, little-endian; 0: taken from the core, not sent), or the INFO bytes when ``info``.
ReplyPlan = data.StructLayout({"header": FrameHeader, "words": 16, "word_bytes": 3, "info": 1})


class ReplyFramer(wiring.Component):
    """Sends one reply frame per plan: sync, header, payload, CRC (CRC-16/CCITT-FALSE, high byte first).

    The payload is the plan's ``words`` core words from ``reply``, ``word_bytes`` of each,
    little-endian (a word with ``word_bytes`` 0 is taken and not sent), or the INFO bytes,
    a ROM here. Each core word is sent straight from ``reply``, which holds it until taken.
    The plan is taken when the frame's last byte is.

    Parameters
    ----------
    info : bytes
        The INFO reply's payload.
    max_words : int
        The most core words a plan asks for.

    Members
    -------
    plan : In(stream.Signature(ReplyPlan))
        What the frame carries.
    reply : In(stream.Signature(32))
        The core's reply words.
    crc : Out(CrcSignature)
        Drives a CRC unit (started when a plan arrives, fed with header and payload).
    o : Out(stream.Signature(8))
        The frame's bytes.
    """

    def __init__(self, *, info: bytes, max_words: int):
        if not isinstance(info, (bytes, bytearray)):
            self._MustUse__silence = True
            raise TypeError(f"info must be bytes, not {info!r}")
        if not 0 < len(info) < 1 << 16:
            reject(self, f"info must be 1 to 65535 bytes long, not {len(info)}")
        if not isinstance(max_words, int) or not 0 < max_words < 1 << ReplyPlan["words"].width:
            reject(self, f"max_words must be 1 to {(1 << ReplyPlan['words'].width) - 1}, not {max_words!r}")
        self.info, self.max_words = bytes(info), max_words
        super().__init__({"plan": In(stream.Signature(ReplyPlan)), "reply": In(stream.Signature(32)),
                          "crc": Out(CrcSignature), "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        crc = self.crc
        m.submodules.info = rom = Memory(shape=8, depth=len(self.info), init=self.info, attrs={"ram_style": "block"})
        rom_rd = rom.read_port()
        plan, word = self.plan.payload, self.reply.payload
        index = Signal(range(max(len(self.info), 4)))  # the byte within the header, word, INFO or CRC
        next_index = Signal.like(index)                 # what the ROM reads now, for the next cycle
        words = Signal(range(self.max_words + 1))       # core words still to take
        sent = Signal()
        m.d.comb += [sent.eq(self.o.valid & self.o.ready), crc.data.eq(self.o.payload), rom_rd.addr.eq(next_index),
                     next_index.eq(index)]
        m.d.sync += index.eq(next_index)

        def send(byte, covered=True):
            m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(byte), crc.valid.eq(sent & covered)]

        def advance(last, next_state):
            """After a sent byte: the next one, or, after ``last``, ``next_state`` from byte 0."""
            with m.If(sent):
                m.d.comb += next_index.eq(index + 1)
                with m.If(index == last):
                    m.d.comb += next_index.eq(0)
                    m.next = next_state

        def payload():
            """After the header: core words, INFO, or nothing."""
            with m.If(plan.words != 0):
                m.next = "word"
            with m.Elif(plan.info):
                m.next = "info"

        with m.FSM():
            with m.State("sync"):
                m.d.comb += crc.start.eq(self.plan.valid)
                m.d.sync += words.eq(plan.words)
                with m.If(self.plan.valid):
                    send(REPLY_SYNC, covered=False)
                    with m.If(sent):
                        m.d.comb += next_index.eq(0)
                        m.next = "header"
            with m.State("header"):  # little-endian, as FrameHeader lays it out
                send(plan.header.as_value().word_select(index[:2], 8))
                advance(FrameHeader.size // 8 - 1, "crc")
                with m.If(sent & (index == FrameHeader.size // 8 - 1)):
                    payload()
            with m.State("word"):
                with m.If(self.reply.valid):
                    with m.If(plan.word_bytes == 0):  # taken, not sent
                        m.d.comb += self.reply.ready.eq(1)
                    with m.Else():
                        send(word.word_select(index[:2], 8))
                        advance(plan.word_bytes - 1, "word")
                        m.d.comb += self.reply.ready.eq(sent & (index == plan.word_bytes - 1))
                with m.If(self.reply.valid & self.reply.ready):
                    m.d.sync += words.eq(words - 1)
                    with m.If(words == 1):
                        m.next = "crc"
            with m.State("info"):  # the ROM byte at ``index``, read in the cycle before
                send(rom_rd.data)
                advance(len(self.info) - 1, "crc")
            with m.State("crc"):
                send(Mux(index[0], crc.crc[:8], crc.crc[8:]), covered=False)
                advance(1, "sync")
                m.d.comb += self.plan.ready.eq(sent & index[0])
        return m
