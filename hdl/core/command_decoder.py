"""The command decoder: the core's word protocol (:mod:`hdl.protocol`) in, replies out."""

from amaranth import C, Array, Module, Signal
from amaranth.hdl import signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import WritePort
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from ..lanes import host_bank_signature
from ..store import DataStore
from ..store import RESULT_FIELDS, ResultLayout, RunLayout
from ..compare import below
from ..errors import reject, require_config
from ..protocol import ACK, ERROR, Header, Op, Position, counter_words

__all__ = ["CommandDecoder"]


class CommandDecoder(wiring.Component):
    """Decodes command words and runs them: samples on the pass sequencer, LOAD and READ on the banks, COUNTERS.

    One command at a time: ``i`` is ready for a header only when the last command is
    over, including a TRAIN sample's update after its prediction was sent.

    Parameters
    ----------
    config : Config
    read_latency : int
        Cycles from a bank address to the word on ``banks.word`` (``BankArbiter.read_latency``).
    streamed_counters : bool
        The counters send their words as a stream (:class:`hdl.core.counters.SpramCounters`).

    Members
    -------
    i : In(stream.Signature(32))
        Command words.
    o : Out(stream.Signature(32))
        Reply words.
    sample : Out(stream.Signature(StructLayout({"train": 1}), always_ready=True))
        A TRAIN or INFER header: to the pass sequencer's ``start``, the cycle after the header
        (from the decoder's state, so no header decoding is in front of the sequencer).
    sample_idle : In(1)
        The pass sequencer is idle.
    label : Out(range(n_classes))
        The TRAIN label.
    inputs : Out(stream.Signature(signed(input.width), always_ready=True))
        The sample's inputs, to the input lists.
    inputs_last : In(1)
        The next input is the sample's last.
    prediction : In(stream.Signature(range(n_classes)))
        The pass sequencer's; sent as the reply.
    banks : Out(host_bank_signature(config))
    counter_select : Out(range(counter_words(config)))
    counter_word : In(32)
        The counters' words, in the COUNTERS reply's order (:class:`hdl.core.counters.Counters`).
    counter_dump : Out(1)
    counter_stream : In(stream.Signature(32))
        With ``streamed_counters``, instead of ``counter_select`` and ``counter_word``: the words as
        :class:`hdl.core.counters.SpramCounters` sends them while ``counter_dump`` is high.
    sample_write, order_write : In(WritePort.Signature(...))
        With ``store``: STORE's and ORDER's words, to the data store.
    run : Out(stream.Signature(RunLayout))
        With ``store``: EPOCH and EVALUATE, to the epoch runner: the command's positions, one a record.
    result : In(stream.Signature(ResultLayout))
        With ``store``: the run's result, sent as the reply.
    """

    def __init__(self, config: Config, *, read_latency: int, store: DataStore | None = None,
                 streamed_counters: bool = False):
        require_config(self, config)
        if not isinstance(read_latency, int) or read_latency < 1:
            raise ValueError(f"read_latency must be a positive integer, not {read_latency!r}")
        if store is not None and not isinstance(store, DataStore):
            reject(self, f"store must be a DataStore or None, not {store!r}")
        self._config = config
        self._read_latency = read_latency
        self._store = store
        self._streamed_counters = streamed_counters
        #: STORE writes a sample memory; a store in flash has none, and STORE is then an unknown command
        self._storable = store is not None and store.flash is None
        stored = {} if store is None else {
            **({"sample_write": In(WritePort.Signature(addr_width=len(store.sample_write.addr), shape=store.width))}
               if self._storable else {}),
            "order_write": In(WritePort.Signature(addr_width=len(store.order_write.addr),
                                                   shape=range(store.samples))),
            "run": Out(stream.Signature(RunLayout)), "result": In(stream.Signature(ResultLayout)),
        }
        super().__init__({
            **stored,
            "i": In(stream.Signature(32)), "o": Out(stream.Signature(32)),
            "sample": Out(stream.Signature(data.StructLayout({"train": 1}), always_ready=True)),
            "sample_idle": In(1),
            "label": Out(range(config.n_classes)),
            "inputs": Out(stream.Signature(signed(config.input.width), always_ready=True)),
            "inputs_last": In(1),
            "prediction": In(stream.Signature(range(config.n_classes))),
            "banks": Out(host_bank_signature(config)),
            **({"counter_dump": Out(1), "counter_stream": In(stream.Signature(32))} if streamed_counters else
               {"counter_select": Out(range(counter_words(config))), "counter_word": In(32)}),
        })

    @property
    def read_latency(self) -> int:
        return self._read_latency

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        header, position = Header(self.i.payload), Position(self.i.payload)
        op = Signal(Op, init=Op.TRAIN)
        count = Signal(Header["arg"].width)  # words LOAD / READ still move
        # whether count is 0 or 1, in registers beside it: no wide comparison in front of the
        # enables of the bank position and the state
        count_is = Signal(data.StructLayout({"zero": 1, "one": 1}))

        def load_count(value):
            m.d.sync += [count.eq(value), count_is.zero.eq(value == 0), count_is.one.eq(value == 1)]

        def count_down():
            m.d.sync += [count.eq(count - 1), count_is.zero.eq(count_is.one), count_is.one.eq(count == 2)]
        words = counter_words(cfg)
        tick = Signal(range(max(words, self._read_latency + 1, len(RESULT_FIELDS))))
        m.d.comb += [*([] if self._streamed_counters else [self.counter_select.eq(tick)]),
                     self.inputs.payload.eq(self.i.payload[:cfg.input.width])]

        def reply(value, next_state):
            m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(value)]
            if next_state:
                with m.If(self.o.ready):
                    m.next = next_state

        with m.FSM():
            with m.State("idle"):
                m.d.comb += self.i.ready.eq(1)
                with m.If(self.i.valid):
                    m.d.sync += [op.eq(header.op), self.label.eq(header.arg), tick.eq(0)]
                    with m.Switch(header.op):
                        with m.Case(Op.TRAIN, Op.INFER):
                            m.next = "sample"
                        with m.Case(Op.LOAD, Op.READ):
                            load_count(header.arg)
                            m.next = "position"
                        with m.Case(Op.COUNTERS):
                            m.next = "counters"
                        if self._store is not None:
                            with m.Case(*([Op.STORE] if self._storable else []), Op.ORDER, Op.EPOCH, Op.EVALUATE):
                                load_count(header.arg)
                                m.next = "store_position"
                        with m.Default():
                            m.next = "error"
            self._sample_states(m, op)
            self._bank_states(m, op, count_is, count_down, tick, position, reply)
            with m.State("counters"):
                if self._streamed_counters:  # the counters' own words, as they come
                    m.d.comb += [self.counter_dump.eq(1), self.counter_stream.ready.eq(self.o.ready)]
                    with m.If(self.counter_stream.valid):
                        reply(self.counter_stream.payload, None)
                    taken = self.counter_stream.valid & self.o.ready
                else:  # word ``tick`` of the counters' multiplexer
                    reply(self.counter_word, None)
                    taken = self.o.ready
                with m.If(taken):
                    m.d.sync += tick.eq(tick + 1)
                    with m.If(tick == words - 1):
                        m.next = "idle"
            with m.State("error"):
                reply(ERROR | op, "idle")
            if self._store is not None:
                self._store_states(m, op, count, count_is, count_down, tick, position, reply)
        return m

    def _sample_states(self, m, op):
        """TRAIN and INFER: start the pass sequencer, stream the inputs, send its prediction, and wait for
        a TRAIN sample's update."""
        with m.State("sample"):  # the start from a state alone: no header decoding before the sequencer
            m.d.comb += [self.sample.valid.eq(1), self.sample.payload.train.eq(op == Op.TRAIN)]
            m.next = "inputs"
        with m.State("inputs"):
            m.d.comb += [self.i.ready.eq(1), self.inputs.valid.eq(self.i.valid)]
            with m.If(self.i.valid & self.inputs_last):
                m.next = "prediction"
        with m.State("prediction"):
            m.d.comb += [self.o.valid.eq(self.prediction.valid), self.o.payload.eq(self.prediction.payload),
                         self.prediction.ready.eq(self.o.ready)]
            with m.If(self.prediction.valid & self.o.ready):
                m.next = "sample_end"
        with m.State("sample_end"):  # a TRAIN sample's update goes on after its prediction
            with m.If(self.sample_idle):
                m.next = "idle"

    def _bank_states(self, m, op, count_is, count_down, tick, position, reply):
        """LOAD and READ: from a position (bank address and lane), write the words to the banks or read
        them out, lane by lane within an address."""
        cfg, banks = self._config, self.banks

        def next_bank_word(after_last, next_address=None):
            """A word moved: the next lane (after an address's last, the next address), the count one
            lower; after the last word, state ``after_last``; READ: at an address's end, ``next_address``."""
            m.d.sync += banks.lane.eq(banks.lane + 1)
            count_down()
            # the position steps whatever the count (after the last word it is not used): the
            # count is not in front of its enables
            with m.If(banks.lane == cfg.lanes - 1):
                m.d.sync += [banks.lane.eq(0), banks.addr.eq(banks.addr + 1)]
            with m.If(count_is.one):
                m.d.sync += banks.own.eq(0)
                m.next = after_last
            with m.Elif(banks.lane == cfg.lanes - 1):
                if next_address:
                    m.d.sync += tick.eq(0)
                    m.next = next_address

        with m.State("position"):  # where LOAD / READ start: bank address and lane
            m.d.comb += self.i.ready.eq(1)
            with m.If(self.i.valid):
                m.d.sync += [banks.addr.eq(position.address), banks.lane.eq(position.lane), tick.eq(0)]
                with m.If(count_is.zero):
                    m.next = "error"
                with m.Else():
                    m.d.sync += banks.own.eq(1)
                    m.next = "load_weights"
                    with m.If(op == Op.READ):
                        m.next = "read_wait"
        with m.State("load_weights"):
            m.d.comb += self.i.ready.eq(1)
            with m.If(self.i.valid):
                m.d.comb += [banks.write.eq(1), banks.data.eq(self.i.payload[:cfg.weight.width])]
                next_bank_word(after_last="ack")
        with m.State("ack"):
            reply(ACK, "idle")
        # READ's word, registered: the lane multiplexer in front of it (lanes x weight bits, from the
        # multipliers' product registers) ends here, not in the link's reply path
        word = Signal.like(banks.word, reset_less=True)
        m.d.sync += word.eq(banks.word)
        with m.State("read_wait"):  # the bank read of the address, the multipliers' registers, then ``word``
            m.d.sync += tick.eq(tick + 1)
            with m.If(tick == self._read_latency):
                m.next = "read_words"
        with m.State("read_words"):
            m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(word.as_unsigned()),
                         banks.hold.eq(1)]  # hold the word being sent
            with m.If(self.o.ready):
                m.next = "read_lane"
                next_bank_word(after_last="idle", next_address="read_wait")
        with m.State("read_lane"):  # the next lane of the same address, into ``word``
            m.d.comb += banks.hold.eq(1)
            m.next = "read_words"

    def _in_store(self, m, index):
        """An ORDER value names a sample of the store (:func:`hdl.compare.below` in LUT logic: no carry chain)."""
        return below(m, index, self._store.samples, chain=False)[0]

    def _store_states(self, m, op, count, count_is, count_down, tick, position, reply):
        """STORE and ORDER write the data store from a position; EPOCH and EVALUATE hand a run to the epoch
        runner, a position a record (counted down as STORE's words are), and reply with its result: a word per
        :data:`hdl.store.epoch_runner.RESULT_FIELDS` field.

        An ORDER index outside the store is not written, nor is any after it in the command, which
        answers ``ERROR | ORDER``. EPOCH before any ORDER, and EPOCH or EVALUATE before any STORE (of a
        store in block RAM), answer ``ERROR | op``: flags remember both, and RESET leaves them (they
        are ``reset_less``, as the memories keep their words)."""
        at = Signal(len(position.address))
        written = Signal(data.StructLayout({"records": 1, "order": 1}), reset_less=True)
        outside = Signal()  # an ORDER index of this command named no sample: the rest is not written
        in_store = self._in_store(m, self.i.payload)
        records = C(1, 1) if not self._storable else written.records
        runnable = records & ((op == Op.EVALUATE) | written.order)
        if self._storable:
            m.d.comb += [self.sample_write.addr.eq(at), self.sample_write.data.eq(self.i.payload)]
        m.d.comb += [self.order_write.addr.eq(at), self.order_write.data.eq(self.i.payload),
                     self.run.payload.train.eq(op == Op.EPOCH), self.run.payload.position.eq(at),
                     self.run.payload.last.eq(count_is.one)]
        with m.State("store_position"):
            m.d.comb += self.i.ready.eq(1)
            with m.If(self.i.valid):
                m.d.sync += [at.eq(position.address), tick.eq(0), outside.eq(0)]
                with m.If(count_is.zero):
                    m.next = "error"
                with m.Elif((op == Op.STORE) | (op == Op.ORDER)):
                    m.next = "store_words"
                with m.Elif(~runnable):
                    m.next = "error"
                with m.Else():
                    m.next = "run"
        with m.State("store_words"):
            m.d.comb += self.i.ready.eq(1)
            with m.If(self.i.valid):
                bad = (op == Op.ORDER) & (outside | ~in_store)
                if self._storable:
                    m.d.comb += self.sample_write.en.eq(op == Op.STORE)
                m.d.comb += self.order_write.en.eq((op == Op.ORDER) & ~bad)
                m.d.sync += [at.eq(at + 1), outside.eq(bad)]
                count_down()
                with m.If(count_is.one):
                    m.next = "ack"
                    with m.If(bad):
                        m.next = "error"
                    with m.Elif(op == Op.STORE):
                        m.d.sync += written.records.eq(1)
                    with m.Else():
                        m.d.sync += written.order.eq(1)
        with m.State("run"):  # the run's positions, one a record: the count is the decoder's
            m.d.comb += self.run.valid.eq(1)
            with m.If(self.run.ready):
                m.d.sync += at.eq(at + 1)
                count_down()
                with m.If(count_is.one):
                    m.next = "result"
        with m.State("result"):  # the result's words (RESULT_FIELDS): the samples predicted right, the cycles, ...
            fields = [self.result.payload[name] for name in RESULT_FIELDS]
            with m.If(self.result.valid):
                reply(Array(fields)[tick], None)
                with m.If(self.o.ready):
                    m.d.sync += tick.eq(tick + 1)
                    with m.If(tick == len(fields) - 1):
                        m.d.comb += self.result.ready.eq(1)
                        m.next = "idle"
