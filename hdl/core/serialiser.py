"""The serialiser: a MAC group's P results, one lane a cycle, to where the sample needs them next."""

from amaranth import Module, Signal
from amaranth.hdl import Array, Mux, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from ..rules import fprime_layout
from ..errors import require_config
from .input_lists import store_layout
from .pool_unit import pooled_store_layout
from ..layout import GroupWalk, WeightLayout
from .mac_array import activate, resolve_sum

__all__ = ["Serialiser"]


class Serialiser(wiring.Component):
    """Takes the MAC array's groups in order and sends their lanes out one a cycle.

    The MAC array's sums ``a`` (from its adders, unregistered) are registered here, and
    leave through a shift register towards lane 0: no multiplexer in front of the argmax
    and the output error unit. The activation (:func:`hdl.core.mac_array.activate`) is applied
    to lane 0 only, into an output register: one activation, not P, none on the MAC array's
    adders, and none in front of the comparisons that take the scores. With ``[hardware]
    pipeline = "balanced"`` the sums come in the MAC array's two-half form
    (:attr:`hdl.core.mac_array.MacArray.sum_layout`); the lane about to leave is resolved
    (:func:`hdl.core.mac_array.resolve_sum`) a cycle ahead into a register of its own, so a
    group's first lane leaves a cycle after the group is taken (a group takes P + 1 cycles),
    and the argmax compares from registers (:attr:`prediction_delay`). A hidden layer's activations go to ``store`` (the next layer's input list) and
    their ``f'`` to ``fprime`` (the error path); the output layer's scores go to ``scores``
    (the output error unit, when ``training``) and into the argmax. A group is taken as soon
    as the last one has left, so the MAC array stalls only when a group finishes before
    the last one has left.

    Parameters
    ----------
    config : Config
    result_layout : StructLayout
        The payload of :class:`MacArray` ``o`` (each lane's sum ``a``).
    score_layout : StructLayout
        The payload of :class:`OutputErrorUnit` ``i`` (a score and the label).

    Members
    -------
    clear : In(1)
        A new sample (at this edge): the first layer's first group comes next.
    training : In(1)
        Send the scores to ``scores`` (else the argmax only). Held for the sample, and taken a
        cycle late (a register here: the sequencer's flip-flop is far from the output stage).
    label : In(range(n_classes))
    i : In(stream.Signature(result_layout))
    store : Out(stream.Signature(store_layout(config), always_ready=True))
        With a pooled convolution, :func:`hdl.core.pool_unit.pooled_store_layout`'s (to the pool unit): the
        pooled output's index, the channel and the place in the pooling window.
    fprime : Out(stream.Signature(fprime_layout(config), always_ready=True))
    scores : Out(stream.Signature(score_layout))
    written : Out(range(n_layers + 1))
        Layers whose outputs have all left.
    prediction : Out(range(n_classes))
        The index of the first maximum score, :attr:`prediction_delay` cycles after ``written == n_layers``.
    """

    def __init__(self, config: Config, *, result_layout, score_layout):
        require_config(self, config)
        self._config = config
        super().__init__({
            "clear": In(1), "training": In(1), "label": In(range(config.n_classes)),
            "i": In(stream.Signature(result_layout)),
            "store": Out(stream.Signature(pooled_store_layout(config) if self.pooling else store_layout(config),
                                          always_ready=True)),
            "fprime": Out(stream.Signature(fprime_layout(config), always_ready=True)),
            "scores": Out(stream.Signature(score_layout)),
            "written": Out(range(config.n_layers + 1)),
            "prediction": Out(range(config.n_classes)),
        })

    @property
    def config(self) -> Config:
        return self._config

    @property
    def prediction_delay(self) -> int:
        """Cycles from ``written`` reaching ``n_layers`` to the final ``prediction``: 2 with the balanced pipeline,
        else 0 (the sequencer reads it :attr:`hdl.core.sequencer.PassSequencer.scored_wait` cycles after it sees
        ``written == n_layers``: at least one)."""
        return 2 if self._config.pipeline == "balanced" else 0

    @property
    def pooling(self) -> bool:
        """Whether a convolution pools (its outputs then go through a :class:`hdl.core.pool_unit.PoolUnit`)."""
        return any(conv.pool > 1 for conv in self._config.convs)

    def elaborate(self, platform):
        m = Module()
        cfg, lanes = self._config, self._config.lanes
        walk = GroupWalk(WeightLayout(cfg))
        busy = Signal()
        sums = [Signal(self.i.payload.a[p].shape(), name=f"a{p}", reset_less=True) for p in range(lanes)]
        lane, group_lanes = Signal(range(lanes)), Signal(range(lanes + 1))
        layer, group = Signal(range(cfg.n_layers + 1)), Signal(range(walk.max_groups))  # of the lanes in ``sums``
        fptr = Signal(self.fprime.payload.index.shape())   # the hidden neurons' running index
        m.d.comb += self.i.ready.eq(~busy)
        # balanced: head, the next lane to leave, resolved a cycle ahead (no carry chain in front of the activation);
        # primed: head holds it. Otherwise the lane leaves from sums[0], always primed.
        balanced = cfg.pipeline == "balanced"
        head, primed = Signal(signed(len(resolve_sum(sums[0]))), name="head"), Signal(name="primed", init=1)
        with m.If(self.i.valid & ~busy):
            m.d.sync += [busy.eq(1), lane.eq(0), group_lanes.eq(walk.lanes_of(layer, group))]
            if balanced:
                m.d.sync += primed.eq(0)
            else:
                m.d.sync += [a.eq(self.i.payload.a[p]) for p, a in enumerate(sums)]

        # the output stage: lane 0's activation in a register (no path from the activation into
        # the argmax's or the output error unit's comparisons), with where it goes
        pool_fields = {"channel": self.store.payload.channel.shape(), "first": 1, "last": 1} if self.pooling else {}
        out = Signal(data.StructLayout({"hidden": 1, "score": 1, "end": 1, "h": signed(cfg.act.width), "fp": 1,
                                        "layer": range(cfg.n_layers + 1), "i": self.store.payload.i.shape(),
                                        "fptr": fptr.shape(), **pool_fields}))
        training = Signal()
        m.d.sync += training.eq(self.training)
        leaves = ~out.score | ~training | self.scores.ready  # the output stage is empty or empties now
        m.d.comb += [self.scores.payload.y.eq(out.h), self.scores.payload.label.eq(self.label),
                     self.store.payload.layer.eq(out.layer), self.store.payload.i.eq(out.i),
                     self.store.payload.x.eq(out.h),
                     *([self.store.payload.channel.eq(out.channel), self.store.payload.first.eq(out.first),
                        self.store.payload.last.eq(out.last)] if self.pooling else []),
                     self.fprime.payload.index.eq(out.fptr), self.fprime.payload.value.eq(out.fp),
                     self.store.valid.eq(out.hidden), self.fprime.valid.eq(out.hidden),
                     self.scores.valid.eq(out.score & training)]

        step = Signal()  # this cycle's lane moves into the output stage
        output_layer = layer == cfg.n_layers - 1
        # a convolution's groups come position after position: its outputs are numbered from the position's
        # first (HWC: position * channels)
        layer_end, index = walk.is_last(layer, group), group * lanes + lane
        if cfg.convs:
            position = Signal(range(walk.max_positions))
            obase = Signal(self.store.payload.i.shape())
            last_position = walk.is_last_position(layer, position)
            layer_end, channel, index = layer_end & last_position, index, obase + index
            if self.pooling:  # a pooling window's positions, each position's outputs numbered from the window's
                window = Array(conv.pool * conv.pool for conv in cfg.convs)[layer] if len(cfg.convs) > 1 else \
                    cfg.convs[0].pool ** 2
                place = Signal(range(max(conv.pool ** 2 for conv in cfg.convs)))  # this position's in its window
                window_end = (place == window - 1) | (layer >= len(cfg.convs))
        last_lane = lane == group_lanes - 1
        h, fp = activate(cfg, head if balanced else sums[0], ~output_layer)
        m.d.comb += step.eq(busy & primed & leaves if balanced else busy & leaves)
        with m.If(leaves):
            m.d.sync += [out.hidden.eq(step & ~output_layer), out.score.eq(step & output_layer),
                         out.end.eq(step & last_lane & layer_end),
                         out.h.eq(h), out.fp.eq(fp), out.layer.eq(layer + 1), out.i.eq(index),
                         *([out.channel.eq(channel), out.first.eq((place == 0) | (layer >= len(cfg.convs))),
                            out.last.eq(window_end)] if self.pooling else []),
                         out.fptr.eq(fptr)]
            with m.If(out.end):  # the layer's last output leaves now
                m.d.sync += self.written.eq(self.written + 1)
        with m.If(step):
            m.d.sync += lane.eq(lane + 1)
            with m.If(~output_layer):
                m.d.sync += fptr.eq(fptr + 1)
            with m.If(last_lane):
                m.d.sync += [busy.eq(0), *([primed.eq(0)] if balanced else [])]
                with m.If(walk.is_last(layer, group)):
                    m.d.sync += [group.eq(0), layer.eq(layer + 1)]
                    if cfg.convs:  # a convolution's next position, or the next layer
                        with m.If(~last_position):
                            m.d.sync += [layer.eq(layer), position.eq(position + 1),
                                         obase.eq(obase + walk.channels[layer])]
                            if self.pooling:  # the next pooled output after a window's last position only
                                m.d.sync += place.eq(Mux(window_end, 0, place + 1))
                                with m.If(~window_end):
                                    m.d.sync += obase.eq(obase)
                        with m.Else():
                            m.d.sync += [position.eq(0), obase.eq(0)]
                            if self.pooling:
                                m.d.sync += place.eq(0)
                with m.Else():
                    m.d.sync += group.eq(group + 1)
        self._shift(m, sums, head, primed, busy=busy, step=step, leaves=leaves)
        if balanced:
            self._argmax_registered(m, out.score & leaves, out.h)
        else:
            self._argmax(m, out.score & leaves, out.h)
        with m.If(self.clear):
            m.d.sync += [layer.eq(0), group.eq(0), fptr.eq(0), self.written.eq(0)]
            if cfg.convs:
                m.d.sync += [position.eq(0), obase.eq(0)]
            if self.pooling:
                m.d.sync += place.eq(0)
        return m

    def _shift(self, m, sums, head, primed, *, busy, step, leaves):
        """The sums move towards lane 0 as each lane leaves (``step``); with the balanced pipeline they also load
        and prime ``head`` under the same enable."""
        if self._config.pipeline != "balanced":
            with m.If(step):  # one enable (load or step) for Yosys
                m.d.sync += [a.eq(b) for a, b in zip(sums, sums[1:])]
            return
        with m.If(busy & ~primed):
            m.d.sync += primed.eq(1)
        # one enable for loading, priming and stepping, from registers and the output stage: idle, the sums load
        # whatever the MAC array offers (nothing reads them until a group is taken), so no valid is in it
        with m.If(~busy | ~primed | leaves):
            m.d.sync += [head.eq(resolve_sum(sums[0])), *[a.eq(Mux(busy, b, new)) for a, b, new in
                                                          zip(sums, sums[1:] + sums[-1:], self.i.payload.a)]]

    def _argmax(self, m, take, y):
        """``prediction``: the index of the first maximum of the scores taken, in class order."""
        cfg = self._config
        best, index = Signal(signed(cfg.act.width)), Signal(range(cfg.n_classes + 1))
        with m.If(take):
            with m.If((index == 0) | (y > best)):  # the first maximum wins
                m.d.sync += [best.eq(y), self.prediction.eq(index)]
            m.d.sync += index.eq(index + 1)
        with m.If(self.clear):
            m.d.sync += index.eq(0)

    def _argmax_registered(self, m, take, y):
        """:meth:`_argmax` two cycles later (:attr:`prediction_delay`), with no carry chain in front of an enable.

        Each score is compared from a register of its own (sign bit flipped, so that their order as unsigned numbers
        is one carry chain) with the score before it and with the best but for that score; both answers are
        registered, and the next cycle the previous score's outcome picks one. The best is then right whether or not
        the scores come on consecutive cycles: after a gap, the best already holds the previous score's outcome, and
        if that score won, it and the best are equal."""
        width = self._config.act.width
        best, index, first = Signal(width), Signal(range(self._config.n_classes + 1)), Signal(init=1)
        taken, score, prev = Signal(), Signal(width), Signal(width)          # stage 1: the score, compared
        compared, above_prev, above_best, won = Signal(), Signal(), Signal(), Signal()  # stage 2: decided
        m.d.sync += [taken.eq(take), compared.eq(taken), above_prev.eq(score > prev), above_best.eq(score > best)]
        with m.If(take):
            m.d.sync += score.eq(y.as_unsigned() ^ (1 << (width - 1)))
        with m.If(taken):
            m.d.sync += prev.eq(score)
        wins = first | Mux(won, above_prev, above_best)  # the first maximum wins
        with m.If(compared):
            m.d.sync += [won.eq(wins), index.eq(index + 1), first.eq(0)]
            with m.If(wins):
                m.d.sync += [best.eq(prev), self.prediction.eq(index)]
        with m.If(self.clear):
            m.d.sync += [index.eq(0), first.eq(1)]
