"""The host link's request sequencer: a checked frame in, the core's command words and a reply plan out."""

from dataclasses import dataclass
from types import SimpleNamespace

from amaranth import C, Cat, Module, Signal
from amaranth.hdl import Mux
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.memory import ReadPort
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from ..arith import times_constant
from ..compare import below, less_than
from ..store import RESULT_FIELDS, DataStore
from .deframer import Received
from ..errors import reject, require_config
from .frames import CHUNK, Command, Error, LoadHead, ReadHead, TrainHead, order_bytes, reply_length, value_bytes
from ..layout import WeightLayout
from ..protocol import Header, Op, counter_words
from .reply_framer import ReplyPlan

__all__ = ["RequestSequencer", "Rule"]

#: Every error code is 0xE0 plus a 3-bit number: the sequencer keeps the number only (0: no error).
ERROR_BASE = 0xE0
assert all(code & ~7 == ERROR_BASE and code & 7 for code in Error)
assert all(code < 16 for code in Command)  # told apart by the low 4 bits once the high ones are 0


@dataclass(frozen=True)
class Rule:
    """How the sequencer checks a command and runs it: one row of :mod:`hdl.link.frames`' table.

    Attributes
    ----------
    command : Command
    op : Op or None
        The core's command; None: nothing goes to the core (RESET, INFO).
    length : int or None
        The payload's exact length; None: a position (4 bytes), then 1 to ``CHUNK`` values.
    size : int
        Bytes per value.
    position : str or None
        ``"bank"``: a bank address and a lane below the lanes; ``"store"``: an address in the store, lane 0.
    limit : int
        With a position: where the run must end, at most (bank words, store words or samples).
    arg : str or None
        The header's arg: ``"label"`` (TRAIN's), ``"values"`` (how many the payload has), ``"count"`` (the head's).
    offset : int
        The payload byte of the first value.
    scan : bool
        The values are sample indices, each checked against the store before any is sent (ORDER).
    stored : str or None
        The store memories a run needs written: ``"records"`` (EVALUATE), ``"order"`` (EPOCH on records in
        flash), ``"both"`` (EPOCH).
    reply_length, words : int or None
        The good reply's payload bytes and core words; None: from the head's count (READ).
    word_bytes : int
        Bytes sent of each core word (0: taken, not sent).
    info : bool
        The reply is the INFO bytes.
    """

    command: Command
    op: Op | None
    length: int | None
    size: int = 0
    position: str | None = None
    limit: int = 0
    arg: str | None = None
    offset: int = 0
    scan: bool = False
    stored: str | None = None
    reply_length: int | None = 0
    words: int | None = 0
    word_bytes: int = 0
    info: bool = False

    @property
    def values(self) -> bool:
        """The payload holds values for the core (after the head)."""
        return self.length is None or self.op in (Op.TRAIN, Op.INFER)


def link_rules(config: Config, info_length: int, store: DataStore | None) -> list:
    """The commands a link to ``config``'s core (and ``store``) takes, each as a :class:`Rule`."""
    n_in, wb = config.sizes[0], value_bytes(config.weight.width)
    total, head, pair = WeightLayout(config).depth * config.lanes, LoadHead.size // 8, ReadHead.size // 8
    train_head = TrainHead.size // 8
    rules = [
        Rule(Command.TRAIN, Op.TRAIN, train_head + n_in * value_bytes(config.input.width),
             size=value_bytes(config.input.width), arg="label", offset=train_head,
             reply_length=reply_length(config, Command.TRAIN), words=1, word_bytes=2),
        Rule(Command.INFER, Op.INFER, n_in * value_bytes(config.input.width), size=value_bytes(config.input.width),
             reply_length=reply_length(config, Command.INFER), words=1, word_bytes=2),
        Rule(Command.LOAD, Op.LOAD, None, size=wb, position="bank", limit=total, arg="values", offset=head, words=1),
        Rule(Command.READ, Op.READ, pair, position="bank", limit=total, arg="count", reply_length=None, words=None,
             word_bytes=wb),
        Rule(Command.COUNTERS, Op.COUNTERS, 0, reply_length=reply_length(config, Command.COUNTERS),
             words=counter_words(config), word_bytes=4),
        Rule(Command.RESET, None, 0),
        Rule(Command.INFO, None, 0, reply_length=info_length, info=True),
    ]
    if store is not None:
        samples, result = store.samples, reply_length(config, Command.EPOCH)
        if store.flash is None:  # records in flash are written by the programmer, not by STORE
            rules.append(Rule(Command.STORE, Op.STORE, None, size=value_bytes(store.width), position="store",
                              limit=store.depth, arg="values", offset=head, words=1))
        rules += [
            Rule(Command.ORDER, Op.ORDER, None, size=order_bytes(samples), position="store", limit=samples,
                 arg="values", offset=head, scan=True, words=1),
            Rule(Command.EPOCH, Op.EPOCH, pair, position="store", limit=samples, arg="count",
                 stored="order" if store.flash is not None else "both",
                 reply_length=result, words=len(RESULT_FIELDS), word_bytes=4),
            Rule(Command.EVALUATE, Op.EVALUATE, pair, position="store", limit=samples, arg="count",
                 stored=None if store.flash is not None else "records", reply_length=result,
                 words=len(RESULT_FIELDS), word_bytes=4),
        ]
    return rules


def _bits(limit: int) -> int:
    return max(1, limit.bit_length())


class Phase(enum.Enum, shape=2):
    """What the bytes gathered into the sequencer's word are for."""
    POSITION = 0  # the head's first 4 bytes, to be checked: a position (or TRAIN's label)
    COUNT = 1     # the head's count (bytes 4 and 5), to be checked
    SCAN = 2      # an ORDER index, to be checked and not sent
    SEND = 3      # a position or value for the core


class RequestSequencer(wiring.Component):
    """Checks a received request, runs it on the core, and plans its reply.

    Nothing reaches the core unless the frame is intact and its length, command, label,
    position and count fit the core: a bad request gets an error reply and changes nothing.
    A good one sends the core its :data:`~hdl.protocol.Header` word, the position word (LOAD,
    READ), then its values. Every field after the header comes from the payload buffer, a
    byte at a time, into one word register: first the head's fields, to be checked (the
    position or TRAIN's label, then the count), then the words for the core (the position
    is the payload's first 4 bytes, gathered the same way), little-endian.

    ORDER's values are sample indices: a first pass over the payload checks that each names a
    sample of the store, and only then does a second pass send them (``OUT_OF_RANGE`` if one
    does not, with nothing sent). Two flags remember whether a STORE and an ORDER have ever
    succeeded: before them, EPOCH and EVALUATE answer ``NOT_STORED`` (:mod:`hdl.link.frames`).
    RESET leaves them, as it leaves the store's memories.

    Latency: a byte from the buffer takes two cycles (address, data), a checked field one more,
    the verdict one more; so a frame is decided (the verdict in its register) at most 17 cycles
    after it is offered. The command words come from a register (``cmd.payload`` is a flip-flop,
    ``cmd.valid`` a decode of the state), and every check ends at a flip-flop.

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
        The request, held by the deframer (its payload in the buffer); taken once its reply has been sent.
    buffer : In(ReadPort.Signature(addr_width=..., shape=8))
        Drives a read port of the payload buffer (read latency 1), :attr:`buffer_size` bytes.
    cmd : Out(stream.Signature(32))
        Command words, to the core's ``i``.
    reply : Out(stream.Signature(ReplyPlan))
        The reply, offered once the core has its words; taken when it has been sent. Its payload
        is logic on the held frame's header and the checks' registers.
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
        self.rules = link_rules(config, info_length, store)
        #: bits of a store address or a count that fits the core: of the largest limit a run must end within
        self.field_bits = _bits(max(rule.limit for rule in self.rules if rule.position))
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

    def _select(self, m, is_, pick, shape, name=None):
        """``pick(rule)`` (a constant or a value) for the frame's command, chosen by the code's low 4 bits (a LUT
        per bit of a constant); anything for a code that is no command (``is_["known"]`` tells)."""
        value = Signal(shape, name=name)
        with m.Switch(self.i.payload.header.code[:4]):
            for rule in self.rules:
                with m.Case(rule.command & 15):
                    m.d.comb += value.eq(pick(rule))
        return value

    def _lengths(self, m, length, is_):
        """Whether the payload's length fits the command (registered: valid the cycle after the frame is
        offered), and the values it holds (``values[size]``, after a position: 1..CHUNK)."""
        exact, chunks = {}, {}
        for rule in self.rules:
            if rule.length is not None and rule.length not in exact:
                exact[rule.length] = length == rule.length
            elif rule.length is None and rule.size not in chunks:
                head_bytes, shift = LoadHead.size // 8, rule.size.bit_length() - 1
                short_ok, short = below(m, length, head_bytes + CHUNK * rule.size + 1, chain=False)
                fits = short_ok & ~less_than(short, head_bytes + rule.size) & (short[:shift] == 0 if shift else 1)
                chunks[rule.size] = (fits, ((short - head_bytes) >> shift)[:_bits(CHUNK)])
        fits = self._select(m, is_, lambda rule: exact[rule.length] if rule.length is not None else
                            chunks[rule.size][0], 1, "fits")
        fits_r = Signal()  # registered (the frame is held): the comparisons end at a flip-flop
        m.d.sync += fits_r.eq(fits)
        return fits_r, {size: count for size, (_, count) in chunks.items()}

    def _place(self, m, word, is_):
        """The position in ``word`` (or TRAIN's label): whether it fits the command, and the first bank word or
        store entry a run touches."""
        address, lane = word[:24], word[24:]
        lane_ok, lane_n = below(m, lane, self.config.lanes, chain=False)
        depth_bits = _bits(self.layout.depth - 1)
        bank_ok = ((address >> depth_bits) == 0) & lane_ok
        store_ok = ((address >> self.field_bits) == 0) & (lane == 0)
        label_ok = below(m, word[:16], self.config.n_classes, chain=False)[0]
        first = Signal(self.field_bits + 1)
        lanes = self.config.lanes
        if lanes & (lanes - 1) == 0:  # address * lanes + lane, the lane below the lanes: the bits side by side
            bank = Cat(lane_n, address[:depth_bits]) if lanes > 1 else address[:depth_bits]
        else:
            bank = times_constant(address[:depth_bits], lanes) + lane_n
        fits = self._select(m, is_, lambda rule: {"bank": bank_ok, "store": store_ok}.get(
            rule.position, label_ok if rule.arg == "label" else C(1, 1)), 1, "place_ok")
        bank_rule = self._select(m, is_, lambda rule: rule.position == "bank", 1, "bank_rule")
        m.d.comb += first.eq(Mux(bank_rule, bank, address[:self.field_bits]))
        return fits, first

    def _verdict(self, m, frame, is_, s, written):
        """The request's error number (0: none), in the order of the checks: the frame (its CRC), the command, the
        length, the ranges (the position, the count, where the run ends), the store memories written."""
        ends = {}
        for rule in self.rules:
            if rule.position and rule.limit not in ends:
                ends[rule.limit] = below(m, s.end, rule.limit + 1, chain=False)[0]
        end_ok = self._select(m, is_, lambda rule: ends[rule.limit] if rule.position else C(1, 1), 1, "end_ok")
        counted = self._select(m, is_, lambda rule: rule.arg == "count", 1, "count_rule")
        need = {None: C(1, 1), "records": written.records, "order": written.order,
                "both": written.records & written.order}
        stored = self._select(m, is_, lambda rule: need[rule.stored], 1, "stored")
        known = is_["known"]
        verdict = Signal(3)
        with m.If(~frame.intact):  # TRUNCATED or BAD_CRC (never 0, whatever the error field holds)
            m.d.comb += verdict.eq(Mux(frame.error == Error.TRUNCATED, Error.TRUNCATED & 7, Error.BAD_CRC & 7))
        with m.Elif(~known):
            m.d.comb += verdict.eq(Error.UNKNOWN_COMMAND & 7)
        with m.Elif(~s.fits):
            m.d.comb += verdict.eq(Error.BAD_LENGTH & 7)
        with m.Elif(~s.placed | ~end_ok | counted & ~s.counted):
            m.d.comb += verdict.eq(Error.OUT_OF_RANGE & 7)
        with m.Elif(~stored):
            m.d.comb += verdict.eq(Error.NOT_STORED & 7)
        return verdict

    def _plan(self, m, frame, is_, error, count):
        """The reply plan (logic on the held frame's header and the registers): a good reply's header, core words
        and bytes of each per :attr:`rules`; an error's code with nothing more."""
        plan = self.reply.payload
        length = self._select(m, is_, lambda rule: count * rule.word_bytes if rule.reply_length is None else
                              rule.reply_length, 16, "reply_length")
        words = self._select(m, is_, lambda rule: count if rule.words is None else rule.words, 16, "reply_words")
        ok = error == 0
        m.d.comb += [plan.header.code.eq(Mux(ok, frame.header.code, ERROR_BASE | error)),
                     plan.header.length.eq(Mux(ok, length, 0)), plan.words.eq(Mux(ok, words, 0)),
                     plan.word_bytes.eq(self._select(m, is_, lambda rule: rule.word_bytes, 3)),
                     plan.info.eq(self._select(m, is_, lambda rule: rule.info, 1) & ok)]

    def _outside(self, m, index):
        """An ORDER value that names no sample of the store."""
        return ~below(m, index, self.store.samples, chain=False)[0]

    def _word(self, m, s):
        """The word register: the header loaded whole, or the buffer's byte into byte ``byte`` (byte 0 clears the
        others: every value starts there)."""
        for k in range(4):
            lane = s.word[8 * k:8 * k + 8]
            with m.If(s.load_header):
                m.d.sync += lane.eq(s.header.as_value()[8 * k:8 * k + 8])
            with m.Elif(s.gathering & (s.byte == k)):
                m.d.sync += lane.eq(self.buffer.data)
            if k:
                with m.Elif(s.gathering & (s.byte == 0)):
                    m.d.sync += lane.eq(0)

    def _gather(self, m, s, start, last, phase):
        """Gather the bytes from ``start`` up to ``word``'s byte ``last`` into ``word``, for ``phase``."""
        m.d.sync += [s.byte.eq(0), s.pointer.eq(start), s.last.eq(last), s.phase.eq(phase)]
        m.next = "fetch"

    def _check_states(self, m, s, is_):
        """Reading and checking the head: the position (or label), then the count, then the verdict."""
        with m.State("idle"):
            with m.If(self.i.valid):
                m.next = "head"
        with m.State("head"):  # nothing to read unless the frame, its command and its length are good
            m.d.sync += [s.placed.eq(1), s.counted.eq(1), s.count.eq(0)]
            m.next = "judge"
            with m.If(self.i.payload.intact & s.reads_head & s.fits):
                self._gather(m, s, 0, 3, Phase.POSITION)
        with m.State("placed"):  # the position (or label) is in ``word``
            m.d.sync += [s.placed.eq(s.place_ok), s.end.eq(s.first), s.count.eq(s.word[:16])]
            m.next = "judge"
            with m.If(s.has_position):
                m.next = "count"
            with m.If(s.reads_count):
                self._gather(m, s, ReadHead["count"].offset // 8, 1, Phase.COUNT)
        with m.State("count"):  # the run's end: its first word plus the count, from the length or the head
            m.d.sync += s.end.eq(s.end + s.added)
            with m.If(s.reads_count):
                m.d.sync += [s.counted.eq((s.word[:16] != 0) & ((s.word[:16] >> self.field_bits) == 0)),
                             s.count.eq(s.word[:16])]
            with m.Else():  # the values in the payload
                m.d.sync += s.count.eq(s.added)
            m.next = "judge"
        with m.State("judge"):
            m.d.sync += s.error.eq(s.judged)
            m.next = "check"

    def _send_states(self, m, s, is_):
        """After the verdict: the header word, the position and values from the buffer (ORDER's scanned
        first), RESET, or the reply alone."""
        with m.State("check"):
            m.d.comb += s.load_header.eq(1)
            with m.If(s.error != 0):
                m.next = "reply"
            with m.Elif(is_[Command.RESET]):
                m.next = "reset"
            with m.Elif(~s.to_core):
                m.next = "reply"
            with m.Elif(s.scans):
                self._gather(m, s, LoadHead.size // 8, s.value_last, Phase.SCAN)
            with m.Else():
                m.next = "header"
        with m.State("header"):
            m.d.comb += self.cmd.valid.eq(1)
            with m.If(self.cmd.ready):  # then the position from the payload's start, or the values
                m.next = "reply"
                with m.If(s.has_position | s.has_values):
                    self._gather(m, s, Mux(s.has_position, 0, s.offset), Mux(s.has_position, 3, s.value_last),
                                 Phase.SEND)
        with m.State("fetch"):  # the buffer reads the byte at ``pointer``
            m.next = "gather"
        with m.State("gather"):
            m.d.comb += s.gathering.eq(1)
            m.d.sync += [s.pointer.eq(s.pointer + 1), s.byte.eq(s.byte + 1)]
            m.next = "fetch"
            with m.If(s.byte == s.last):
                with m.Switch(s.phase):
                    for phase, state in ((Phase.POSITION, "placed"), (Phase.COUNT, "count"), (Phase.SCAN, "scan"),
                                         (Phase.SEND, "send")):
                        with m.Case(phase):
                            m.next = state
        with m.State("scan"):  # checked, not sent; after the last, the request from its header
            m.d.sync += s.byte.eq(0)
            with m.If(s.outside_now):
                m.d.sync += s.error.eq(Error.OUT_OF_RANGE & 7)
            m.next = "fetch"
            with m.If(s.ended):
                m.d.comb += s.load_header.eq(1)
                m.next = "scanned"
        with m.State("scanned"):  # every index inside the store: send the request; else refuse it
            m.next = "header"
            with m.If(s.error != 0):
                m.next = "reply"
        with m.State("send"):
            m.d.comb += self.cmd.valid.eq(1)
            with m.If(self.cmd.ready):
                m.d.sync += [s.byte.eq(0), s.last.eq(s.value_last)]
                m.next = "fetch"
                with m.If(~s.has_values | s.ended):
                    m.next = "reply"
        with m.State("reset"):  # once the core is idle (it may still be updating after TRAIN's reply)
            with m.If(self.cmd.ready):
                m.d.sync += self.core_reset.eq(1)
                m.next = "reply"
        with m.State("reply"):
            m.d.comb += [self.reply.valid.eq(1), self.i.ready.eq(self.reply.ready)]
            with m.If(self.reply.ready):
                m.next = "idle"
                with m.If(s.error == 0):
                    for command, flag in ((Command.STORE, s.written.records), (Command.ORDER, s.written.order)):
                        if command in is_:
                            with m.If(is_[command]):
                                m.d.sync += flag.eq(1)

    def elaborate(self, platform):
        m = Module()
        frame = self.i.payload  # held by the deframer until taken
        is_ = {}
        for rule in self.rules:
            is_[rule.command] = hit = Signal(name=f"is_{rule.command.name}")
            m.d.comb += hit.eq(frame.header.code == rule.command)
        is_["known"] = (frame.header.code[4:] == 0) & self._select(m, is_, lambda rule: 1, 1)
        # registers written before they are read need no reset (and no reset logic)
        s = SimpleNamespace(
            word=Signal(32, reset_less=True),                 # the field being read, or the word offered to the core
            pointer=Signal(range(self.buffer_size + 1), reset_less=True),  # the buffer's address (to one past it)
            byte=Signal(2, reset_less=True), last=Signal(2, reset_less=True),  # the byte of ``word`` next, the last one
            phase=Signal(Phase, reset_less=True),
            placed=Signal(reset_less=True), counted=Signal(reset_less=True),  # the position (or label), the count fit
            # the first word a run touches (below 2 ** (field_bits + 1)), then where it ends: that plus a count
            # below 2 ** field_bits or CHUNK values, never wrapped (a wrapped end would pass its check)
            end=Signal(max(self.field_bits, _bits(CHUNK)) + 2, reset_less=True),
            # the header's arg: the label, the values, the count (as wide as a good one's)
            count=Signal(max(self.field_bits, _bits(CHUNK), _bits(self.config.n_classes - 1)), reset_less=True),
            error=Signal(3, reset_less=True),                 # the verdict: the error number, 0 for none
            load_header=Signal(), gathering=Signal(),         # what ``word`` takes
            # a STORE and an ORDER have succeeded (since the board was configured; RESET leaves them)
            written=Signal(data.StructLayout({"records": 1, "order": 1})))
        fits, values = self._lengths(m, frame.header.length, is_)
        s.fits = fits
        s.place_ok, s.first = self._place(m, s.word, is_)
        pick = lambda key, name: self._select(m, is_, key, 1, name)  # noqa: E731
        s.reads_head = pick(lambda rule: rule.position is not None or rule.arg == "label", "reads_head")
        s.reads_count = pick(lambda rule: rule.arg == "count", "reads_count")
        s.scans, s.to_core = pick(lambda rule: rule.scan, "scans"), pick(lambda rule: rule.op is not None, "to_core")
        s.has_position = pick(lambda rule: rule.position is not None, "has_position")
        s.has_values = pick(lambda rule: rule.values, "has_values")
        s.value_last = self._select(m, is_, lambda rule: max(rule.size, 1) - 1, 2, "value_last")
        s.offset = self._select(m, is_, lambda rule: rule.offset, range(8), "offset")
        chunk = self._select(m, is_, lambda rule: values[rule.size] if rule.arg == "values" else 0, _bits(CHUNK),
                             "values")
        s.added = Mux(s.reads_count, s.word[:self.field_bits], chunk)
        s.judged = self._verdict(m, frame, is_, s, s.written)
        s.header = Signal(Header)
        m.d.comb += [s.header.op.eq(self._select(m, is_, lambda rule: rule.op or 0, 4, "op")),
                     s.header.arg.eq(s.count)]
        s.ended = s.pointer == frame.header.length
        s.outside_now = C(0, 1) if self.store is None else self._outside(m, s.word[:8 * self.order_bytes])
        m.d.comb += [self.buffer.addr.eq(s.pointer), self.buffer.en.eq(1), self.cmd.payload.eq(s.word)]
        m.d.sync += self.core_reset.eq(0)
        self._word(m, s)
        with m.FSM():
            self._check_states(m, s, is_)
            self._send_states(m, s, is_)
        self._plan(m, frame, is_, s.error, s.count)
        return m
