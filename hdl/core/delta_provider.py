"""The delta provider: the next neuron group's P deltas, prepared while the sweeper updates the current one."""

from amaranth import Module, Signal
from amaranth.hdl import C, Cat, Mux, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from ..rules import request_layout
from ..errors import require_config
from ..layout import GroupWalk, WeightLayout, sweeps_backward
from .sweeper import delta_group_signature

__all__ = ["DeltaProvider"]


class DeltaProvider(wiring.Component):
    """Asks the error path for every neuron's delta, a group at a time, in the update's order.

    The order is the sweeper's: last layer first, groups in order; on a backpropagation
    sample (``backprop``) twice for every layer but the first (its backward sweep, then its
    update: :func:`hdl.layout.sweeps_backward`). Per group it requests
    the group's neurons from the error path (one a cycle) and shifts the P deltas into
    its ``deltas`` registers from the top lane down, then zeros for the lanes past the
    layer; then it raises ``ready`` (with ``zero`` when all are 0) and waits until the
    sweeper has claimed and released them (:func:`hdl.core.sweeper.delta_group_signature`).

    Parameters
    ----------
    config : Config

    Members
    -------
    start : In(1)
        Start with the output layer's first group (the output errors must be in the error path).
    group : Out(delta_group_signature(config))
    request : Out(stream.Signature(request_layout(config)))
        Neurons whose deltas the error path is to return, in order.
    delta : In(stream.Signature(signed(error.width), always_ready=True))
        Their deltas, in request order.
    backprop : In(1)
        Backpropagating cores: this sample takes the BP path.
    """

    def __init__(self, config: Config):
        require_config(self, config)
        self._config = config
        super().__init__({
            "start": In(1),
            "group": Out(delta_group_signature(config)),
            "request": Out(stream.Signature(request_layout(config))),
            "delta": In(stream.Signature(signed(config.error.width), always_ready=True)),
            **({"backprop": In(1)} if config.backprop else {}),
        })

    @property
    def config(self) -> Config:
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg, lanes = self._config, self._config.lanes
        walk = GroupWalk(WeightLayout(cfg))
        pending = [Signal(signed(cfg.error.width), name=f"pending{p}") for p in range(lanes)]
        ready, claimed = Signal(), Signal()  # pending holds the next group's deltas / the sweeper copies them
        run, busy = Signal(), Signal()        # groups left to prepare / preparing one now
        layer = Signal(range(cfg.n_layers))
        group = Signal(range(walk.max_groups))
        shifts = Signal(range(lanes + 1))      # shifts of this group still to do
        zeros = Signal(range(lanes + 1))       # the last ones shift in 0
        # both decided a shift ahead, in registers: no comparison between ``shifting`` and its uses
        in_zeros, last = Signal(), Signal()    # this shift is a 0 / the group's last
        group_lanes = walk.lanes_of(layer, group)
        neuron_bits = range(max(cfg.neuron_counts) + 1)
        req, end = Signal(neuron_bits), Signal(neuron_bits)  # neurons still to request
        zero = Signal()  # registered as the group finishes: no wide OR in the sweeper's control
        m.d.comb += [self.group.ready.eq(ready), self.group.zero.eq(zero),
                     *[self.group.deltas[p].eq(pending[p]) for p in range(lanes)]]

        second = Signal()  # the layer's second walk (its update, after its backward sweep)
        first_neuron, layer_end, bottom = group * lanes, walk.is_last(layer, group), cfg.frozen_layers
        if cfg.convs:  # a convolution's groups again at every position; its neurons numbered position by position
            position, nbase = Signal(range(walk.max_positions)), Signal(neuron_bits)
            first_neuron, layer_end = nbase + first_neuron, layer_end & walk.is_last_position(layer, position)
        with m.If(self.start):
            m.d.sync += [run.eq(1), layer.eq(cfg.n_layers - 1), group.eq(0), second.eq(0)]
            if cfg.convs:
                m.d.sync += [position.eq(0), nbase.eq(0)]
        with m.If(run & ~busy & ~ready & ~claimed):
            m.d.sync += [busy.eq(1), shifts.eq(lanes), zeros.eq(lanes - group_lanes),
                         in_zeros.eq(group_lanes == 0), last.eq(int(lanes == 1)),
                         req.eq(first_neuron), end.eq(first_neuron + group_lanes)]
        m.d.comb += [self.request.valid.eq(busy & (req < end)), self.request.payload.layer.eq(layer),
                     self.request.payload.neuron.eq(req)]
        with m.If(self.request.valid & self.request.ready):
            m.d.sync += req.eq(req + 1)

        shift_in, shifting = Signal(signed(cfg.error.width)), Signal()
        with m.If(busy):
            with m.If(in_zeros):
                m.d.comb += shifting.eq(1)
            with m.Else():
                m.d.comb += [shift_in.eq(self.delta.payload), shifting.eq(self.delta.valid)]
        with m.If(shifting):
            m.d.sync += [lane.eq(above) for lane, above in zip(pending, pending[1:] + [shift_in])]
            m.d.sync += [shifts.eq(shifts - 1), in_zeros.eq(shifts - 1 <= zeros), last.eq(shifts == 2)]
            with m.If(last):  # the next group: the sweeper's order
                at_end = layer_end
                again = sweeps_backward(layer, self.backprop) & ~second if cfg.backprop else C(0, 1)
                if cfg.backprop:
                    with m.If(at_end):
                        m.d.sync += second.eq(again)
                m.d.sync += [ready.eq(1), busy.eq(0), group.eq(Mux(at_end, 0, group + 1)),
                             layer.eq(Mux(at_end & ~again, layer - 1, layer)), run.eq(~(at_end & (layer == bottom))),
                             zero.eq(~Cat(*[d != 0 for d in pending[1:] + [shift_in]]).any())]
                if cfg.convs:
                    with m.If(walk.is_last(layer, group) & ~at_end):  # a convolution's next position
                        m.d.sync += [group.eq(0), position.eq(position + 1), nbase.eq(nbase + walk.channels[layer])]
                    with m.If(at_end):
                        m.d.sync += [position.eq(0), nbase.eq(0)]
        with m.If(self.group.claim):
            m.d.sync += [ready.eq(0), claimed.eq(1)]
        with m.If(self.group.release):
            m.d.sync += claimed.eq(0)
        return m
