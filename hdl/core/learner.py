"""The learner core: a parent that only wires its parts.

One sample at a time, as ``golden.fixed_model.FixedNet.train_sample`` bit for bit:

.. code-block:: text

    i ─► CommandDecoder ─inputs─► InputLists ◄─store── Serialiser ◄─o── MacArray ◄─forward─┐
           │  │ ▲   ▲                 │ read                │  │scores        ▲ weights       │
           │  │ │   └prediction─┐     └──────► Sweeper ─────┼──┼──────────────┼───────────────┘
           │  │ │               │               ▲  │update  │  ▼              │
           │  │ └─ counters     PassSequencer ──┘  ▼        │ OutputErrorUnit │
           │  └──banks──► BankArbiter ◄────── UpdateUnit    │  │errors        │
           ▼              (banks, multipliers) ◄────────────┼──┼──────────────┘
           o                                      ▲ deltas  ▼  ▼
                                           DeltaProvider ◄─► error path (one per rule)

1. the decoder takes a TRAIN / INFER header and starts the pass sequencer, then streams
   the inputs into the input lists;
2. forward, layer by layer: the sweeper reads each layer input once per neuron group and
   feeds the MAC array (P MACs per cycle); the serialiser sends a group's P results to the
   next layer's input list and their ``f'`` to the error path, or, for the output layer, to
   the output error unit (whose errors go to the error path; on a training sample, where
   :attr:`~hdl.core.output_error.OutputErrorUnit.uses_lanes`, it multiplies on lane 0 while it emits) and the argmax;
3. the prediction goes back through the decoder, and the update starts;
4. update, last layer first: per neuron group the delta provider asks the error path for
   the group's P deltas (the output layer's first groups as their errors arrive), then the
   sweeper reads the layer input again and feeds the update unit (P weights per cycle).

The error path is the learning rule (:mod:`hdl.rules.error_path`); everything else is the same
for every rule. ``docs/architecture.md`` draws the parts and their streams.
"""

from amaranth import Module
from amaranth.hdl import C, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config
from trifactor.golden.fixed_model import FixedNet

from ..lanes import BankArbiter
from .command_decoder import CommandDecoder
from .counters import Counters, SpramCounters, counter_placement
from ..store import DataStore, FlashPlacement
from .delta_provider import DeltaProvider
from ..store import EpochRunner
from ..store import record_source
from ..store import FlashPins
from ..rules import error_path
from ..errors import reject, require_hardware
from .input_lists import InputLists
from .pool_unit import PoolUnit
from ..layout import WeightLayout
from .mac_array import MacArray
from .output_error import OutputErrorUnit
from ..protocol import COST_NAMES, counter_names
from ..rules import RuleChooser
from .sequencer import PassSequencer
from .serialiser import Serialiser
from .sweeper import Sweeper
from .update_unit import UpdateUnit, fault_layers

__all__ = ["LearnerCore"]


class LearnerCore(wiring.Component):
    """An on-chip learner for ``config``, its weights initialised as golden's ``FixedNet(config, seed)``.

    Parameters
    ----------
    config : Config
    seed : int
        The initial weights' seed.
    store_samples : int
        Samples the core's data store holds (:mod:`hdl.store.data_store`), for STORE, ORDER, EPOCH and
        EVALUATE; 0 (the default): no store, and the core is the same as without these commands.
    flash : FlashPlacement or None
        The store's records are in the board's SPI flash there, not in a sample memory (STORE is refused).
    fault : str or None
        For tests only: a fault built in on purpose (:data:`hdl.core.update_unit.FAULTS`, e.g.
        ``"update-rounding:1"``), to check that ``trifactor check`` finds it; None (the default): the real core,
        the same Verilog as without this parameter.

    Members
    -------
    i : In(stream.Signature(unsigned(32)))
        Command words (see :mod:`hdl.protocol`).
    o : Out(stream.Signature(unsigned(32)))
        Reply words.
    flash : Out(FlashPins)
        With ``flash`` only: the SPI flash's pins.
    """

    def __init__(self, config: Config, *, seed: int = 0, store_samples: int = 0, flash: FlashPlacement | None = None,
                 fault: str | None = None):
        if not isinstance(config, Config):
            reject(self, f"config must be a Config, not {config!r}")
        require_hardware(self, config)
        if not isinstance(store_samples, int) or store_samples < 0:
            reject(self, f"store_samples must be a non-negative integer, not {store_samples!r}")
        try:
            fault_layers(config, fault)  # before any part is made
        except ValueError as exc:
            reject(self, str(exc))
        self._config = config
        self.layout = WeightLayout(config)
        golden = FixedNet(config, seed)
        self.init_weights = golden.weights
        # forward and update never overlap: the two units share the arbiter's multipliers
        self.mac = MacArray(config, multipliers="external")
        self.update = UpdateUnit(config, multipliers="external", fault=fault)
        #: rule ``ddfa``: golden's initial learned feedback, in the banks after the weights
        self.init_learned = getattr(golden, "learned", [])
        self.banks = BankArbiter(config, init=self.layout.to_banks(self.init_weights, self.init_learned),
                                 output_error=config.softmax_on_lanes)
        self.lists = InputLists(config)
        self.error_path = error_path(config)
        backward = self.error_path.unit if config.backprop else None  # backpropagation's backward unit
        self.sweeper = Sweeper(config, mac_layout=self.mac.cmd_layout, update_layout=self.update.cmd_layout,
                               backward_layout=backward.cmd_layout if backward else None)
        # softmax's products on the lanes (Config.softmax_on_lanes) as the unit emits: the forward pass is over, the update waits
        self.error = OutputErrorUnit(config, multipliers="external")
        self.serialiser = Serialiser(config, result_layout=self.mac.result_layout,
                                     score_layout=self.error.i.payload.shape())
        self.provider = DeltaProvider(config)
        self.sequencer = PassSequencer(config, update_latency=self.update.latency,
                                       backward_drain=backward.owns_multipliers if backward else None,
                                       scored_wait=max(1, self.serialiser.prediction_delay))
        #: the hybrid rule's choice of BP samples (an LFSR)
        self.chooser = RuleChooser(config) if config.rule == "hybrid" and config.backprop else None
        #: the data set in the core's memory, and the part that runs epochs over it (with ``store_samples``)
        if flash is not None and not store_samples:
            reject(self, "a flash placement needs a data store (store_samples > 0)")
        self.store = DataStore(config, samples=store_samples, flash=flash) if store_samples else None
        #: where the runner's records come from (:mod:`hdl.store.record_source`); from flash, a record is prefetched
        self.records = record_source(self.store) if self.store else None
        self.runner = EpochRunner(config, store=self.store, prefetch=self.store.stride if flash else 0,
                                  word_interval=self.records.word_interval) if self.store else None
        #: the counters in flip-flops, or in an SPRAM beside a data store (:func:`hdl.core.counters.counter_placement`)
        self.counter_placement = counter_placement(config, store_samples)
        spram = self.counter_placement == "spram"
        self.decoder = CommandDecoder(config, read_latency=self.banks.read_latency, store=self.store,
                                      streamed_counters=spram)
        steps = {name: (1 << len(event)) - 1 for name, event in self.cost_events().items()}
        self.counters = (SpramCounters(max_step=self.sweeper.max_macs_step, costs=steps) if spram else
                         Counters(max_step=self.sweeper.max_macs_step, costs=steps,
                                  halves=config.pipeline == "balanced"))
        assert self.counters.names == counter_names(config)
        super().__init__({"i": In(stream.Signature(unsigned(32))), "o": Out(stream.Signature(unsigned(32))),
                          **({"flash": Out(FlashPins)} if flash else {})})

    @property
    def config(self) -> Config:
        return self._config

    def cost_events(self) -> dict:
        """Each cost counter's event (:data:`hdl.protocol.COST_EVENTS`, one line each), registered where it happens;
        none without ``[hardware] cost_counters``."""
        if not self._config.cost_counters:
            return {}
        sw, path, none = self.sweeper, self.error_path, C(0, 1)
        backprop, learned = self._config.backprop, self._config.rule == "ddfa"
        events = {
            "forward_macs": sw.forward_macs,                  # MACs of forward sweeps
            "forward_weight_reads": self.mac.weight_reads,   # the MAC array's bank reads
            # MACs of backward sweeps, or of the learned feedback's tangent and feedback passes
            "error_path_macs": sw.backward_macs if backprop else path.macs if learned else none,
            # the backward unit's bank reads, or the tangent passes'
            "error_path_weight_reads": path.weight_reads if backprop or learned else none,
            "error_path_feedback_reads": path.feedback_reads,  # feedback ROM reads (ddfa: B words read)
            "error_path_deltas": path.hidden_deltas,         # deltas delivered for hidden neurons
            "update_macs": sw.update_macs,                    # MACs of update sweeps
            "update_weight_reads": self.update.weight_reads,  # the update unit's bank reads
            "update_weight_writes": self.update.weight_writes,  # the update unit's bank writes
        }
        return {name: events[name] for name in COST_NAMES}

    @property
    def act_depth(self) -> int:
        """Words of the activation memory (every layer input's list)."""
        return self.lists.depth

    @property
    def fp_depth(self) -> int:
        """Bits of the ``f'`` memory (every hidden neuron)."""
        return max(1, sum(self._config.neuron_counts[:-1]))

    def elaborate(self, platform):
        m = Module()
        for name in ("decoder", "sequencer", "lists", "sweeper", "banks", "mac", "update", "serialiser", "error",
                     "error_path", "provider", "counters"):
            m.submodules[name] = getattr(self, name)
        dec, seq, sw, ser, path = self.decoder, self.sequencer, self.sweeper, self.serialiser, self.error_path
        if self.banks.storage.clears:  # the banks clear themselves after configuration: the commands wait
            m.d.comb += [dec.i.payload.eq(self.i.payload), dec.i.valid.eq(self.i.valid & ~self.banks.clearing),
                         self.i.ready.eq(dec.i.ready & ~self.banks.clearing)]
        else:
            wiring.connect(m, wiring.flipped(self.i), dec.i)
        wiring.connect(m, dec.o, wiring.flipped(self.o))
        # the sample: decoder -> sequencer -> sweeper; inputs into the lists
        samples = self._wire_store(m) if self.store else dec  # where the samples come from: host or store
        wiring.connect(m, samples.sample, seq.start)
        wiring.connect(m, seq.prediction, samples.prediction)
        wiring.connect(m, seq.sweep, sw.start)
        wiring.connect(m, samples.inputs, self.lists.load)
        # forward: lists -> sweeper -> MAC array -> serialiser -> lists / error path / output error unit
        wiring.connect(m, sw.lists, self.lists.read)
        wiring.connect(m, sw.forward, self.mac.i)
        wiring.connect(m, self.mac.o, ser.i)
        if ser.pooling:  # a pooled convolution's maxima: serialiser -> pool unit -> lists
            m.submodules.pool = pool = PoolUnit(self._config)
            wiring.connect(m, ser.store, pool.i)
            wiring.connect(m, pool.o, self.lists.store)
        else:
            wiring.connect(m, ser.store, self.lists.store)
        wiring.connect(m, ser.fprime, path.fprime)
        wiring.connect(m, ser.scores, self.error.i)
        wiring.connect(m, self.error.o, path.errors)
        # update: error path -> delta provider -> sweeper -> update unit
        wiring.connect(m, self.provider.request, path.request)
        wiring.connect(m, path.delta, self.provider.delta)
        if self.error.uses_lanes:
            self._wire_output_error(m)
        else:
            wiring.connect(m, self.provider.group, sw.deltas)
        wiring.connect(m, sw.update, self.update.i)
        # the lanes' banks and multipliers
        for unit_ports, bank_ports in [(self.mac.weights, self.banks.forward_read),
                                       (self.update.read, self.banks.update_read),
                                       (self.update.write, self.banks.update_write)]:
            for unit_port, bank_port in zip(unit_ports, bank_ports):
                wiring.connect(m, unit_port, bank_port)
        wiring.connect(m, self.mac.mul, self.banks.forward_mul)
        wiring.connect(m, self.update.mul, self.banks.update_mul)
        wiring.connect(m, dec.banks, self.banks.host)
        if self._config.backprop:
            self._wire_backprop(m)
        if self._config.rule == "ddfa":
            self._wire_learned(m)
        assert ser.prediction_delay <= seq.scored_wait  # the prediction is final when the sequencer reads it
        m.d.comb += [
            # control and status between the parts
            self.lists.clear.eq(seq.clear), ser.clear.eq(seq.clear), ser.training.eq(seq.training),
            ser.label.eq(samples.label), self.lists.written.eq(ser.written),
            samples.inputs_last.eq(self.lists.load_last),
            seq.sweeper_busy.eq(sw.busy), seq.sweeper_empty.eq(sw.empty), seq.written.eq(ser.written),
            path.clear.eq(seq.clear), seq.scored.eq(ser.prediction), dec.sample_idle.eq(seq.idle),
            self.provider.start.eq(seq.provide), self.banks.update.eq(seq.update),
            # the counters
            self.counters.busy.eq(seq.busy), self.counters.sample.eq(seq.sample_done),
            self.counters.macs_done.eq(sw.macs_done + path.macs if self._config.rule == "ddfa" else sw.macs_done),
            self.counters.macs_skipped.eq(sw.macs_skipped),
            *([self.counters.select.eq(dec.counter_select), dec.counter_word.eq(self.counters.word)]
              if self.counter_placement == "registers" else [self.counters.dump.eq(dec.counter_dump)]),
        ]
        if self.counter_placement == "spram":
            wiring.connect(m, self.counters.o, dec.counter_stream)
        m.d.comb += [getattr(self.counters.costs, name).eq(event) for name, event in self.cost_events().items()]
        return m

    def _wire_store(self, m):
        """The data store, written by the decoder (STORE, ORDER) and read by the epoch runner (EPOCH, EVALUATE),
        which passes the decoder's own samples through between runs; returns the runner."""
        dec, runner, store, records = self.decoder, self.runner, self.store, self.records
        m.submodules.store, m.submodules.runner, m.submodules.records = store, runner, records
        if store.flash is None:
            wiring.connect(m, dec.sample_write, store.sample_write)
            wiring.connect(m, records.sample_read, store.sample_read)
        else:
            wiring.connect(m, records.pins, wiring.flipped(self.flash))
        wiring.connect(m, dec.order_write, store.order_write)
        wiring.connect(m, runner.order_read, store.order_read)
        wiring.connect(m, runner.request, records.request)
        wiring.connect(m, records.words, runner.words)
        wiring.connect(m, dec.run, runner.run)
        wiring.connect(m, runner.result, dec.result)
        wiring.connect(m, dec.sample, runner.host_sample)
        wiring.connect(m, dec.inputs, runner.host_inputs)
        wiring.connect(m, runner.host_prediction, dec.prediction)
        m.d.comb += [runner.host_label.eq(dec.label), dec.inputs_last.eq(runner.host_inputs_last),
                     runner.sample_idle.eq(self.sequencer.idle)]
        return runner

    def _wire_output_error(self, m):
        """The output error unit multiplies on the lanes as it emits (:attr:`hdl.core.output_error.OutputErrorUnit.uses_lanes`): it owns
        them over every other unit while ``owns``, and the sweeper sees no group of deltas ready until it lets them go
        (the delta provider prepares the output layer's first group meanwhile), so no update or backward element
        meets the emit in the multipliers. Training samples only: the serialiser sends no scores on INFER."""
        group, deltas, owns = self.provider.group, self.sweeper.deltas, self.error.owns
        wiring.connect(m, self.error.mul, self.banks.error_mul)
        m.d.comb += [self.banks.error.eq(owns), deltas.ready.eq(group.ready & ~owns), deltas.zero.eq(group.zero),
                     deltas.deltas.eq(group.deltas), group.claim.eq(deltas.claim), group.release.eq(deltas.release)]

    def _wire_learned(self, m):
        """Learned feedback: between a sample's prediction and its update the error path owns the banks and the
        multipliers, for its tangent and feedback passes."""
        seq, path, banks = self.sequencer, self.error_path, self.banks
        for path_port, bank_port in [*zip(path.read, banks.learn_read), *zip(path.write, banks.learn_write)]:
            wiring.connect(m, path_port, bank_port)
        wiring.connect(m, path.mul, banks.learn_mul)
        m.d.comb += [path.learn.eq(seq.learn), banks.learn.eq(seq.learn), seq.learned.eq(path.learned)]

    def _wire_backprop(self, m):
        """Backpropagation: the sweeper's backward sweeps to the error path's backward unit, which
        reads the banks and multiplies on the lanes; every sample (``bp``) or the chooser's (``hybrid``)."""
        seq, path, banks = self.sequencer, self.error_path, self.banks
        wiring.connect(m, self.sweeper.backward, path.backward)
        for unit_port, bank_port in zip(path.read, banks.backward_read):
            wiring.connect(m, unit_port, bank_port)
        wiring.connect(m, path.mul, banks.backward_mul)
        backprop = 1
        if self.chooser is not None:
            m.submodules.chooser = self.chooser
            m.d.comb += self.chooser.step.eq(seq.start.valid & seq.start.payload.train)
            backprop = self.chooser.backprop
        m.d.comb += [seq.backprop.eq(backprop), self.provider.backprop.eq(backprop), path.backprop.eq(backprop),
                     banks.backward.eq(seq.backward)]
