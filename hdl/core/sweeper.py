"""The sweeper: a layer's weight addresses and inputs, one element a cycle, for the forward pass or the update.

A sweep of layer ``l`` walks its neuron groups in order; per group it walks the layer
input's list (:mod:`hdl.core.input_lists`) and then the bias input (1.0), and sends each
element with its weight address (:mod:`hdl.layout`) to the MAC array (forward) or, with
the group's P deltas, to the update unit (update) or, in a backpropagating core, to the
backward unit (a backward sweep: the update's walk over the same old weights, before the
update, for ``W^T d``).
"""

from types import SimpleNamespace

from amaranth import Module, Signal
from amaranth.hdl import Array, C, Mux, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from ..arith import lut_product
from ..errors import require_config
from .input_lists import list_read_signature
from .window_walker import WindowWalker
from ..layout import GroupWalk, WeightLayout

__all__ = ["Sweeper", "delta_group_signature", "max_macs_step", "sweep_layout"]


def sweep_layout(config: Config) -> data.StructLayout:
    """What starts a sweep: the layer, and whether it is an update (else a forward pass); in a
    backpropagating core, whether the update-ordered walk is a backward sweep."""
    fields = {"layer": range(config.n_layers), "update": 1}
    if config.backprop:
        fields["backward"] = 1
    return data.StructLayout(fields)


def max_macs_step(config: Config) -> int:
    """The most MACs one cycle's ``macs_done`` or ``macs_skipped`` can report: a whole skipped group."""
    return (max(spec.n_in for spec in config.layers) + 1) * config.lanes


def delta_group_signature(config: Config) -> wiring.Signature:
    """The delta provider's side of the hand-over of a group's P deltas to the sweeper.

    ``ready`` says that ``deltas`` hold the next group's (``zero``: all of them 0). The
    sweeper raises ``claim`` for one cycle as it starts that group (or skips it, when
    ``zero``), and ``release`` for one cycle when it has copied ``deltas`` (at the
    group's first element's issue, or at the claim of a skipped group). ``deltas`` must
    hold from ``ready`` to ``release``.
    """
    return wiring.Signature({
        "deltas": Out(data.ArrayLayout(signed(config.error.width), config.lanes)),
        "ready": Out(1), "zero": Out(1),
        "claim": In(1), "release": In(1),
    })


class Sweeper(wiring.Component):
    """Address generation for one layer sweep at a time, through a read and an issue stage.

    A forward sweep runs right behind whoever fills its input list (the loader for layer
    0, the serialiser for the others): it issues the entries stored so far, and the bias
    once the list is ``complete``. An update sweep waits for each group's deltas; with
    zero skipping a group whose deltas are all 0 is skipped whole. The two stages (list
    read, issue register) move together; the forward output follows the MAC array's
    backpressure, the update unit is always ready (on single-port banks, the sweeper sends it an
    element every other cycle: :attr:`Config.update_interval`).

    Parameters
    ----------
    config : Config
    mac_layout, update_layout : StructLayout
        The payloads of :class:`MacArray` ``i`` and :class:`UpdateUnit` ``i``.
    backward_layout : StructLayout or None
        The payload of :class:`hdl.rules.backward_unit.BackwardUnit` ``i`` (backpropagating cores).

    Members
    -------
    start : In(stream.Signature(sweep_layout(config), always_ready=True))
        Start a sweep; only when ``busy`` is low. The start waits a cycle in a register: the
        first list read is 2 cycles after it.
    busy : Out(1)
        A sweep is starting or has elements left to read.
    empty : Out(1)
        Not busy, and the stages are empty: the last element has left.
    lists : Out(list_read_signature(config))
    deltas : In(delta_group_signature(config))
    forward : Out(stream.Signature(mac_layout))
    update : Out(stream.Signature(update_layout, always_ready=True))
    backward : Out(stream.Signature(backward_layout, always_ready=True))
        Backpropagating cores only: a backward sweep's elements, with the group's place
        (``first`` / ``last`` group of the layer) and ``bias`` (the group's last element).
        A backward sweep skips no group, so the first and the last group always come.
    macs_done, macs_skipped : Out(...)
        MACs issued, and MACs a dense schedule would have done but skipped, in a past cycle
        (registered: the counters' carry chains start at a flip-flop).
    forward_macs, update_macs, backward_macs : Out(range(lanes + 1))
        With ``[hardware] cost_counters`` only (``backward_macs`` in backpropagating cores):
        ``macs_done`` by the sweep that issued them.
    """

    #: Cycles from an element's list read to its transfer on ``forward`` / ``update``.
    latency = 2

    def __init__(self, config: Config, *, mac_layout, update_layout, backward_layout=None):
        require_config(self, config)
        if config.backprop != (backward_layout is not None):
            raise ValueError("a backward_layout is needed exactly when the config backpropagates")
        self._config = config
        self._layout = WeightLayout(config)
        lanes = config.lanes
        backward = {"backward": Out(stream.Signature(backward_layout, always_ready=True))} if config.backprop else {}
        super().__init__({
            "start": In(stream.Signature(sweep_layout(config), always_ready=True)),
            "busy": Out(1), "empty": Out(1),
            "lists": Out(list_read_signature(config)),
            "deltas": In(delta_group_signature(config)),
            "forward": Out(stream.Signature(mac_layout)),
            "update": Out(stream.Signature(update_layout, always_ready=True)),
            "macs_done": Out(range(lanes + 1)),
            "macs_skipped": Out(range(self.max_macs_step + 1)),
            **backward,
            **({f"{sweep}_macs": Out(range(lanes + 1)) for sweep in ("forward", "update", *backward)}
               if config.cost_counters else {}),
        })

    @property
    def config(self) -> Config:
        return self._config

    @property
    def max_macs_step(self) -> int:
        """The most MACs one cycle's ``macs_done`` or ``macs_skipped`` can report (:func:`max_macs_step`)."""
        return max_macs_step(self._config)

    def elaborate(self, platform):
        m = Module()
        cfg, lay, lanes = self._config, self._layout, self._config.lanes
        n_layers = cfg.n_layers
        n_in = Array(spec.n_in for spec in cfg.layers)
        walk = GroupWalk(lay)
        x_width = self.forward.payload.x.shape().width

        # the walk: layer, group, position in the layer input's list, the group's weight base (bwd: a backward sweep)
        run, upd, bwd = Signal(name="run"), Signal(name="upd"), Signal(name="bwd")
        layer = Signal(range(n_layers))
        group = Signal(range(walk.max_groups))
        k = Signal(range(max(n_in) + 1), name="k")
        gbase = Signal(lay.addr_width)
        # the read stage: the list entry is read while these wait
        place = {"bwd": 1, "first_group": 1, "last_group": 1} if cfg.backprop else {}
        if cfg.convs:  # a convolution's element: its weight column (the list holds the whole image)
            place.update(conv=1, col=range(max(spec.n_in for spec in cfg.layers)))
        rd = Signal(data.StructLayout({"valid": 1, "upd": 1, "bias": 1, "layer": range(n_layers),
                                       "gbase": lay.addr_width, "lanes": range(lanes + 1), "first": 1, **place}))
        # the issue stage: one register between the list memory and the units (``base``: :attr:`address_registered`)
        is_ = Signal(data.StructLayout({"valid": 1, "upd": 1, "last": 1, "layer": range(n_layers),
                                        "x": signed(x_width), "base": lay.addr_width,
                                        "index": range(max(n_in) + 1), "lanes": range(lanes + 1),
                                        **{key: place[key] for key in ("bwd", "first_group", "last_group")
                                           if key in place}}))
        addr = is_.base if self.address_registered else is_.base + is_.index
        # the deltas the update unit multiplies by: copied from the provider's as the group's
        # first element enters the issue stage (the edge at which the previous group's last
        # element leaves it), so no copy of the deltas travels down the pipeline
        deltas = [Signal(signed(cfg.error.width), name=f"d{p}") for p in range(lanes)]

        update_ready = C(1, 1)
        if cfg.update_interval == 2:  # single-port banks: an update element every other cycle, its write between two reads
            gap = Signal()
            m.d.sync += gap.eq(self.update.valid)
            update_ready = ~gap
        down_ready = Mux(is_.upd, update_ready, self.forward.ready)
        advance = ~is_.valid | down_ready  # every stage moves together
        last_group = walk.is_last(layer, group)
        group_lanes = walk.lanes_of(layer, group)
        # pending: a sweep's first cycle (the start waits there, so no logic of whoever starts it is
        # in front of the walk); group_start is k == 0, kept in a flip-flop; moved: k stayed (0),
        # went up (1), went to 0 (2)
        pending, group_start = Signal(name="pending"), Signal(init=1, name="group_start")
        moved = Signal(2, name="moved")
        have_entry, at_bias = self._list_ahead(m, k, moved)
        m.d.sync += [pending.eq(0), moved.eq(0)]
        list_k, last_position = k, None  # a dense walk's only position is its last
        if cfg.convs:
            win, is_conv, conv_ok, last_position, have_entry, at_bias, list_k = self._windows(
                m, layer, pending, have_entry, at_bias, k, upd)
        if cfg.zero_skipping:  # the provider registers ``zero`` as it finishes: no wide OR here
            skip_group = run & upd & ~bwd & group_start & self.deltas.ready & self.deltas.zero
            if cfg.update_interval == 2:  # the walk may wait (for the gap): skip only as it moves
                skip_group &= advance
        else:
            skip_group = C(0, 1)
        if cfg.convs and cfg.zero_skipping:  # the walker skips the group with it: not while it loads
            skip_group &= ~is_conv | win.can_skip
        # an update sweep's list is complete (the forward pass is over), so it always has an
        # element: saying so keeps the list's state out of the delta hand-over's logic
        can_issue = run & (upd | have_entry | at_bias) & (~upd | ~group_start | self.deltas.ready) & ~skip_group
        if cfg.convs:
            can_issue &= conv_ok
            if cfg.zero_skipping:  # a group of zero deltas waits for the walker to skip it, rather than being issued
                can_issue &= ~(is_conv & upd & group_start & self.deltas.ready & self.deltas.zero & ~win.can_skip)
        end_group = (can_issue & at_bias) | skip_group
        m.d.comb += [self.lists.layer.eq(layer), self.lists.k.eq(list_k), self.lists.en.eq(advance),
                     self.busy.eq(pending | run), self.empty.eq(~pending & ~run & ~rd.valid & ~is_.valid),
                     self.deltas.claim.eq((advance & can_issue & upd & group_start) | skip_group),
                     self.deltas.release.eq((advance & rd.valid & rd.first) | skip_group)]

        with m.If(self.start.valid):
            if cfg.backprop:
                m.d.sync += bwd.eq(self.start.payload.backward)
            m.d.sync += [pending.eq(1), upd.eq(self.start.payload.update), layer.eq(self.start.payload.layer)]
        with m.If(pending):
            m.d.sync += [run.eq(1), group.eq(0), gbase.eq(Array(lay.base(l) for l in range(n_layers))[layer])]

        group_inputs, unlisted = n_in[layer] + 1, n_in[layer] - self.lists.fill
        if cfg.convs:  # a window's elements inside the image (the padding is no MAC a dense schedule does)
            group_inputs, unlisted = Mux(is_conv, win.elements, group_inputs), Mux(is_conv, 0, unlisted)
            m.d.comb += [win.step.eq(advance & can_issue), win.skip.eq(skip_group)]
            rd_conv = [rd.conv.eq(is_conv), rd.col.eq(win.col)]
        self._count_macs(m, advance & end_group, skip_group, group_inputs, unlisted, group_lanes)
        rd_payload = [rd.upd.eq(upd), rd.bias.eq(at_bias), rd.layer.eq(layer), rd.gbase.eq(gbase),
                      rd.lanes.eq(group_lanes), rd.first.eq(upd & group_start)]
        if cfg.backprop:
            rd_payload += [rd.bwd.eq(bwd), rd.first_group.eq(group == 0), rd.last_group.eq(last_group)]
        if cfg.convs:
            rd_payload += rd_conv
        walk_state = SimpleNamespace(run=run, k=k, moved=moved, group_start=group_start, gbase=gbase, group=group,
                                     layer=layer, last_group=last_group, last_position=last_position)
        with m.If(advance):
            self._move(m, walk_state, rd, rd_payload, can_issue, end_group, n_in)

        self._issue_register(m, rd, is_, deltas, advance, n_in)
        self._issue(m, is_, addr, deltas, update_ready, down_ready)
        return m

    def _move(self, m, w, rd, rd_payload, can_issue, end_group, n_in):
        """The walk and the read stage move (the sweeper's ``advance``): the element into the read stage, the walk to
        the next element, group, position (a convolution's), or its end. ``w``: the walk's registers."""
        cfg, lay = self._config, self._layout
        m.d.sync += rd.valid.eq(can_issue)
        if cfg.pipeline != "compact":
            # the payload loads on every move (it only counts with rd.valid): the issue decision, a long path
            # from the list's state and the delta hand-over, enables only rd.valid, k and the walk's registers
            # (on the iCE40, "compact", this takes more logic cells)
            m.d.sync += rd_payload
        with m.If(can_issue):
            if cfg.pipeline == "compact":
                m.d.sync += rd_payload
            m.d.sync += [w.k.eq(w.k + 1), w.moved.eq(1), w.group_start.eq(0)]
        with m.If(end_group):
            m.d.sync += [w.k.eq(0), w.moved.eq(2), w.group_start.eq(1), w.gbase.eq(w.gbase + n_in[w.layer] + 1)]
            with m.If(w.last_group):
                m.d.sync += w.run.eq(0)
                if cfg.convs:  # a convolution's next position: its channel groups again
                    with m.If(~w.last_position):
                        m.d.sync += [w.run.eq(1), w.group.eq(0),
                                     w.gbase.eq(Array(lay.base(l) for l in range(cfg.n_layers))[w.layer])]
            with m.Else():
                m.d.sync += w.group.eq(w.group + 1)

    def _windows(self, m, layer, pending, have_entry, at_bias, k, upd):
        """A convolution sweep's walk (:class:`WindowWalker`): it starts with the sweep, and gives the elements,
        the bias and the last position. A forward walk reads its input list by address, each element once its
        writer (the loader, the serialiser) has stored it; an update walk leaves :attr:`conv_gap` cycles after each group, so that no
        weight is read again before the previous position's write of it has landed.
        Returns the walker, ``is_conv``, ``conv_ok`` (the walk may issue), ``last_position``, ``have_entry``,
        ``at_bias`` and the list address."""
        cfg = self._config
        m.submodules.windows = win = WindowWalker(cfg)
        is_conv, complete, fill = Signal(), Signal(), Signal.like(self.lists.fill)
        convs = len(cfg.convs)
        m.d.comb += [win.start.eq(self.start.valid & (self.start.payload.layer < convs)), win.layer.eq(layer)]
        with m.If(self.start.valid):
            m.d.sync += is_conv.eq(self.start.payload.layer < convs)
        m.d.sync += [complete.eq(self.lists.complete), fill.eq(self.lists.fill)]
        # a convolution's forward walk runs behind its list's writer (the loader, whose list has a memory and a write
        # port of its own, or the serialiser): an element once its input is stored (fill, a cycle late)
        chase = win.bias | (win.addr < fill)
        conv_ok = ~is_conv | (win.ready & ~pending & (upd | complete | chase))
        if self.conv_gap:
            gap = Signal(range(self.conv_gap + 1))
            with m.If(gap != 0):
                m.d.sync += gap.eq(gap - 1)
            with m.If(is_conv & upd & win.step & win.bias):
                m.d.sync += gap.eq(self.conv_gap)
            conv_ok &= gap == 0
        return (win, is_conv, conv_ok, ~is_conv | win.last_position, Mux(is_conv, ~win.bias, have_entry),
                Mux(is_conv, win.bias, at_bias), Mux(is_conv, win.addr, k))

    @property
    def address_registered(self) -> bool:
        """Whether the issue stage holds the weight address (added as the element enters it, so the address's
        fan-out to every bank starts at a flip-flop), else the group's base (added after it, so the list memory's
        output goes straight into the register). Measured with ``trifactor synth``, 3 seeds: on the UP5K (compact
        pipeline) the registered address gave 44.3 MHz against 43.5; on the ECP5-85F (digits32, fast pipeline) the
        list memory's output into the adder became the critical path (a DP16KD's clock-to-output is 5.8 ns of the
        9 ns cycle), 104.6 MHz against 112.5."""
        return self._config.pipeline != "fast"

    @property
    def conv_gap(self) -> int:
        """Idle cycles after each group of a convolution's update walk. The next position's group updates the same
        weights again, at least 2 elements later (a window has an element inside the image, then the bias);
        :class:`hdl.core.update_unit.UpdateUnit` takes an address again 2 transfers on with the ``"compact"``
        pipeline, 3 with ``"fast"`` (its old weights are read at the transfer). Measured with ``trifactor check`` on
        1x1 convolutions of one input channel (every group 2 elements): compact with no gap, and fast with none,
        match golden; the fast pipeline keeps the documented cycle."""
        return 0 if self._config.pipeline != "fast" else 1

    def _list_ahead(self, m, k, moved):
        """Whether the layer input's list has entry ``k`` stored, and whether the bias input (1.0) is next,
        from registers.

        The list's fill and complete are taken a cycle late (both only grow during a sweep, so a
        late value is safe: the walk waits a cycle more when it is right behind the list's writer)
        and compared ahead with every k the walk can move to (``moved``: k stayed, went up, went to
        0). k is 0 between sweeps, and a sweep's first cycle takes the new layer's values.
        Returns ``have_entry`` and ``at_bias``.
        """
        ahead = Signal(data.StructLayout({"stay": 1, "up": 1, "zero": 1, "complete": 1}))
        m.d.sync += [ahead.stay.eq(k < self.lists.fill), ahead.up.eq(k + 1 < self.lists.fill),
                     ahead.zero.eq(self.lists.fill != 0), ahead.complete.eq(self.lists.complete)]
        have_entry = Mux(moved[1], ahead.zero, Mux(moved[0], ahead.up, ahead.stay))
        at_bias = ~have_entry & ahead.complete  # the bias input (1.0) comes last, once the list is complete
        return have_entry, at_bias

    def _issue_register(self, m, rd, is_, deltas, advance, n_in):
        """The issue stage's register: the read stage's element with its input from the list (or the bias
        input, 1.0), and, as a group's first element enters it, the group's deltas."""
        cfg = self._config
        x_one = Array(spec.x.one for spec in cfg.layers)
        entry = self.lists.data
        column = Mux(rd.conv, rd.col, entry.i) if cfg.convs else entry.i  # a convolution's: the window's column
        with m.If(advance):
            index = Mux(rd.bias, n_in[rd.layer], column)
            m.d.sync += [is_.valid.eq(rd.valid), is_.upd.eq(rd.upd), is_.last.eq(rd.bias), is_.layer.eq(rd.layer),
                         is_.x.eq(Mux(rd.bias, x_one[rd.layer], entry.x)),
                         is_.base.eq(rd.gbase + index if self.address_registered else rd.gbase),
                         is_.index.eq(index), is_.lanes.eq(rd.lanes)]
            if cfg.backprop:
                m.d.sync += [is_.bwd.eq(rd.bwd), is_.first_group.eq(rd.first_group), is_.last_group.eq(rd.last_group)]
            with m.If(rd.valid & rd.first):
                m.d.sync += [d.eq(pd) for d, pd in zip(deltas, self.deltas.deltas)]

    def _issue(self, m, is_, addr, deltas, update_ready, down_ready):
        """The issue stage's element to the MAC array, the update unit or the backward unit, and its MACs."""
        cfg, lanes = self._config, self._config.lanes
        m.d.comb += [
            self.forward.valid.eq(is_.valid & ~is_.upd), self.forward.payload.x.eq(is_.x),
            self.forward.payload.addr.eq(addr), self.forward.payload.layer.eq(is_.layer),
            self.forward.payload.last.eq(is_.last),
            self.update.valid.eq(is_.valid & is_.upd & (~is_.bwd if cfg.backprop else 1) & update_ready),
            self.update.payload.x.eq(is_.x),
            self.update.payload.addr.eq(addr), self.update.payload.layer.eq(is_.layer),
            *[self.update.payload.d[p].eq(deltas[p]) for p in range(lanes)],
        ]
        if cfg.backprop:
            out = self.backward.payload
            m.d.comb += [self.backward.valid.eq(is_.valid & is_.bwd), out.addr.eq(addr), out.index.eq(is_.index),
                         out.layer.eq(is_.layer), out.first.eq(is_.first_group), out.last.eq(is_.last_group),
                         out.bias.eq(is_.last), *[out.d[p].eq(deltas[p]) for p in range(lanes)]]
        m.d.sync += self.macs_done.eq(0)
        with m.If(is_.valid & down_ready & (~(is_.bwd & is_.last) if cfg.backprop else 1)):
            m.d.sync += self.macs_done.eq(is_.lanes)  # a backward sweep's bias element does no MAC
        if cfg.cost_counters:
            m.d.sync += [self.forward_macs.eq(Mux(self.forward.valid & self.forward.ready, is_.lanes, 0)),
                         self.update_macs.eq(Mux(self.update.valid, is_.lanes, 0))]
            if cfg.backprop:
                m.d.sync += self.backward_macs.eq(Mux(self.backward.valid & ~is_.last, is_.lanes, 0))

    def _count_macs(self, m, at_end, skip_group, group_inputs, unlisted, group_lanes):
        """MACs a dense schedule would have done at a group's end: its unlisted (zero) inputs, or the whole group.

        They wait in registers (no control path into the multiplier) and leave on ``macs_skipped``.
        """
        n_in = max(spec.n_in for spec in self._config.layers)
        inputs, lanes = Signal(range(n_in + 2)), Signal(range(self._config.lanes + 1))
        # balanced: lanes counts only with inputs, which is 0 but after a group's end, so it loads every cycle
        # (no enable from the walk's decision)
        every = self._config.pipeline == "balanced"
        m.d.sync += [inputs.eq(0), self.macs_skipped.eq(lut_product(inputs, lanes)), *([lanes.eq(group_lanes)] * every)]
        with m.If(at_end):
            m.d.sync += [inputs.eq(Mux(skip_group, group_inputs, unlisted)), *([lanes.eq(group_lanes)] * (not every))]
