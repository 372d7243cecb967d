"""The backward unit: backpropagation's ``W^T d`` on the lanes, as a sweep over the old weights.

Implements the sums of :func:`golden.fixed_model.backprop_delta`: a backward sweep of layer
``l`` (:mod:`hdl.core.sweeper`) walks layer ``l``'s weights in the update's order (neuron groups,
then the layer input's list), before the update changes them. At input ``i`` of group ``g``
every lane ``p`` multiplies its weight ``W[gP+p, i]`` by its neuron's delta ``d[gP+p]``
(the lane multipliers in their transposed mode), an adder tree sums the P products, and the
sum is added to ``sum_i`` in the accumulator memory (the first group writes it). At the
last group the finished ``sum_i`` leaves on ``o`` as the delta
``narrow(shift_right(sum_i, weight.frac, rounding))`` of layer ``l - 1``'s neuron ``i``,
before ``f'`` (the error path applies ``f'`` when it answers a request).

The walk skips the inputs that are 0 in the list (zero skipping): those neurons' ``sum_i``
keeps an older value, and their ``f'`` is 0 (a ReLU's output is 0 exactly when ``f'`` is;
a backpropagating hard-tanh core keeps zeros in its hidden lists, :mod:`hdl.core.input_lists`).
"""

from amaranth import Module, Signal
from amaranth.hdl import Mux, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory, ReadPort
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config, accumulator_width

from ..arith import narrow, shift_right
from ..errors import require_config
from ..lanes import LaneMultipliers
from ..layout import WeightLayout

__all__ = ["BackwardUnit", "adder_tree"]


def adder_tree(m: Module, values, levels_per_stage: int = 2):
    """The sum of ``values``: pairwise adders, a register after every ``levels_per_stage`` levels and at the end.

    Returns ``(sum, stages)``: the registered sum and its latency in cycles (at least 1).
    """
    level, stages = list(values), 0
    while True:
        for _ in range(levels_per_stage):
            if len(level) == 1:
                break
            level = [a + b for a, b in zip(level[0::2], level[1::2])] + level[len(level) & ~1:]
        registered = [Signal(signed(max(len(v) for v in level)), name=f"tree{stages}_{n}", reset_less=True)
                      for n in range(len(level))]
        for reg, value in zip(registered, level):
            m.d.sync += reg.eq(value)
        level, stages = registered, stages + 1
        if len(level) == 1:
            return level[0], stages


class BackwardUnit(wiring.Component):
    """``sum_i = sum_j W[j, i] d_j`` over a backward sweep; the finished deltas on ``o``.

    Pipeline (each a cycle): the transfer reads the weights | into the multipliers with the
    group's deltas | the products | the adder tree (:attr:`tree_stages`) | add to ``sum_i``
    (read from the accumulator memory a cycle before), write it | ``o``. An input comes
    again only a group later, after the list's other elements and the bias, at least 2
    cycles: by then its sum is written (no forwarding needed). The bias elements make no
    sum; the last group's bias raises ``done`` at ``o``'s stage, after the layer's last delta.

    Parameters
    ----------
    config : Config
        A backpropagating configuration.
    tree_levels_per_stage : int
        Adder levels between registers in the lane sum.

    Members
    -------
    i : In(stream.Signature(cmd_layout, always_ready=True))
        The sweeper's ``backward`` elements.
    read : In(ReadPort.Signature(...)).array(lanes)
        The banks (read at the transfer).
    mul : Out(LaneMultipliers.port_signature(config))
    o : Out(stream.Signature(out_layout, always_ready=True))
        ``(layer, index, delta)``: layer ``layer``'s input ``index``'s delta, before ``f'``.
    done : Out(1)
        One cycle, as the sweep's last element leaves: every delta of the sweep is on ``o`` or past it.
    weight_reads : Out(range(lanes + 1))
        With ``[hardware] cost_counters`` only: the bank words read for an element a cycle
        ago (every lane's, the bias element's too); registered.
    """

    def __init__(self, config: Config, *, tree_levels_per_stage: int = 2):
        require_config(self, config)
        if not config.backprop:
            raise ValueError(f"rule {config.rule!r} does not backpropagate: a core for it has no backward unit")
        self._config = config
        self._levels = tree_levels_per_stage
        layout = WeightLayout(config)
        n_in = max(spec.n_in for spec in config.layers[1:])
        self.cmd_layout = data.StructLayout({
            "addr": unsigned(layout.addr_width), "index": range(n_in + 1),
            "d": data.ArrayLayout(signed(config.error.width), config.lanes),
            "layer": range(config.n_layers), "first": 1, "last": 1, "bias": 1,
        })
        self.out_layout = data.StructLayout({"layer": range(config.n_layers), "index": range(n_in + 1),
                                             "delta": signed(config.error.width)})
        #: bits of ``sum_i``: any sum of ``n_out`` products of a weight and a delta
        self.sum_width = max(accumulator_width(config.weight, config.error, spec.n_out) for spec in config.layers[1:])
        #: inputs of the widest layer above the first (the accumulator memory's depth)
        self.depth = n_in
        shape = signed(config.weight.width)
        super().__init__({
            "i": In(stream.Signature(self.cmd_layout, always_ready=True)),
            "read": In(ReadPort.Signature(addr_width=layout.addr_width, shape=shape)).array(config.lanes),
            "mul": Out(LaneMultipliers.port_signature(config)),
            "o": Out(stream.Signature(self.out_layout, always_ready=True)),
            "done": Out(1),
            **({"weight_reads": Out(range(config.lanes + 1))} if config.cost_counters else {}),
        })

    @property
    def tree_stages(self) -> int:
        """Registered stages of the adder tree over the P lanes."""
        levels = max(1, (self._config.lanes - 1).bit_length())
        return max(1, -(-levels // self._levels))

    @property
    def latency(self) -> int:
        """Cycles from a transfer on ``i`` to its delta on ``o``."""
        return 1 + LaneMultipliers.latency + self.tree_stages + 1

    @property
    def owns_multipliers(self) -> int:
        """Cycles after the sweep's last transfer during which the multipliers still work for it."""
        return 1 + LaneMultipliers.latency

    def elaborate(self, platform):
        m = Module()
        cfg, lanes = self._config, self._config.lanes
        mul = self.mul
        # the command's place travels beside its data (the deltas only to the multipliers);
        # stage[k] is the element k cycles after its transfer
        place = data.StructLayout({"valid": 1, "index": self.cmd_layout["index"].shape,
                                   "layer": self.cmd_layout["layer"].shape, "first": 1, "last": 1, "bias": 1})
        stage = [Signal(place, name="s0")]
        m.d.comb += stage[0].valid.eq(self.i.valid)
        m.d.comb += [getattr(stage[0], name).eq(getattr(self.i.payload, name))
                     for name in ("index", "layer", "first", "last", "bias")]
        for k in range(1, self.latency + 1):
            stage.append(Signal(place, name=f"s{k}"))
            m.d.sync += stage[k].eq(stage[k - 1])
        deltas = Signal(self.cmd_layout["d"].shape, reset_less=True)
        m.d.sync += deltas.eq(self.i.payload.d)

        # 0: read the weights; 1: weights and the group's deltas into the multipliers
        m.d.comb += [port.addr.eq(self.i.payload.addr) for port in self.read]
        m.d.comb += [port.en.eq(1) for port in self.read]
        if cfg.cost_counters:  # the ports read every cycle; these reads carry an element
            m.d.sync += self.weight_reads.eq(Mux(self.i.valid, lanes, 0))
        m.d.comb += [mul.transposed.eq(1), mul.en.eq(1)]
        m.d.comb += [mul.w[p].eq(self.read[p].data) for p in range(lanes)]
        m.d.comb += [mul.b[p].eq(deltas[p]) for p in range(lanes)]
        # 3: the products; their sum over the lanes after the tree's stages
        width = cfg.weight.width + cfg.error.width
        products = [mul.product[p][:width].as_signed() for p in range(lanes)]
        total, _ = adder_tree(m, products, self._levels)
        add = stage[self.latency - 1]  # the stage that adds the tree's sum to sum_i

        m.submodules.sums = sums = Memory(shape=signed(self.sum_width), depth=max(1, self.depth), init=[],
                                          attrs={"no_rw_check": 1})
        rd, wr = sums.read_port(), sums.write_port()
        before = stage[self.latency - 2]
        m.d.comb += [rd.addr.eq(before.index), rd.en.eq(1)]
        new = Signal(signed(self.sum_width))
        m.d.comb += new.eq(Mux(add.first, 0, rd.data) + total)  # the first group starts the sum
        m.d.comb += [wr.addr.eq(add.index), wr.data.eq(new), wr.en.eq(add.valid & ~add.bias)]
        # the last group's sums, registered, then shifted and narrowed on the way out
        finished = Signal(signed(self.sum_width), reset_less=True)
        m.d.sync += finished.eq(new)
        out = stage[self.latency]
        m.d.comb += [
            self.o.valid.eq(out.valid & out.last & ~out.bias),
            self.o.payload.layer.eq(out.layer), self.o.payload.index.eq(out.index),
            self.o.payload.delta.eq(narrow(shift_right(finished, cfg.weight.frac, cfg.rounding), cfg.error,
                                           cfg.overflow)),
            self.done.eq(out.valid & out.last & out.bias),
        ]
        return m
