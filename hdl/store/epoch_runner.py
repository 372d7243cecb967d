"""The epoch runner: EPOCH and EVALUATE, the core's own host for the samples in its data store."""

import zlib

from amaranth import C, Module, Signal
from amaranth.hdl import signed
from amaranth.lib import crc, data, fifo, stream, wiring
from amaranth.lib.memory import ReadPort
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from .data_store import DataStore, word_bytes
from ..errors import reject, require_config
from ..protocol import MAX_COUNT

__all__ = ["EpochRunner", "RunLayout", "ResultLayout", "RESULT_FIELDS", "run_checksum"]

#: A run is a packet of positions, a record each, in order: train on the samples the order memory holds at them
#: (EPOCH; with the LFSR order, on the next index it draws for each, the position unused), or infer on the records
#: they name (EVALUATE). ``last`` marks the run's last position. The sender keeps the run's count; the runner, none.
RunLayout = data.StructLayout({"train": 1, "position": 24, "last": 1})
#: A run's result, a 32-bit reply word each in this order: the samples whose prediction was the label (made
#: before each update, when training), the clock cycles from the run's start to the end of its last sample,
#: and the checksum of the records the run read (:func:`run_checksum`).
RESULT_FIELDS = ("correct", "cycles", "checksum")
ResultLayout = data.StructLayout({name: 32 for name in RESULT_FIELDS})
#: CRC-32 as zlib's (ISO-HDLC), a store word a step: the words' bytes little-endian, as a flash image holds them
CHECKSUM = crc.catalog.CRC32_ISO_HDLC


def run_checksum(records: bytes) -> int:
    """The checksum a run answers for the records it read, given as their bytes (each word in
    :func:`hdl.store.data_store.word_bytes` bytes, little-endian, the order the run read them): their CRC-32."""
    return zlib.crc32(records)


class EpochRunner(wiring.Component):
    """Feeds stored samples to the pass sequencer and the input lists as the command decoder feeds the host's.

    Between runs the decoder's samples pass through (``host_*`` to the outputs). A run has two
    processes. The **walk** takes the run's positions (:data:`RunLayout`) and, for each, reads the order memory
    (EPOCH; with ``[training] order = "lfsr"`` it takes the store's next LFSR index instead,
    :class:`hdl.store.lfsr_order.LfsrOrder`; EVALUATE: the position names the record) and asks the record source
    (:mod:`hdl.store.record_source`) for the record, keeping the position until the source takes the request: it
    runs ahead of the samples by as much as the source and the ``prefetch`` FIFO let it. The **feed**, per sample: the
    record's label, then its inputs one a cycle (as they come) into the input lists, the prediction taken
    and scored, and the next sample once the pass sequencer is idle again (a training
    sample's update is done). The run ends with the sample whose record is the only one asked
    for and not finished once the walk has taken the last position: the runner keeps no count of its own (the
    sender of the positions does).
    With a FIFO that holds a record, a slow source (the SPI flash) reads the next record while
    the core computes this one.

    Parameters
    ----------
    config : Config
    store : DataStore
        The store it reads (its geometry only).
    prefetch : int
        Words of FIFO between the record source and the feed; 0: none (a source as fast as the feed).
    word_interval : int
        The fewest cycles between two of the source's words (its ``word_interval``). The checksum takes a word in
        that many steps at most, as few bits a step as that allows (:attr:`checksum_width`): from the SPI flash, a
        bit a cycle (a Galois shift register, not a CRC-32 network over a whole byte).

    Members
    -------
    run : In(stream.Signature(RunLayout))
        The run's positions; the first starts the run (its ``train`` holds for the run), the one marked ``last``
        ends the walk. Taken one a request; with the order memory, as it reads it (``ready`` does not depend on
        the source's).
    result : Out(stream.Signature(ResultLayout))
    order_read : In(ReadPort.Signature(...))
        To the store's order memory (latency 1); with the LFSR order ``In(stream.Signature(range(samples)))``,
        the store's indices (:attr:`DataStore.order_read`).
    request : Out(stream.Signature(range(samples)))
    words : In(stream.Signature(width))
        To the record source: records asked for, and their words, the label first.
    host_sample, host_label, host_inputs, host_inputs_last, host_prediction
        The command decoder's ``sample``, ``label``, ``inputs``, ``inputs_last``, ``prediction``.
    sample, label, inputs, inputs_last, prediction, sample_idle
        To the pass sequencer and the input lists, as the decoder's ports.
    """

    def __init__(self, config: Config, *, store: DataStore, prefetch: int = 0, word_interval: int = 1):
        require_config(self, config)
        if not isinstance(store, DataStore):
            reject(self, f"store must be a DataStore, not {store!r}")
        if not isinstance(prefetch, int) or prefetch < 0:
            reject(self, f"prefetch must be a non-negative integer, not {prefetch!r}")
        if not isinstance(word_interval, int) or word_interval < 1:
            reject(self, f"word_interval must be a positive integer, not {word_interval!r}")
        self._config, self._store, self.prefetch, self.word_interval = config, store, prefetch, word_interval
        start = stream.Signature(data.StructLayout({"train": 1}), always_ready=True)
        inputs = stream.Signature(signed(config.input.width), always_ready=True)
        prediction = stream.Signature(range(config.n_classes))
        label = range(config.n_classes)
        order = (stream.Signature(range(store.samples)) if store.lfsr
                 else ReadPort.Signature(addr_width=len(store.order_read.addr), shape=range(store.samples)))
        super().__init__({
            "run": In(stream.Signature(RunLayout)), "result": Out(stream.Signature(ResultLayout)),
            "order_read": In(order),
            "request": Out(stream.Signature(range(store.samples))), "words": In(stream.Signature(store.width)),
            "host_sample": In(start), "host_label": In(label), "host_inputs": In(inputs), "host_inputs_last": Out(1),
            "host_prediction": Out(prediction),
            "sample": Out(start), "label": Out(label), "inputs": Out(inputs), "inputs_last": In(1),
            "prediction": In(prediction), "sample_idle": In(1),
        })

    @property
    def checksum_width(self) -> int:
        """Bits of a word the checksum takes a step: the fewest (a power of two) that keep up with the source; a
        whole word without ``prefetch`` (the FIFO is what holds a word back while the checksum is busy)."""
        bits = 8 * word_bytes(self._config)
        width = 1 if self.prefetch else bits
        while bits // width > self.word_interval:
            width *= 2
        return width

    def _checksum(self, m, start):
        """The CRC-32 of every record word the source hands over (cleared when a run starts), :attr:`checksum_width`
        bits a step, low bits first; returns it, whether it has taken every word handed over, and whether it takes
        a word now."""
        bits, width = 8 * word_bytes(self._config), self.checksum_width
        m.submodules.checksum = checksum = CHECKSUM(data_width=width).create()
        taken = self.words.valid & self.words.ready
        m.d.comb += checksum.start.eq(start)
        if width == bits:  # a word a step, as it is handed over
            m.d.comb += [checksum.data.eq(self.words.payload), checksum.valid.eq(taken)]
            return checksum.crc, C(1, 1), C(1, 1)
        # the word waits in a shift register and goes in ``width`` bits a cycle; the source is slower than that (and
        # the FIFO would hold it back if it were not)
        pending, left = Signal(bits), Signal(range(bits // width + 1))
        m.d.comb += [checksum.data.eq(pending[:width]), checksum.valid.eq(left != 0)]
        with m.If(left != 0):
            m.d.sync += [pending.eq(pending >> width), left.eq(left - 1)]
        with m.If(taken):
            m.d.sync += [pending.eq(self.words.payload), left.eq(bits // width)]
        return checksum.crc, left == 0, left <= 1

    def _pass_through(self, m, active, label, words):
        with m.If(active):
            m.d.comb += [self.label.eq(label), self.inputs.payload.eq(words.payload)]
        with m.Else():
            m.d.comb += [
                self.sample.valid.eq(self.host_sample.valid), self.sample.payload.eq(self.host_sample.payload),
                self.label.eq(self.host_label),
                self.inputs.valid.eq(self.host_inputs.valid), self.inputs.payload.eq(self.host_inputs.payload),
                self.host_prediction.valid.eq(self.prediction.valid),
                self.host_prediction.payload.eq(self.prediction.payload),
                self.prediction.ready.eq(self.host_prediction.ready),
            ]
        m.d.comb += self.host_inputs_last.eq(self.inputs_last)

    def _walk(self, m, run, train):
        """Ask the source for the record at each of the run's positions (EVALUATE) or the order memory's sample there
        (EPOCH), as soon as it takes the request; ``run`` is the run's packet while the run is on. A position is taken
        as the order memory reads it, and kept until its request is taken: nothing runs from the source's ``ready``
        into the sender. Returns whether the request being made is the run's last."""
        # only the position's bits that address the order memory or name a record are seen
        position, last = Signal(len(self.order_read.addr)), Signal()
        m.d.comb += [self.order_read.addr.eq(run.payload.position), self.order_read.en.eq(0)]  # (en is 1 at rest)
        with m.FSM():
            with m.State("order"):  # the order memory reads the position (and holds the word while not enabled)
                m.d.comb += run.ready.eq(1)
                with m.If(run.valid):
                    m.d.comb += self.order_read.en.eq(1)
                    m.d.sync += [position.eq(run.payload.position), last.eq(run.payload.last)]
                    m.next = "request"
            with m.State("request"):  # its word has arrived: the record (EVALUATE: the position itself)
                m.d.comb += [self.request.valid.eq(1), self.request.payload.eq(position)]
                with m.If(train):
                    m.d.comb += self.request.payload.eq(self.order_read.data)
                with m.If(self.request.ready):
                    m.next = "order"
        return last

    def _draw(self, m, run, train):
        """The walk with the LFSR order: EPOCH asks for an index as the store draws it for each position, EVALUATE for
        the record at the position. Returns whether the request being made is the run's last."""
        with m.If(train):
            m.d.comb += [self.request.valid.eq(run.valid & self.order_read.valid),
                         self.request.payload.eq(self.order_read.payload),
                         self.order_read.ready.eq(run.valid & self.request.ready)]
        with m.Else():
            m.d.comb += [self.request.valid.eq(run.valid), self.request.payload.eq(run.payload.position)]
        m.d.comb += run.ready.eq(self.request.valid & self.request.ready)
        return run.payload.last

    def elaborate(self, platform):
        m = Module()
        train = Signal()  # the run is an EPOCH
        # at most a run's count of samples are right (the header's count): 16 bits, sent as 32
        active, correct, cycles = Signal(), Signal(range(MAX_COUNT + 1)), Signal(32)
        label = Signal(range(self._config.n_classes))
        start = Signal()  # a run starts
        crc, summed, room = self._checksum(m, start)
        if self.prefetch:
            m.submodules.prefetch = queue = fifo.SyncFIFOBuffered(width=self._store.width, depth=self.prefetch)
            m.d.comb += [queue.w_data.eq(self.words.payload), queue.w_en.eq(self.words.valid & room),
                         self.words.ready.eq(queue.w_rdy & room)]
            words = stream.Signature(self._store.width).flip().create()
            m.d.comb += [words.payload.eq(queue.r_data), words.valid.eq(queue.r_rdy), queue.r_en.eq(words.ready)]
        else:
            words = self.words
        self._pass_through(m, active, label, words)
        m.d.comb += [self.result.payload.correct.eq(correct), self.result.payload.cycles.eq(cycles),
                     self.result.payload.checksum.eq(crc)]
        with m.If(active):
            m.d.sync += cycles.eq(cycles + 1)
        # the walk takes the run's positions once the feed has started it
        run = stream.Signature(RunLayout).flip().create()
        m.d.comb += [run.payload.eq(self.run.payload), run.valid.eq(self.run.valid & active),
                     self.run.ready.eq(run.ready & active)]
        last = (self._draw if self._store.lfsr else self._walk)(m, run, train)
        # the records asked for and not yet finished: the feed's, those in the FIFO, the one the source streams. The
        # run ends with a sample when the walk has taken the last position and that sample's record is the only one
        # left: no count of samples to go beside the sender's
        asked, finished = Signal(range(self.prefetch // self._store.stride + 3)), Signal()
        m.d.sync += asked.eq(asked + (self.request.valid & self.request.ready) - finished)
        walked = Signal()  # the run's last position is taken
        with m.If(self.request.valid & self.request.ready & last):
            m.d.sync += walked.eq(1)

        with m.FSM():
            with m.State("idle"):
                m.d.comb += start.eq(self.run.valid)
                with m.If(self.run.valid):
                    m.d.sync += [train.eq(self.run.payload.train), active.eq(1), correct.eq(0), cycles.eq(1),
                                 walked.eq(0)]
                    m.next = "label"
            with m.State("label"):  # the record's first word
                m.d.comb += words.ready.eq(1)
                with m.If(words.valid):
                    m.d.sync += label.eq(words.payload)
                    m.next = "start"
            with m.State("start"):  # the sample starts
                m.d.comb += [self.sample.valid.eq(1), self.sample.payload.train.eq(train)]
                m.next = "inputs"
            with m.State("inputs"):  # an input a cycle, as they come
                m.d.comb += [self.inputs.valid.eq(words.valid), words.ready.eq(1)]
                with m.If(words.valid & self.inputs_last):
                    m.next = "prediction"
            with m.State("prediction"):
                m.d.comb += self.prediction.ready.eq(1)
                with m.If(self.prediction.valid):
                    m.d.sync += correct.eq(correct + (self.prediction.payload == label))
                    m.next = "sample_end"
            with m.State("sample_end"):  # a training sample's update goes on after its prediction
                with m.If(self.sample_idle):
                    m.d.comb += finished.eq(1)
                    m.next = "label"
                    with m.If(walked & (asked == 1)):
                        m.next = "done"
            with m.State("done"):
                m.d.comb += self.result.valid.eq(summed)
                with m.If(self.result.ready):
                    m.d.sync += active.eq(0)
                    m.next = "idle"
        return m
