"""The host link's request sequencer: a checked frame in, the core's command words and a reply plan out."""

from amaranth import C, Module, Signal
from amaranth.hdl import Mux
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import ReadPort
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from ..compare import below
from ..store import RESULT_FIELDS, DataStore
from .deframer import Received
from ..errors import reject, require_config
from .frames import (CHUNK, Command, Error, LoadHead, ReadHead,
                     TrainHead, order_bytes, reply_length, value_bytes)
from ..layout import WeightLayout
from ..protocol import Header, Op, counter_words
from .reply_framer import ReplyPlan

__all__ = ["RequestSequencer"]


class RequestSequencer(wiring.Component):
    """Checks a received request, runs it on the core, and plans its reply.

    Nothing reaches the core unless the frame is intact and its length, command, label,
    position and count fit the core: a bad request gets an error reply and changes nothing.
    A good one sends the core its :data:`~hdl.protocol.Header` word, the position word (LOAD,
    READ), then its values, gathered little-endian from the payload buffer.

    ORDER's values are sample indices: a first pass over the payload checks that each names a
    sample of the store, and only then does a second pass send them (``OUT_OF_RANGE`` if one
    does not, with nothing sent). Two flags remember whether a STORE and an ORDER have ever
    succeeded: before them, EPOCH and EVALUATE answer ``NOT_STORED`` (:mod:`hdl.link.frames`).
    RESET leaves them, as it leaves the store's memories.

    Parameters
    ----------
    config : Config
        The core behind the link: its sizes, formats and banks bound the requests.
    info_length : int
        Bytes of the INFO reply.
    store : DataStore or None
        The core's data store: STORE, ORDER, EPOCH and EVALUATE are checked against it; without one they are
        unknown commands.

    Members
    -------
    i : In(stream.Signature(Received))
        The request, held by the deframer: its header and head are checked as logic while it
        waits; taken once its reply has been sent.
    buffer : In(ReadPort.Signature(addr_width=..., shape=8))
        Drives a read port of the payload buffer (read latency 1), :attr:`buffer_size` bytes.
    cmd : Out(stream.Signature(32))
        Command words, to the core's ``i``.
    reply : Out(stream.Signature(ReplyPlan))
        The reply, offered once the core has its words; taken when it has been sent.
    core_reset : Out(1)
        RESET: one cycle, the cycle after the core was seen idle (the sequencer sends nothing
        then). It comes from a flip-flop: the idle test (the command stream's ``ready``) would
        otherwise run into the reset logic of every core register.
    """

    def __init__(self, config: Config, *, info_length: int, store: DataStore | None = None):
        require_config(self, config)
        if not isinstance(info_length, int) or not 0 <= info_length < 1 << 16:
            reject(self, f"info_length must be a frame length (0..65535), not {info_length!r}")
        if store is not None and not isinstance(store, DataStore):
            reject(self, f"store must be a DataStore or None, not {store!r}")
        self.config, self.layout, self.info_length, self.store = config, WeightLayout(config), info_length, store
        self.input_bytes, self.weight_bytes = value_bytes(config.input.width), value_bytes(config.weight.width)
        #: bytes of a store word and of an order entry on the link
        self.store_bytes = value_bytes(store.width) if store else 0
        self.order_bytes = order_bytes(store.samples) if store else 0
        addr_width = max(1, (self.buffer_size - 1).bit_length())
        super().__init__({
            "i": In(stream.Signature(Received)),
            "buffer": In(ReadPort.Signature(addr_width=addr_width, shape=8)),
            "cmd": Out(stream.Signature(32)), "reply": Out(stream.Signature(ReplyPlan)), "core_reset": Out(1),
        })

    @property
    def buffer_size(self) -> int:
        """The longest payload a good request has: TRAIN's or a full LOAD's (or STORE's, ORDER's)."""
        return max(2 + self.config.sizes[0] * self.input_bytes,
                   4 + CHUNK * max(self.weight_bytes, self.store_bytes, self.order_bytes))

    @property
    def max_reply_words(self) -> int:
        """The most core words one reply carries (a READ of every bank word, at most a READ count's 65535; or COUNTERS)."""
        largest_read = min(self.layout.depth * self.config.lanes, (1 << ReadHead["count"].width) - 1)
        return max(largest_read, counter_words(self.config))

    def _plan(self, m, code, length, head, written):
        """What the request asks for (as logic): the reply plan, and what runs on the core."""
        cfg, lanes, total = self.config, self.config.lanes, self.layout.depth * self.config.lanes
        n_in, ib, wb = cfg.sizes[0], self.input_bytes, self.weight_bytes
        plan = Signal(ReplyPlan)
        # values: the payload after the head is values, sent until the payload ends
        # scan: the values are sample indices, each checked against the store before any is sent
        run = Signal(data.StructLayout({"op": Op, "arg": 16, "position": 1, "values": 1, "scan": 1,
                                        "size": range(5), "offset": range(5)}))
        error = Signal(Error, init=Error.BAD_LENGTH)
        failed = Signal()
        unwritten = Signal()  # a run on a store memory never written (NOT_STORED, after every other check)

        def fail(code):
            m.d.comb += [failed.eq(1), error.eq(code)]

        # LOAD's weights after its position; the bank words LOAD or READ touch stay inside the banks
        load_head = LoadHead.size // 8
        length_fits, short_length = below(m, length, load_head + CHUNK * wb + 1)
        load_count = (short_length - load_head) >> (wb.bit_length() - 1)
        label_ok, label = below(m, head.train.label, cfg.n_classes)
        address_ok, address = below(m, head.read.position.address, self.layout.depth)
        lane_ok, lane = below(m, head.read.position.lane, lanes)
        count_ok, count = below(m, head.read.count, total + 1)
        in_banks = address_ok & lane_ok
        past_end = address * lanes + lane + Mux(code == Command.LOAD, load_count, count) > total
        m.d.comb += [plan.header.code.eq(code), plan.word_bytes.eq(2), plan.words.eq(1)]
        def start(op, arg=0, position=0, values=0, size=1, offset=0, scan=0):
            m.d.comb += [run.op.eq(op), run.arg.eq(arg), run.position.eq(position), run.values.eq(values),
                         run.size.eq(size), run.offset.eq(offset), run.scan.eq(scan)]

        with m.Switch(code):
            with m.Case(Command.TRAIN):
                start(Op.TRAIN, arg=label, values=1, size=ib, offset=TrainHead.size // 8)
                m.d.comb += plan.header.length.eq(reply_length(cfg, Command.TRAIN))
                with m.If(length != TrainHead.size // 8 + n_in * ib):
                    fail(Error.BAD_LENGTH)
                with m.Elif(~label_ok):
                    fail(Error.OUT_OF_RANGE)
            with m.Case(Command.INFER):
                start(Op.INFER, values=1, size=ib)
                m.d.comb += plan.header.length.eq(reply_length(cfg, Command.INFER))
                with m.If(length != n_in * ib):
                    fail(Error.BAD_LENGTH)
            with m.Case(Command.LOAD):
                start(Op.LOAD, arg=load_count, position=1, values=1, size=wb, offset=load_head)
                m.d.comb += plan.word_bytes.eq(0)  # the core's ACK is taken, not sent
                with m.If(~length_fits | (short_length < load_head + wb) | ((short_length - load_head) & (wb - 1) != 0)):
                    fail(Error.BAD_LENGTH)
                with m.Elif(~in_banks | past_end):
                    fail(Error.OUT_OF_RANGE)
            with m.Case(Command.READ):
                start(Op.READ, arg=count, position=1)
                m.d.comb += [plan.words.eq(count), plan.word_bytes.eq(wb), plan.header.length.eq(count * wb)]
                with m.If(length != ReadHead.size // 8):
                    fail(Error.BAD_LENGTH)
                with m.Elif(~in_banks | ~count_ok | (count == 0) | past_end):
                    fail(Error.OUT_OF_RANGE)
            with m.Case(Command.COUNTERS, Command.RESET, Command.INFO):
                m.d.comb += [run.op.eq(Op.COUNTERS), plan.words.eq(0)]
                with m.If(code == Command.COUNTERS):
                    m.d.comb += [plan.words.eq(counter_words(self.config)), plan.word_bytes.eq(4),
                                 plan.header.length.eq(reply_length(cfg, Command.COUNTERS))]
                with m.If(code == Command.INFO):
                    m.d.comb += [plan.info.eq(1), plan.header.length.eq(self.info_length)]
                with m.If(length != 0):
                    fail(Error.BAD_LENGTH)
            if self.store is not None:
                self._plan_store(m, code, length, head, plan, start, fail, written, unwritten)
            with m.Default():
                fail(Error.UNKNOWN_COMMAND)
        return plan, run, failed, error, unwritten

    def _plan_store(self, m, code, length, head, plan, start, fail, written, unwritten):
        """STORE and ORDER: values after a position, inside the sample or order memory (ORDER's values are checked
        by the scan); EPOCH and EVALUATE: a position and a count inside the order memory or the records, on
        memories that were ``written``; their reply, a 4-byte word per result field."""
        store, load_head = self.store, LoadHead.size // 8
        position = head.read.position
        writes = [(Command.ORDER, Op.ORDER, self.order_bytes, store.samples)]
        if store.flash is None:  # records in flash are written by the programmer, not by STORE
            writes.insert(0, (Command.STORE, Op.STORE, self.store_bytes, store.depth))
        for command, op, size, room in writes:
            with m.Case(command):
                fits, short = below(m, length, load_head + CHUNK * size + 1)
                count = (short - load_head) >> (size.bit_length() - 1)
                at_ok, at = below(m, position.address, room)
                start(op, arg=count, position=1, values=1, size=size, offset=load_head, scan=command == Command.ORDER)
                m.d.comb += plan.word_bytes.eq(0)  # the core's ACK is taken, not sent
                with m.If(~fits | (short < load_head + size) | ((short - load_head) & (size - 1) != 0)):
                    fail(Error.BAD_LENGTH)
                with m.Elif(~at_ok | (position.lane != 0) | (at + count > room)):
                    fail(Error.OUT_OF_RANGE)
        with m.Case(Command.EPOCH, Command.EVALUATE):
            at_ok, at = below(m, position.address, store.samples)
            count_ok, count = below(m, head.read.count, store.samples + 1)
            start(Mux(code == Command.EPOCH, Op.EPOCH, Op.EVALUATE), arg=count, position=1)
            m.d.comb += [plan.words.eq(len(RESULT_FIELDS)), plan.word_bytes.eq(4),
                         plan.header.length.eq(reply_length(self.config, Command.EPOCH))]
            # the records are in flash (written by the programmer; the run's checksum tells), or STOREd
            records = C(1, 1) if store.flash is not None else written.records
            with m.If(length != ReadHead.size // 8):
                fail(Error.BAD_LENGTH)
            with m.Elif(~at_ok | ~count_ok | (count == 0) | (position.lane != 0) | (at + count > store.samples)):
                fail(Error.OUT_OF_RANGE)
            # not one more link in the chain of checks above (the iCEBreaker build's critical path): its own flag,
            # which the reply's code takes after the others, from the registers
            m.d.comb += unwritten.eq(~records | ((code == Command.EPOCH) & ~written.order))

    def _outside(self, index):
        """An ORDER value that names no sample of the store."""
        return index >= self.store.samples

    def _value_states(self, m, run, length, pointer, value, value_byte, scanning, outside):
        """The request's values, gathered little-endian from the payload buffer and sent to the core one by one;
        with ``scanning``, a first pass that only checks each (ORDER's indices: ``outside`` if one names no
        sample), then the values again from the first."""
        # each value: little-endian bytes from the buffer; each is read at a "fetch" edge and
        # arrives in the next cycle
        with m.State("fetch"):
            m.next = "gather"
        with m.State("gather"):
            m.d.sync += [value.word_select(value_byte, 8).eq(self.buffer.data), pointer.eq(pointer + 1),
                         value_byte.eq(value_byte + 1)]
            m.next = "fetch"
            with m.If(value_byte == run.size - 1):
                m.next = "push"
        with m.State("push"):
            with m.If(scanning):  # checked, not sent; after the last, the values again from the first
                m.d.sync += [value.eq(0), value_byte.eq(0)]
                if self.store is not None:
                    with m.If(self._outside(value)):
                        m.d.sync += outside.eq(1)
                m.next = "fetch"
                with m.If(pointer == length):
                    m.d.sync += [scanning.eq(0), pointer.eq(run.offset)]
                    m.next = "scanned"
            with m.Else():
                m.d.comb += [self.cmd.valid.eq(1), self.cmd.payload.eq(value)]
                with m.If(self.cmd.ready):
                    m.d.sync += [value.eq(0), value_byte.eq(0)]
                    m.next = "fetch"
                    with m.If(pointer == length):  # the values fill the payload
                        m.next = "reply"
        with m.State("scanned"):  # every index inside the store: send the request; else refuse it
            m.next = "header"
            with m.If(outside):
                m.next = "reply"

    def elaborate(self, platform):
        m = Module()
        frame = self.i.payload  # held by the deframer until taken
        head = frame.head
        # the checks are logic on the held frame; their results wait in registers for a cycle
        # ("check"), so the range checks' carry chains end at flip-flops, not in the FSM's
        # decisions and the command words (the iCEBreaker build's critical path)
        # a STORE and an ORDER have succeeded (since the board was configured; RESET leaves them)
        written = Signal(data.StructLayout({"records": 1, "order": 1}))
        checked = self._plan(m, frame.header.code, frame.header.length, head, written)
        plan, run, failed, error, unwritten = (Signal(value.shape(), name=f"{name}_r") for value, name in
                                               zip(checked, ("plan", "run", "failed", "error", "unwritten")))
        m.d.sync += [reg.eq(value) for reg, value in zip((plan, run, failed, error, unwritten), checked)]
        scanning = Signal()  # the first pass over ORDER's values: each checked, none sent
        outside = Signal()   # a scanned value names no sample of the store
        refused = Signal()  # the reply is an error, nothing runs (the head is read before it counts)
        m.d.comb += refused.eq(~frame.intact | failed | outside | unwritten)
        value_bits = 8 * max(self.input_bytes, self.weight_bytes, self.store_bytes, self.order_bytes)
        value, value_byte = Signal(value_bits), Signal(range(max(2, value_bits // 8)))
        # one past the longest payload: a payload that fills the buffer ends at buffer_size, which
        # the buffer's address would wrap to 0 (and the values would never end)
        pointer = Signal(range(self.buffer_size + 1))
        header = Signal(Header)
        m.d.comb += [self.buffer.addr.eq(pointer), header.op.eq(run.op), header.arg.eq(run.arg)]
        reply = self.reply.payload
        # the checks in order: the frame, the fields (failed: their error), ORDER's indices, the store written
        code = Mux(~frame.intact, frame.error, Mux(failed, error, Mux(outside, Error.OUT_OF_RANGE,
                                                                      Mux(unwritten, Error.NOT_STORED,
                                                                          plan.header.code))))
        m.d.comb += [reply.header.code.eq(code),
                     reply.header.length.eq(Mux(refused, 0, plan.header.length)),
                     reply.words.eq(Mux(refused, 0, plan.words)), reply.word_bytes.eq(plan.word_bytes),
                     reply.info.eq(plan.info & ~refused)]

        m.d.sync += self.core_reset.eq(0)
        with m.FSM():
            with m.State("idle"):  # the request's checks run on the deframer's output
                m.d.sync += [value.eq(0), value_byte.eq(0), outside.eq(0)]
                with m.If(self.i.valid):
                    m.next = "check"
            with m.State("check"):  # their results are in the registers
                m.d.sync += pointer.eq(run.offset)
                with m.If(self.i.valid):
                    m.next = "header"
                    with m.If(refused | (frame.header.code == Command.INFO)):
                        m.next = "reply"
                    with m.Elif(frame.header.code == Command.RESET):
                        m.next = "reset"
                    with m.Elif(run.scan):
                        m.d.sync += scanning.eq(1)
                        m.next = "fetch"
            with m.State("header"):
                m.d.comb += [self.cmd.valid.eq(1), self.cmd.payload.eq(header)]
                with m.If(self.cmd.ready):
                    m.next = "reply"
                    with m.If(run.position):
                        m.next = "position"
                    with m.Elif(run.values):
                        m.next = "fetch"
            with m.State("position"):
                m.d.comb += [self.cmd.valid.eq(1), self.cmd.payload.eq(head.read.position)]
                with m.If(self.cmd.ready):
                    m.next = "reply"
                    with m.If(run.values):
                        m.next = "fetch"
            self._value_states(m, run, frame.header.length, pointer, value, value_byte, scanning, outside)
            with m.State("reset"):  # once the core is idle (it may still be updating after TRAIN's reply)
                with m.If(self.cmd.ready):
                    m.d.sync += self.core_reset.eq(1)
                    m.next = "reply"
            with m.State("reply"):
                m.d.comb += [self.reply.valid.eq(1), self.i.ready.eq(self.reply.ready)]
                with m.If(self.reply.ready):
                    m.next = "idle"
                    with m.If(~refused):
                        with m.If(frame.header.code == Command.STORE):
                            m.d.sync += written.records.eq(1)
                        with m.If(frame.header.code == Command.ORDER):
                            m.d.sync += written.order.eq(1)
        return m
