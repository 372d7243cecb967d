"""The host link's transmitter: a reply plan and the core's words in, a reply frame's bytes out (:mod:`hdl.link.frames`)."""

from amaranth import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import ReadPort
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
    read from a ROM on ``rom`` (the link keeps them in the payload buffer's block RAM, whose
    read port is the framer's while a frame goes out). The plan is taken when the frame's last
    byte is.

    Every byte goes through one output register (``o.valid`` and ``o.payload`` are flip-flops),
    loaded when it is empty or being emptied (a byte a cycle at best; INFO's every other cycle),
    with the byte its state chooses: the plan is copied into registers with the sync byte, so no
    path runs from the plan (logic on the request) into the UART or the CRC. The core's word waits
    in a register that sends itself low byte first by shifting; ``reply.ready`` is that register's
    "empty" flip-flop, so nothing the plan decides runs into the core. The CRC unit is fed from the
    output register, the cycle after a byte is loaded. The CRC's low byte is not selected: feeding
    the CRC's high byte to the CRC unit leaves the low byte in the register's high half (the CRC of
    a message followed by its CRC's high byte).

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
        The core's reply words; one is taken whenever the word register is empty.
    crc : Out(CrcSignature)
        Drives a CRC unit (started when a plan arrives, fed with header and payload).
    o : Out(stream.Signature(8))
        The frame's bytes.
    rom : In(ReadPort.Signature(addr_width=..., shape=8))
        Drives a read port (latency 1) of a memory that holds ``info`` from address 0; its address is a
        register (the byte the framer sends once the data has come).
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
                          "crc": Out(CrcSignature), "o": Out(stream.Signature(8)),
                          "rom": In(ReadPort.Signature(addr_width=max(1, (len(info) - 1).bit_length()), shape=8))})

    def _core_word(self, m):
        """The core's word register: taken when empty, shifted a byte at a time (``shift``), emptied (``done``)."""
        word, full, shift, done = Signal(32, reset_less=True), Signal(), Signal(), Signal()
        m.d.comb += self.reply.ready.eq(~full)
        with m.If(self.reply.valid & ~full):
            m.d.sync += [word.eq(self.reply.payload), full.eq(1)]
        with m.Elif(shift):
            m.d.sync += word.eq(word >> 8)
        with m.If(done):
            m.d.sync += full.eq(0)
        return word, full, shift, done

    def elaborate(self, platform):
        m = Module()
        crc, plan = self.crc, self.plan.payload
        index = Signal(range(max(len(self.info), 4)))  # the byte within the header, word, INFO or CRC
        fetched = Signal()                              # the ROM's data is the byte at ``index``
        words = Signal(range(self.max_words + 1))       # core words still to take
        # the plan, copied with the sync byte: the header (sent low byte first by shifting), bytes per word, INFO
        header = Signal(FrameHeader.size, reset_less=True)
        word_bytes, info = Signal.like(plan.word_bytes, reset_less=True), Signal(reset_less=True)
        word, full, shift, done = self._core_word(m)
        m.d.comb += [self.rom.addr.eq(index), self.rom.en.eq(1)]
        m.d.sync += fetched.eq(0)
        free = ~self.o.valid | self.o.ready             # the output register takes a byte
        load, byte, covered = Signal(), Signal(8), Signal()
        fed = Signal()  # the output register's byte goes into the CRC now (loaded in the cycle before, covered)
        m.d.sync += fed.eq(load & covered)
        m.d.comb += [crc.data.eq(self.o.payload), crc.valid.eq(fed)]
        with m.If(load):
            m.d.sync += [self.o.payload.eq(byte), self.o.valid.eq(1)]
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        def put(value, when=True, last=None, next_state=None, fed=True):
            """``value`` is the state's byte (chosen by the state alone); loaded ``when`` and the output register is
            free, and then the next byte; after ``last``, ``next_state`` from byte 0."""
            m.d.comb += [byte.eq(value), covered.eq(fed)]
            with m.If(when):
                m.d.comb += load.eq(free)
                with m.If(free):
                    m.d.sync += index.eq(index + 1)
                    if last is not None:
                        with m.If(index == last):
                            m.d.sync += index.eq(0)
                            m.next = next_state

        def word_taken():
            m.d.comb += done.eq(1)
            m.d.sync += words.eq(words - 1)
            with m.If(words == 1):
                m.next = "crc"

        with m.FSM():
            with m.State("sync"):
                m.d.comb += crc.start.eq(self.plan.valid)
                m.d.sync += [words.eq(plan.words), header.eq(plan.header), word_bytes.eq(plan.word_bytes),
                             info.eq(plan.info)]
                put(REPLY_SYNC, when=self.plan.valid, fed=False)
                m.d.sync += index.eq(0)
                with m.If(self.plan.valid):
                    with m.If(free):
                        m.next = "header"
            with m.State("header"):  # little-endian, as FrameHeader lays it out
                put(header[:8], last=FrameHeader.size // 8 - 1, next_state="crc")
                with m.If(free):
                    m.d.sync += header.eq(header >> 8)
                    with m.If(index == FrameHeader.size // 8 - 1):
                        with m.If(words != 0):
                            m.next = "word"
                        with m.Elif(info):
                            m.next = "info"
            with m.State("word"):
                put(word[:8], when=full & (word_bytes != 0))
                with m.If(full & (word_bytes == 0)):  # taken, not sent
                    word_taken()
                with m.Elif(full):
                    m.d.comb += shift.eq(free)
                    with m.If(free & (index == word_bytes - 1)):
                        m.d.sync += index.eq(0)
                        word_taken()
            with m.State("info"):  # a byte every other cycle at best: the ROM reads ``index`` in the cycle before
                m.d.sync += fetched.eq(1)
                put(self.rom.data, when=fetched, last=len(self.info) - 1, next_state="crc")
                with m.If(fetched & free):
                    m.d.sync += fetched.eq(0)
            with m.State("crc"):  # once the unit has every byte: the high byte, fed, then the low byte (now high)
                put(crc.crc[8:], when=~fed, last=1, next_state="end", fed=index == 0)
            with m.State("end"):  # the plan is taken with the last byte
                m.d.comb += self.plan.ready.eq(self.o.valid & self.o.ready)
                with m.If(self.plan.ready):
                    m.next = "sync"
        return m
