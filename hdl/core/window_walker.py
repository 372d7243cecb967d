"""The window walker: a convolution layer's window elements, one a cycle, for the sweeper.

A convolution sweep (:mod:`golden.config.conv`) walks the layer's output positions in walk order, at each
position its channel groups, and for each group the window's elements inside the image (the padding is not
walked: its products are 0) and then the bias. An element is the address of its input in the layer's input list
(stored whole, in HWC order) and the weight column it multiplies, both going up by one along a window row (``kx``
and ``c`` are contiguous in both) and jumping by constants between rows. So the walker needs, per position, only
where the window starts and how many rows and elements a row it has inside the image: a small ROM of
*descriptors*, golden's :meth:`~golden.config.conv.ConvSpec.windows` summarised, one definition for both.
"""

import numpy as np
from amaranth import Module, Signal
from amaranth.hdl import Array, Mux
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from ..errors import require_config

__all__ = ["WindowWalker", "descriptors"]


def descriptors(spec) -> list:
    """Per position (walk order): ``(address, column, rows, row_length)`` of the window's part inside the image:
    its first element's input address and weight column, its rows, and the elements of each row (``kx`` and
    ``c`` together)."""
    conv = spec.conv
    k, c = conv.kernel, conv.in_shape[2]
    out = []
    for window in conv.windows().reshape(conv.positions, k, k * c):
        inside = window >= 0
        rows = np.flatnonzero(inside.any(axis=1))
        cols = np.flatnonzero(inside.any(axis=0))
        first = (rows[0], cols[0])
        out.append((int(window[first]), int(first[0] * k * c + first[1]), len(rows), len(cols)))
    return out


class WindowWalker(wiring.Component):
    """Walks a convolution layer's positions, channel groups and window elements (module docstring).

    Parameters
    ----------
    config : Config
        With convolution layers.

    Members
    -------
    start : In(1)
        Start a sweep of conv layer ``layer`` (held with it): position 0, group 0. The first element is there
        (``ready``) 2 cycles later (the descriptor ROM's read, then the registers).
    layer : In(range(n_layers))
    ready : Out(1)
        ``addr``, ``col`` and ``bias`` are the current element's.
    step : In(1)
        The current element is taken (the walker moves to the next).
    skip : In(1)
        At a group's first element: the whole group is skipped (the walker moves to the next group). Only when
        ``can_skip``.
    can_skip : Out(1)
        ``ready``, and the next position's descriptor is out of the ROM: not in the cycle after the walk moved to a
        new position (its read takes a cycle), so two position changes are never back to back.
    addr : Out(range(inputs))
        The element's place in the layer's input list.
    col : Out(range(fan_in))
        Its weight column.
    bias : Out(1)
        The element is the group's last, the bias (``addr`` and ``col`` are then meaningless).
    last_position : Out(1)
        The walk is at the layer's last position.
    elements : Out(range(fan_in + 2))
        The current position's elements per group, the bias included (what a skipped group would have issued).
    """

    def __init__(self, config: Config):
        require_config(self, config)
        if not config.convs:
            raise ValueError("a window walker needs convolution layers")
        self._config = config
        self._convs = [spec for spec in config.layers if spec.conv]
        self._table = [d for spec in self._convs for d in descriptors(spec)]
        self.table_base = [sum(spec.positions for spec in self._convs[:index]) for index in range(len(self._convs))]
        inputs = max(config.sizes[:-1])
        fan_in = max(spec.n_in for spec in self._convs)
        self._descriptor = data.StructLayout({"addr": range(inputs), "col": range(fan_in),
                                              "rows": range(max(s.conv.kernel for s in self._convs) + 1),
                                              "length": range(fan_in + 1)})
        super().__init__({
            "start": In(1), "layer": In(range(config.n_layers)), "ready": Out(1), "step": In(1), "skip": In(1),
            "can_skip": Out(1),
            "addr": Out(range(inputs)), "col": Out(range(fan_in)), "bias": Out(1), "last_position": Out(1),
            "elements": Out(range(fan_in + 2)),
        })

    @property
    def config(self) -> Config:
        return self._config

    def elaborate(self, platform):
        m = Module()
        convs, lay = self._convs, self._descriptor
        init = [{"addr": a, "col": c, "rows": r, "length": n} for s in convs for a, c, r, n in descriptors(s)]
        m.submodules.table = table = Memory(shape=lay, depth=len(init), init=init)
        rd = table.read_port()

        def per_layer(values):  # a constant of each conv layer, by the (conv) layer index
            return Array(values)[self.layer]

        base = per_layer(self.table_base)
        positions = per_layer([s.positions for s in convs])
        row_addr_step = per_layer([s.conv.in_shape[1] * s.conv.in_shape[2] for s in convs])  # W * C
        row_col_step = per_layer([s.n_in // s.conv.kernel for s in convs])                   # kernel * C
        cgroups = per_layer([-(-s.n_out // self._config.lanes) for s in convs])

        position = Signal(range(max(s.positions for s in convs) + 1))
        group = Signal(range(max(-(-s.n_out // self._config.lanes) for s in convs) + 1))
        cur = Signal(lay)                                       # this position's descriptor
        addr, col, row_addr, row_col = (Signal(self.addr.shape()), Signal(self.col.shape()),
                                        Signal(self.addr.shape()), Signal(self.col.shape()))
        rows_left, in_row = Signal(lay["rows"].shape), Signal(lay["length"].shape)
        bias, loading, moved = Signal(), Signal(2), Signal()  # moved: the position changed at the last edge

        # the ROM reads the next position's descriptor (position 0's in the first cycle of loading, position 1's in
        # the second: it is out when the first position is entered)
        m.d.comb += [rd.addr.eq(base + Mux(loading == 2, 0, position + 1)), rd.en.eq(1),
                     self.ready.eq(loading == 0), self.can_skip.eq((loading == 0) & ~moved), self.addr.eq(addr), self.col.eq(col), self.bias.eq(bias),
                     self.last_position.eq(position == positions - 1),
                     self.elements.eq(cur.rows * cur.length + 1)]

        def enter(d):
            """The first element of a group whose position's descriptor is ``d``."""
            return [addr.eq(d.addr), col.eq(d.col), row_addr.eq(d.addr), row_col.eq(d.col),
                    rows_left.eq(d.rows), in_row.eq(d.length), bias.eq(0)]

        group_end = (self.step & bias) | self.skip
        m.d.sync += moved.eq(0)
        with m.If(self.start):
            m.d.sync += [loading.eq(2), position.eq(0), group.eq(0)]
        with m.Elif(loading == 2):
            m.d.sync += loading.eq(1)
        with m.Elif(loading == 1):  # position 0's descriptor is out of the ROM
            m.d.sync += [loading.eq(0), cur.eq(rd.data), *enter(rd.data)]
        with m.Elif(group_end):
            with m.If(group == cgroups - 1):
                m.d.sync += [group.eq(0), position.eq(position + 1), cur.eq(rd.data), *enter(rd.data), moved.eq(1)]
            with m.Else():
                m.d.sync += [group.eq(group + 1), *enter(cur)]
        with m.Elif(self.step):
            with m.If(in_row > 1):
                m.d.sync += [addr.eq(addr + 1), col.eq(col + 1), in_row.eq(in_row - 1)]
            with m.Elif(rows_left > 1):
                m.d.sync += [addr.eq(row_addr + row_addr_step), col.eq(row_col + row_col_step),
                             row_addr.eq(row_addr + row_addr_step), row_col.eq(row_col + row_col_step),
                             rows_left.eq(rows_left - 1), in_row.eq(cur.length)]
            with m.Else():
                m.d.sync += bias.eq(1)
        return m
