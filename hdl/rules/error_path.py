"""Error paths: where a neuron's delta comes from. One interface, one implementation per learning rule.

Every error path takes the sample's output errors, the hidden neurons' ``f'`` flags as
the forward pass produces them, and requests ``(layer, neuron)`` in the update's order;
it answers each request with the neuron's delta ``d_j`` (``f'`` already applied; the
output layer's delta is the output error itself), in request order. A path takes a
request only once it can answer it (``request.ready``): the update starts as soon as the
prediction is out, and its first groups overlap the output error unit's last errors. The delta provider
(:mod:`hdl.core.delta_provider`) is its only client, so a rule is one component:

========================= ============================================================
:class:`FeedbackErrorPath` ``ssdfa`` / ``dfa``: ``(B e)_j * f'_j`` from a sparse (or dense)
                           ternary ROM (:class:`hdl.rules.feedback_unit.FeedbackUnit`)
:class:`BackpropErrorPath` ``bp``: ``(W^T d)_i * f'_i`` from backward sweeps over the old
                           weights (:class:`hdl.rules.backward_unit.BackwardUnit`); ``hybrid``:
                           that, or a :class:`FeedbackErrorPath`, chosen per sample
:class:`OutputErrorPath`   a network without a hidden layer: the output errors only
========================= ============================================================

:class:`hdl.rules.learned_path.LearnedErrorPath` (rule ``ddfa``) learns its feedback in the
lane banks. :func:`error_path` chooses by the configuration, so a core pays only for the
path it uses.
"""

from amaranth import Module, Signal
from amaranth.hdl import Array, Mux, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory, ReadPort
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from .backward_unit import BackwardUnit
from .interface import ErrorPathSignature, errors_in as _errors_in, fprime_layout, request_layout
from .learned_path import LearnedErrorPath
from .low_rank_path import LowRankErrorPath
from ..errors import require_config
from .feedback_unit import FeedbackUnit
from ..lanes import LaneMultipliers
from ..layout import WeightLayout

__all__ = ["request_layout", "fprime_layout", "ErrorPathSignature", "FeedbackErrorPath", "BackpropErrorPath",
           "OutputErrorPath", "LearnedErrorPath", "LowRankErrorPath", "error_path"]


class FeedbackErrorPath(wiring.Component):
    """Fixed ternary feedback (rules ``ssdfa`` and ``dfa``): the ``f'`` memory in front of a :class:`FeedbackUnit`.

    A request reads the neuron's ``f'`` (hidden layers) and, a cycle later, asks the
    feedback unit for its ROM row: ``row_base(l) + j`` for hidden layer ``l``, the error
    row ``error_base + j`` for the output layer. An output neuron's request is taken once
    its error is in, a hidden neuron's once every error is.

    Parameters
    ----------
    config : Config
        With a hidden layer and ternary feedback.

    Members
    -------
    See :class:`ErrorPathSignature`.
    """

    def __init__(self, config: Config):
        require_config(self, config)
        self._config = config
        self.unit = FeedbackUnit(config)
        neurons = config.neuron_counts
        #: where hidden layer ``l``'s ``f'`` flags start in the memory (the running index)
        self.fp_base = [sum(neurons[:l]) for l in range(config.n_layers - 1)]
        super().__init__(ErrorPathSignature(config))

    @property
    def latency(self) -> int:
        """Cycles from a request to its delta: the ``f'`` read, then the feedback unit."""
        return 1 + self.unit.latency

    def elaborate(self, platform):
        m = Module()
        cfg, fb = self._config, self.unit
        m.submodules.unit = fb
        # ram_style: a block RAM, not one flip-flop per f' and a read multiplexer over them all
        m.submodules.fprimes = fprimes = Memory(shape=1, depth=max(1, sum(cfg.neuron_counts[:-1])), init=[],
                                                attrs={"no_rw_check": 1, "ram_style": "block"})
        fp_rd, fp_wr = fprimes.read_port(), fprimes.write_port()
        m.d.comb += [fp_wr.addr.eq(self.fprime.payload.index), fp_wr.data.eq(self.fprime.payload.value),
                     fp_wr.en.eq(self.fprime.valid)]

        wiring.connect(m, wiring.flipped(self.errors), fb.e)
        have = _errors_in(m, self._config, self.clear, self.errors)
        request = self.request.payload
        m.d.comb += self.request.ready.eq(Mux(request.layer == cfg.n_layers - 1, request.neuron < have,
                                              have == cfg.n_classes))

        fp_base = Array([*self.fp_base, 0])  # the output layer's error rows need no f'
        row_base = Array([*(fb.row_base(l) for l in range(cfg.n_layers - 1)), fb.error_base])
        row_valid, row = Signal(), Signal(range(fb.rows + 1))
        m.d.comb += [fp_rd.addr.eq(fp_base[request.layer] + request.neuron), fp_rd.en.eq(1)]
        m.d.sync += [row_valid.eq(self.request.valid & self.request.ready),
                     row.eq(row_base[request.layer] + request.neuron)]
        if fb.lfsr_layers:
            self._lfsr_request(m, fb)
        if fb.lfsr_layers:
            m.d.comb += [getattr(fb.i.payload, name).eq(getattr(self._lfsr, name)) for name in ("lfsr", "layer",
                                                                                              "restart", "next_row")]
        # the unit is always ready while its output is taken, and the delta stream is always taken
        m.d.comb += [fb.i.valid.eq(row_valid), fb.i.payload.row.eq(row), fb.i.payload.fprime.eq(fp_rd.data),
                     fb.o.ready.eq(1), self.delta.valid.eq(fb.o.valid), self.delta.payload.eq(fb.o.payload)]
        if cfg.cost_counters:
            m.d.comb += [self.feedback_reads.eq(fb.rom_reads), self.hidden_deltas.eq(fb.hidden_deltas)]
        return m

    def _lfsr_request(self, m, fb):
        """An LFSR-fed layer's request, registered beside its row: the layer's first neuron restarts the LFSR, a
        neuron that starts a channel group steps it to the next row (the groups divide the channels, so a
        position's first channel starts one)."""
        cfg, request = self._config, self.request.payload
        lfsr = Array(int(layer in fb.lfsr_layers) for layer in range(cfg.n_layers))[request.layer]
        per_group = Array(spec.n_out // spec.conv.groups if spec.conv else 1 for spec in cfg.layers)[request.layer]
        within = Signal(range(max(spec.n_out for spec in cfg.layers) + 1))  # the next neuron's place in its group
        restart = request.neuron == 0
        here = Mux(restart, 0, within)
        self._lfsr = Signal(data.StructLayout({"lfsr": 1, "layer": range(cfg.n_layers), "restart": 1, "next_row": 1}))
        with m.If(self.request.valid & self.request.ready & lfsr):
            m.d.sync += within.eq(Mux(here + 1 == per_group, 0, here + 1))
        m.d.sync += [self._lfsr.lfsr.eq(lfsr), self._lfsr.layer.eq(request.layer), self._lfsr.restart.eq(restart),
                     self._lfsr.next_row.eq(here == 0)]


class BackpropErrorPath(wiring.Component):
    """Backpropagation (rule ``bp``), or per sample backpropagation and fixed feedback (rule ``hybrid``).

    The output layer's deltas are the output errors (kept in registers, since a BP sample
    asks for them twice: the backward sweep, then the update). Hidden layer ``l``'s come
    from the backward unit, which the sequencer runs over layer ``l + 1``'s old weights
    before their update; they wait in the delta memory, and a request for them is taken
    once that sweep is done. ``f'`` is applied as a request is answered (latency 1).
    A ``hybrid`` core also holds a :class:`FeedbackErrorPath`, which answers a sample's
    requests when ``backprop`` is low (and keeps its own ``f'`` memory, a few bits).

    Parameters
    ----------
    config : Config
        With a hidden layer and rule ``bp`` or ``hybrid``.

    Members
    -------
    See :class:`ErrorPathSignature`, and:

    backprop : In(1)
        This sample takes the BP path (steady from the sample's start to its end).
    backward : In(stream.Signature(BackwardUnit.cmd_layout, always_ready=True))
        The sweeper's backward sweeps.
    read : In(ReadPort.Signature).array(lanes), mul : Out(LaneMultipliers.port_signature(config))
        The backward unit's banks and multipliers.
    weight_reads : Out(range(lanes + 1))
        With ``[hardware] cost_counters`` only: the backward unit's bank reads, registered.
    """

    def __init__(self, config: Config):
        require_config(self, config)
        if not config.backprop:
            raise ValueError(f"rule {config.rule!r} does not backpropagate")
        self._config = config
        self.unit = BackwardUnit(config)
        self.feedback = FeedbackErrorPath(config) if config.feedback_rows else None
        #: where hidden layer ``l``'s neurons start in the f' and delta memories
        self.fp_base = [sum(config.neuron_counts[:l]) for l in range(config.n_layers - 1)]
        lay = WeightLayout(config)
        read = ReadPort.Signature(addr_width=lay.addr_width, shape=signed(config.weight.width))
        super().__init__({
            **ErrorPathSignature(config).members,
            "backprop": In(1),
            "backward": In(stream.Signature(self.unit.cmd_layout, always_ready=True)),
            "read": In(read).array(config.lanes),
            "mul": Out(LaneMultipliers.port_signature(config)),
            **({"weight_reads": Out(range(config.lanes + 1))} if config.cost_counters else {}),
        })

    @property
    def latency(self) -> int:
        """Cycles from a request to its delta on a BP sample (a hybrid's feedback samples: the feedback path's)."""
        return 1

    def elaborate(self, platform):
        m = Module()
        cfg, unit = self._config, self.unit
        m.submodules.unit = unit
        wiring.connect(m, wiring.flipped(self.backward), unit.i)
        wiring.connect(m, unit.mul, wiring.flipped(self.mul))
        for port, bank in zip(unit.read, self.read):
            wiring.connect(m, port, wiring.flipped(bank))

        hidden = max(1, sum(cfg.neuron_counts[:-1]))
        m.submodules.fprimes = fprimes = Memory(shape=1, depth=hidden, init=[], attrs={"no_rw_check": 1})
        m.submodules.deltas = deltas = Memory(shape=signed(cfg.error.width), depth=hidden, init=[],
                                              attrs={"no_rw_check": 1})
        fp_rd, fp_wr = fprimes.read_port(), fprimes.write_port()
        d_rd, d_wr = deltas.read_port(), deltas.write_port()
        m.d.comb += [fp_wr.addr.eq(self.fprime.payload.index), fp_wr.data.eq(self.fprime.payload.value),
                     fp_wr.en.eq(self.fprime.valid)]
        # the backward unit's deltas of layer l - 1
        below = Array([0, *self.fp_base])  # fp_base of layer - 1, for layers 1..
        m.d.comb += [d_wr.addr.eq(below[unit.o.payload.layer] + unit.o.payload.index),
                     d_wr.data.eq(unit.o.payload.delta), d_wr.en.eq(unit.o.valid)]

        # the output errors, in registers; how many are in
        errors = Array(Signal(signed(cfg.error.width), name=f"e{c}") for c in range(cfg.n_classes))
        have = _errors_in(m, cfg, self.clear, self.errors)
        with m.If(self.errors.valid & self.errors.ready):
            m.d.sync += errors[have].eq(self.errors.payload)
        # the lowest layer whose deltas are known: the output layer's at first, then each
        # backward sweep's layer below
        known = Signal(range(cfg.n_layers), init=cfg.n_layers - 1)
        with m.If(unit.done):
            m.d.sync += known.eq(unit.o.payload.layer - 1)
        with m.If(self.clear):
            m.d.sync += known.eq(cfg.n_layers - 1)

        request = self.request.payload
        output = request.layer == cfg.n_layers - 1
        bp_ready = Mux(output, request.neuron < have, request.layer >= known)
        fp_base = Array([*self.fp_base, 0])
        m.d.comb += [fp_rd.addr.eq(fp_base[request.layer] + request.neuron), fp_rd.en.eq(1),
                     d_rd.addr.eq(fp_base[request.layer] + request.neuron), d_rd.en.eq(1)]
        answered, from_output, error = Signal(), Signal(), Signal(signed(cfg.error.width))
        m.d.sync += [from_output.eq(output), error.eq(errors[request.neuron])]
        bp_delta = Mux(from_output, error, Mux(fp_rd.data, d_rd.data, 0))
        if cfg.cost_counters:  # a BP sample's hidden deltas; a hybrid's feedback samples add the feedback path's
            bp_hidden = Signal()
            m.d.sync += bp_hidden.eq(answered & ~from_output)
            m.d.comb += self.weight_reads.eq(unit.weight_reads)
            if self.feedback is None:
                m.d.comb += self.hidden_deltas.eq(bp_hidden)
            else:
                m.d.comb += [self.hidden_deltas.eq(bp_hidden | self.feedback.hidden_deltas),
                             self.feedback_reads.eq(self.feedback.feedback_reads)]

        if self.feedback is None:
            m.d.comb += [self.errors.ready.eq(1), self.request.ready.eq(bp_ready),
                         self.delta.valid.eq(answered), self.delta.payload.eq(bp_delta)]
            m.d.sync += answered.eq(self.request.valid & self.request.ready)
            return m
        # hybrid: the feedback path takes the same errors and f' flags, and the requests of a feedback sample
        fb = m.submodules.feedback = self.feedback
        m.d.comb += [fb.clear.eq(self.clear), fb.fprime.valid.eq(self.fprime.valid),
                     fb.fprime.payload.eq(self.fprime.payload),
                     fb.errors.valid.eq(self.errors.valid), fb.errors.payload.eq(self.errors.payload),
                     self.errors.ready.eq(fb.errors.ready),
                     fb.request.valid.eq(self.request.valid & ~self.backprop), fb.request.payload.eq(request),
                     self.request.ready.eq(Mux(self.backprop, bp_ready, fb.request.ready)),
                     self.delta.valid.eq(Mux(self.backprop, answered, fb.delta.valid)),
                     self.delta.payload.eq(Mux(self.backprop, bp_delta, fb.delta.payload))]
        m.d.sync += answered.eq(self.request.valid & self.request.ready & self.backprop)
        return m


class OutputErrorPath(wiring.Component):
    """No hidden layer: the output errors in a shift register, shifted out one per request (latency 0).

    Requests are taken once every error is in.

    Parameters
    ----------
    config : Config

    Members
    -------
    See :class:`ErrorPathSignature` (``fprime`` is unused; there are no feedback reads and no hidden deltas).
    """

    #: Cycles from a request to its delta.
    latency = 0

    def __init__(self, config: Config):
        require_config(self, config)
        self._config = config
        super().__init__(ErrorPathSignature(config))

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        # in class order, shifting towards errors[0]: no read multiplexer or write decoder
        errors = [Signal(signed(cfg.error.width), name=f"e{c}") for c in range(cfg.n_classes)]
        have = _errors_in(m, cfg, self.clear, self.errors)
        taken = self.request.valid & self.request.ready
        m.d.comb += [self.errors.ready.eq(1), self.request.ready.eq(have == cfg.n_classes),
                     self.delta.valid.eq(taken), self.delta.payload.eq(errors[0])]
        with m.If(self.errors.valid | taken):
            m.d.sync += [e.eq(after) for e, after in zip(errors, errors[1:] + [self.errors.payload])]
        return m


def error_path(config: Config):
    """The error path of ``config``'s rule (refused with a ValueError when the hardware has none for it)."""
    if config.n_layers == 1:
        return OutputErrorPath(config)
    if config.backprop:
        return BackpropErrorPath(config)
    if config.rule == "ddfa":
        return LearnedErrorPath(config)
    if config.rank:
        return LowRankErrorPath(config)
    if config.rule in ("ssdfa", "dfa") and config.feedback_values == "ternary":
        return FeedbackErrorPath(config)
    raise ValueError(f"no error path in hardware for rule {config.rule!r} with {config.feedback_values} feedback")
