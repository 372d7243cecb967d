"""The board's host link: UART, framed requests (:mod:`hdl.frames`) and the learner core.

:class:`BoardLink` is what a board top instantiates: two pins (``rx``, ``tx``) on one
side, the core on the other. :class:`FrameLink` is the frame engine between the UART's
byte streams and the core's word streams (:mod:`hdl.protocol`).
"""

from amaranth import Module, Signal
from amaranth.hdl import C, Cat, Mux, ResetInserter
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from .core import LearnerCore
from .errors import reject
from .frames import CHUNK, REPLY_SYNC, REQUEST_SYNC, Command, Error, info_bytes, value_bytes
from .layout import WeightLayout
from .protocol import MAX_COUNT, Op
from .uart import UartRx, UartTx, uart_divisor

__all__ = ["BoardLink", "FrameLink", "crc16_update"]


def crc16_update(crc, byte):
    """CRC-16/CCITT (polynomial 0x1021, MSB first) of ``crc`` followed by ``byte``, as logic."""
    for bit in reversed(range(8)):
        feedback = crc[15] ^ byte[bit]
        crc = Cat(C(0, 1), crc[:15]) ^ Mux(feedback, 0x1021, 0)
    return crc[:16]


class FrameLink(wiring.Component):
    """Requests in, replies out, one at a time: receive a whole frame, check it, then run it on the core.

    Nothing reaches the core before the request's CRC, length, command and ranges are
    checked, so a bad request cannot change the weights. Silence of ``timeout_cycles``
    in the middle of a request drops it (``TRUNCATED``), so the link never hangs. Bytes
    the host sends while a request runs or a reply goes out are not read (the host waits
    for each reply).

    Members
    -------
    rx : In(stream.Signature(8))       request bytes
    tx : Out(stream.Signature(8))      reply bytes
    cmd : Out(stream.Signature(32))    to the core's ``i``
    reply : In(stream.Signature(32))   from the core's ``o``
    core_reset : Out(1)                RESET: one cycle
    busy : Out(1)                      a request is in progress
    """

    def __init__(self, config: Config, *, timeout_cycles: int, info: bytes):
        if timeout_cycles < 1:
            reject(self, f"timeout_cycles must be positive, not {timeout_cycles}")
        self.config, self.timeout_cycles, self.info = config, timeout_cycles, bytes(info)
        self.layout = WeightLayout(config)
        self.input_bytes, self.weight_bytes = value_bytes(config.input.width), value_bytes(config.weight.width)
        self.buffer_size = max(2 + config.sizes[0] * self.input_bytes, 4 + CHUNK * self.weight_bytes)
        self.value_bytes = max(self.input_bytes, self.weight_bytes)
        super().__init__({
            "rx": In(stream.Signature(8)), "tx": Out(stream.Signature(8)),
            "cmd": Out(stream.Signature(32)), "reply": In(stream.Signature(32)),
            "core_reset": Out(1), "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, lay = self.config, self.layout
        n_in, lanes, total = cfg.sizes[0], cfg.lanes, lay.depth * cfg.lanes
        ib, wb = self.input_bytes, self.weight_bytes
        # the request payload, and behind it the INFO reply (a ROM in the same block RAM)
        info_at = self.buffer_size
        m.submodules.buffer = buffer = Memory(shape=8, depth=info_at + len(self.info),
                                              init=[0] * info_at + list(self.info))
        buf_wr, buf_rd = buffer.write_port(), buffer.read_port()

        length, code, crc = Signal(16), Signal(8), Signal(16)
        index = Signal(16)                  # payload byte
        head = Signal(48)                   # the first 6 payload bytes: label, or position and count
        label, address, lane, read_count = head[:16], head[:24], head[24:32], head[32:48]
        timer = Signal(range(self.timeout_cycles))
        flat = Signal(range(total * 2 + MAX_COUNT))  # the request's first bank word, address-major
        # what the request runs: a header word, a position word, values from the buffer
        cmd_header, with_position = Signal(32), Signal()
        values, value_size = Signal(16), Signal(range(self.value_bytes + 1))
        pointer = Signal(range(buffer.depth + 1))
        value, value_byte = Signal(8 * self.value_bytes), Signal(max(1, (self.value_bytes - 1).bit_length()))
        # what the reply carries: core words (``word_bytes`` of each, 0 = consume only), or INFO.
        # A core word is sent straight from the core's output, which holds it until taken.
        reply_code, reply_length = Signal(8), Signal(16)
        words, word_bytes, word_byte = Signal(16), Signal(range(5)), Signal(2)
        with_info = Signal()

        byte, got = self.rx.payload, Signal()
        m.d.comb += got.eq(self.rx.valid & self.rx.ready)
        # one CRC register and update for both directions: a request's bytes, then the reply's
        crc_byte, crc_step = Signal(8), Signal()
        with m.If(crc_step):
            m.d.sync += crc.eq(crc16_update(crc, crc_byte))

        def take(next_state):
            """Receive states: a byte moves on, feeds the CRC and restarts the silence timer."""
            m.d.comb += self.rx.ready.eq(1)
            m.d.comb += [crc_byte.eq(byte), crc_step.eq(got)]
            with m.If(got):
                m.d.sync += timer.eq(0)
                if next_state:
                    m.next = next_state
            with m.Else():
                m.d.sync += timer.eq(timer + 1)
                with m.If(timer == self.timeout_cycles - 1):
                    fail(Error.TRUNCATED)

        def fail(error):
            m.d.sync += [reply_code.eq(error), reply_length.eq(0), words.eq(0), with_info.eq(0)]
            m.next = "reply_sync"

        def run(op, *, label_value=0, count=0, position=False, n_values=0, size=1, offset=0,
                n_words=0, bytes_per_word=0):
            """Start a core command and describe its reply."""
            field = C(label_value, 16) if isinstance(label_value, int) else label_value[:16]
            m.d.sync += [cmd_header.eq(Cat(C(int(op), 8), field, C(0, 8))),  # as protocol.header()
                         with_position.eq(position), values.eq(n_values), value_size.eq(size), pointer.eq(offset),
                         value.eq(0), value_byte.eq(0), reply_code.eq(code),
                         reply_length.eq(n_words * bytes_per_word), words.eq(n_words), word_bytes.eq(bytes_per_word),
                         with_info.eq(0)]
            m.next = "header"

        tx_byte = Signal(8)  # the reply byte now
        m.d.comb += [self.tx.payload.eq(tx_byte)]

        with m.FSM() as fsm:
            with m.State("hunt"):  # anything but the sync byte is skipped
                m.d.comb += self.rx.ready.eq(1)
                with m.If(got & (byte == REQUEST_SYNC)):
                    m.d.sync += [crc.eq(0xFFFF), timer.eq(0), index.eq(0), head.eq(0)]
                    m.next = "length_low"
            with m.State("length_low"):
                take("length_high")
                with m.If(got):
                    m.d.sync += length[:8].eq(byte)
            with m.State("length_high"):
                take("code")
                with m.If(got):
                    m.d.sync += length[8:].eq(byte)
            with m.State("code"):
                take(None)
                with m.If(got):
                    m.d.sync += code.eq(byte)
                    m.next = "code_done"
            with m.State("code_done"):  # no byte taken here: choose payload or CRC
                m.next = "payload"
                with m.If(length == 0):
                    m.next = "crc_high"
            with m.State("payload"):
                take(None)
                with m.If(got):
                    m.d.comb += [buf_wr.addr.eq(index), buf_wr.data.eq(byte), buf_wr.en.eq(index < self.buffer_size)]
                    with m.If(index < 6):
                        m.d.sync += head.word_select(index[:3], 8).eq(byte)
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == length - 1):
                        m.next = "crc_high"
            with m.State("crc_high"):
                take("crc_low")
            with m.State("crc_low"):
                take("check")
            with m.State("check"):  # the CRC of the frame after the sync byte is zero when intact
                m.d.sync += flat.eq(address * lanes + lane)
                m.next = "decide"
                with m.If(crc != 0):
                    fail(Error.BAD_CRC)
            with m.State("decide"):
                load_count = (length - 4) >> (wb.bit_length() - 1)
                in_banks = (address < lay.depth) & (lane < lanes)
                # the last bank word LOAD or READ would touch, one adder for both
                past_end = flat + Mux(code == Command.LOAD, load_count, read_count) > total
                with m.Switch(code):
                    with m.Case(Command.TRAIN):
                        with m.If(length != 2 + n_in * ib):
                            fail(Error.BAD_LENGTH)
                        with m.Elif(label >= cfg.n_classes):
                            fail(Error.OUT_OF_RANGE)
                        with m.Else():
                            run(Op.TRAIN, label_value=label, n_values=n_in, size=ib, offset=2,
                                n_words=1, bytes_per_word=2)
                    with m.Case(Command.INFER):
                        with m.If(length != n_in * ib):
                            fail(Error.BAD_LENGTH)
                        with m.Else():
                            run(Op.INFER, n_values=n_in, size=ib, n_words=1, bytes_per_word=2)
                    with m.Case(Command.LOAD):
                        with m.If((length < 4 + wb) | (length > 4 + CHUNK * wb) | ((length - 4) & (wb - 1) != 0)):
                            fail(Error.BAD_LENGTH)
                        with m.Elif(~in_banks | past_end):
                            fail(Error.OUT_OF_RANGE)
                        with m.Else():
                            run(Op.LOAD, label_value=load_count, position=True, n_values=load_count, size=wb,
                                offset=4, n_words=1, bytes_per_word=0)
                    with m.Case(Command.READ):
                        with m.If(length != 6):
                            fail(Error.BAD_LENGTH)
                        with m.Elif(~in_banks | (read_count == 0) | past_end):
                            fail(Error.OUT_OF_RANGE)
                        with m.Else():
                            run(Op.READ, label_value=read_count, position=True)
                            m.d.sync += [words.eq(read_count), word_bytes.eq(wb),
                                         reply_length.eq(read_count * wb)]
                    with m.Case(Command.COUNTERS, Command.RESET, Command.INFO):
                        with m.If(length != 0):
                            fail(Error.BAD_LENGTH)
                        with m.Elif(code == Command.COUNTERS):
                            run(Op.COUNTERS, n_words=8, bytes_per_word=4)
                        with m.Elif(code == Command.RESET):
                            m.d.sync += [reply_code.eq(code), reply_length.eq(0), words.eq(0), with_info.eq(0)]
                            m.next = "reset"
                        with m.Else():
                            m.d.sync += [reply_code.eq(code), reply_length.eq(len(self.info)), words.eq(0),
                                         with_info.eq(1), pointer.eq(info_at)]
                            m.next = "reply_sync"
                    with m.Default():
                        fail(Error.UNKNOWN_COMMAND)

            # -- running the request on the core -------------------------------------------
            with m.State("header"):
                m.d.comb += [self.cmd.valid.eq(1), self.cmd.payload.eq(cmd_header)]
                with m.If(self.cmd.ready):
                    m.next = "after_header"
            with m.State("after_header"):
                m.next = "reply_sync"
                with m.If(with_position):
                    m.next = "position"
                with m.Elif(values != 0):
                    m.next = "fetch"
            with m.State("position"):
                m.d.comb += [self.cmd.valid.eq(1), self.cmd.payload.eq(head[:32])]
                with m.If(self.cmd.ready):
                    m.next = "reply_sync"
                    with m.If(values != 0):
                        m.next = "fetch"
            with m.State("fetch"):  # the buffer byte at ``pointer`` is read at this edge
                m.next = "gather"
            with m.State("gather"):  # values are little-endian, ``value_size`` bytes each
                m.d.sync += [value.word_select(value_byte, 8).eq(buf_rd.data), pointer.eq(pointer + 1),
                             value_byte.eq(value_byte + 1)]
                m.next = "fetch"
                with m.If(value_byte == value_size - 1):
                    m.next = "push"
            with m.State("push"):
                m.d.comb += [self.cmd.valid.eq(1), self.cmd.payload.eq(value)]
                with m.If(self.cmd.ready):
                    m.d.sync += [value.eq(0), value_byte.eq(0), values.eq(values - 1)]
                    m.next = "fetch"
                    with m.If(values == 1):
                        m.next = "reply_sync"
            with m.State("reset"):  # once the core is idle (it may still be updating after TRAIN's reply)
                with m.If(self.cmd.ready):
                    m.d.comb += self.core_reset.eq(1)
                    m.next = "reply_sync"

            # -- the reply frame -----------------------------------------------------------
            def send(value, next_state=None, covered=True):
                m.d.comb += [self.tx.valid.eq(1), tx_byte.eq(value)]
                if covered:
                    m.d.comb += [crc_byte.eq(value), crc_step.eq(self.tx.ready)]
                if next_state:
                    with m.If(self.tx.ready):
                        m.next = next_state

            with m.State("reply_sync"):
                send(REPLY_SYNC, "reply_length_low", covered=False)
                m.d.sync += crc.eq(0xFFFF)
            with m.State("reply_length_low"):
                send(reply_length[:8], "reply_length_high")
            with m.State("reply_length_high"):
                send(reply_length[8:], "reply_code")
            with m.State("reply_code"):
                send(reply_code)
                with m.If(self.tx.ready):
                    with m.If(words != 0):
                        m.next = "reply_word"
                    with m.Elif(with_info):
                        m.next = "reply_info"
                    with m.Else():
                        m.next = "reply_crc_high"
            with m.State("reply_word"):
                m.d.sync += word_byte.eq(0)
                with m.If(self.reply.valid):
                    with m.If(word_bytes == 0):  # LOAD's ACK: taken, not sent
                        m.d.comb += self.reply.ready.eq(1)
                        m.d.sync += words.eq(words - 1)
                        with m.If(words == 1):
                            m.next = "reply_crc_high"
                    with m.Else():
                        m.next = "reply_bytes"
            with m.State("reply_bytes"):  # the word's bytes, little-endian; the core takes it back after the last
                send(self.reply.payload.word_select(word_byte, 8))
                with m.If(self.tx.ready):
                    m.d.sync += word_byte.eq(word_byte + 1)
                    with m.If(word_byte == word_bytes - 1):
                        m.d.comb += self.reply.ready.eq(1)
                        m.d.sync += words.eq(words - 1)
                        m.next = "reply_word"
                        with m.If(words == 1):
                            m.next = "reply_crc_high"
            with m.State("reply_info"):  # the buffer byte at ``pointer`` is read at this edge
                m.next = "reply_info_byte"
            with m.State("reply_info_byte"):
                send(buf_rd.data)
                with m.If(self.tx.ready):
                    m.d.sync += pointer.eq(pointer + 1)
                    m.next = "reply_info"
                    with m.If(pointer == info_at + len(self.info) - 1):
                        m.next = "reply_crc_high"
            with m.State("reply_crc_high"):
                send(crc[8:], "reply_crc_low", covered=False)
            with m.State("reply_crc_low"):
                send(crc[:8], "hunt", covered=False)

        m.d.comb += [buf_rd.addr.eq(pointer), self.busy.eq(~fsm.ongoing("hunt"))]
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

    Members
    -------
    rx : In(1)
        UART receive line (idle high), from the host.
    tx : Out(1)
        UART transmit line, to the host.
    busy : Out(1)
        High while a request is being received or executed (an activity LED).
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)
    busy: Out(1)

    def __init__(self, config: Config, *, clk_freq: float, baud: int = 1_000_000, seed: int = 0,
                 timeout: float = 0.05):
        try:
            self.divisor = uart_divisor(clk_freq, baud)
        except ValueError as exc:
            reject(self, str(exc))
        self.config, self.clk_freq, self.baud, self.seed, self.timeout = config, clk_freq, baud, seed, timeout
        self.core = LearnerCore(config, seed=seed)
        self.link = FrameLink(config, timeout_cycles=max(1, round(timeout * clk_freq)),
                              info=info_bytes(config, clk_freq, baud))
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.uart_rx = uart_rx = UartRx(self.divisor)
        m.submodules.uart_tx = uart_tx = UartTx(self.divisor)
        m.submodules.link = link = self.link
        # RESET clears the core's registers (state, counters); the weight memories keep their contents
        m.submodules.core = core = ResetInserter({"sync": link.core_reset})(self.core)
        wiring.connect(m, uart_rx.o, link.rx)
        wiring.connect(m, link.tx, uart_tx.i)
        wiring.connect(m, link.cmd, self.core.i)
        wiring.connect(m, self.core.o, link.reply)
        m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx), self.busy.eq(link.busy)]
        return m
