"""The epoch runner: EPOCH and EVALUATE, the core's own host for the samples in its data store."""

from amaranth import Module, Signal
from amaranth.hdl import signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import ReadPort
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from .data_store import DataStore
from .errors import reject, require_config

__all__ = ["EpochRunner", "RunLayout", "ResultLayout"]

#: A run: train on ``count`` samples from position ``start`` of the order memory (EPOCH), or infer on
#: records ``start .. start + count - 1`` (EVALUATE).
RunLayout = data.StructLayout({"train": 1, "start": 24, "count": 16})
#: A run's result: the samples whose prediction was the label (made before each update, when training),
#: and the clock cycles from the run's start to the end of its last sample.
ResultLayout = data.StructLayout({"correct": 32, "cycles": 32})


class EpochRunner(wiring.Component):
    """Feeds stored samples to the pass sequencer and the input lists as the command decoder feeds the host's.

    Between runs the decoder's samples pass through (``host_*`` to the outputs). During a
    run, per sample: the order memory gives the record (EPOCH; EVALUATE walks the records
    in order), the record's label, then its inputs one a cycle into the input lists, the
    prediction is taken and scored, and the next sample starts once the pass sequencer is
    idle again (a training sample's update is done). The overhead is :attr:`sample_overhead`
    cycles per sample, outside the pass sequencer's busy cycles.

    Parameters
    ----------
    config : Config
    store : DataStore
        The store it reads (its geometry only).

    Members
    -------
    run : In(stream.Signature(RunLayout))
    result : Out(stream.Signature(ResultLayout))
    order_read, sample_read : In(ReadPort.Signature(...))
        To the store's ports (latency 1).
    host_sample, host_label, host_inputs, host_inputs_last, host_prediction
        The command decoder's ``sample``, ``label``, ``inputs``, ``inputs_last``, ``prediction``.
    sample, label, inputs, inputs_last, prediction, sample_idle
        To the pass sequencer and the input lists, as the decoder's ports.
    """

    def __init__(self, config: Config, *, store: DataStore):
        require_config(self, config)
        if not isinstance(store, DataStore):
            reject(self, f"store must be a DataStore, not {store!r}")
        self._config, self._store = config, store
        start = stream.Signature(data.StructLayout({"train": 1}), always_ready=True)
        inputs = stream.Signature(signed(config.input.width), always_ready=True)
        prediction = stream.Signature(range(config.n_classes))
        label = range(config.n_classes)
        super().__init__({
            "run": In(stream.Signature(RunLayout)), "result": Out(stream.Signature(ResultLayout)),
            "order_read": In(ReadPort.Signature(addr_width=len(store.order_read.addr), shape=range(store.samples))),
            "sample_read": In(ReadPort.Signature(addr_width=len(store.sample_read.addr), shape=store.width)),
            "host_sample": In(start), "host_label": In(label), "host_inputs": In(inputs), "host_inputs_last": Out(1),
            "host_prediction": Out(prediction),
            "sample": Out(start), "label": Out(label), "inputs": Out(inputs), "inputs_last": In(1),
            "prediction": In(prediction), "sample_idle": In(1),
        })

    #: cycles per sample outside the sample's own: order address, order word, record address, label address,
    #: and the cycle that sees the pass sequencer idle again
    sample_overhead = 5

    def _pass_through(self, m, active, label):
        with m.If(active):
            m.d.comb += [self.label.eq(label), self.inputs.payload.eq(self.sample_read.data)]
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

    def elaborate(self, platform):
        m = Module()
        store = self._store
        run = Signal(RunLayout)
        active, correct, cycles = Signal(), Signal(32), Signal(32)
        record, address = Signal(range(store.samples)), Signal(len(self.sample_read.addr))
        label = Signal(range(self._config.n_classes))
        self._pass_through(m, active, label)
        m.d.comb += [self.order_read.addr.eq(run.start), self.sample_read.addr.eq(address),
                     self.order_read.en.eq(1), self.sample_read.en.eq(1),
                     self.result.payload.correct.eq(correct), self.result.payload.cycles.eq(cycles)]
        with m.If(active):
            m.d.sync += cycles.eq(cycles + 1)

        with m.FSM():
            with m.State("idle"):
                m.d.comb += self.run.ready.eq(1)
                with m.If(self.run.valid):
                    m.d.sync += [run.eq(self.run.payload), active.eq(1), correct.eq(0), cycles.eq(1)]
                    m.next = "order"
            with m.State("order"):  # the order memory's address: run.start
                m.next = "index"
            with m.State("index"):  # its word arrives: the record to train on
                m.d.sync += record.eq(run.start)
                with m.If(run.train):
                    m.d.sync += record.eq(self.order_read.data)
                m.next = "record"
            with m.State("record"):  # the record's first word: its label
                m.d.sync += address.eq(record * store.stride)
                m.next = "label"
            with m.State("label"):
                m.d.sync += address.eq(address + 1)
                m.next = "start"
            with m.State("start"):  # the label arrives; the sample starts; the first input's address
                m.d.comb += [self.sample.valid.eq(1), self.sample.payload.train.eq(run.train)]
                m.d.sync += [label.eq(self.sample_read.data), address.eq(address + 1)]
                m.next = "inputs"
            with m.State("inputs"):  # one input a cycle, as the host's words come at best
                m.d.comb += self.inputs.valid.eq(1)
                m.d.sync += address.eq(address + 1)
                with m.If(self.inputs_last):
                    m.next = "prediction"
            with m.State("prediction"):
                m.d.comb += self.prediction.ready.eq(1)
                with m.If(self.prediction.valid):
                    m.d.sync += correct.eq(correct + (self.prediction.payload == label))
                    m.next = "sample_end"
            with m.State("sample_end"):  # a training sample's update goes on after its prediction
                with m.If(self.sample_idle):
                    m.d.sync += [run.start.eq(run.start + 1), run.count.eq(run.count - 1)]
                    m.next = "order"
                    with m.If(run.count == 1):
                        m.next = "done"
            with m.State("done"):
                m.d.comb += self.result.valid.eq(1)
                with m.If(self.result.ready):
                    m.d.sync += active.eq(0)
                    m.next = "idle"
        return m
