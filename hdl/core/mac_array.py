"""Forward MAC array: P lanes, one broadcast input element per cycle, one weight bank read per lane.

Implements :func:`golden.fixed_model.forward_layer` for every layer of a configuration,
``P`` neurons at a time.
"""

from amaranth import Module, ResetSignal, Signal
from amaranth.hdl import Mux, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import ReadPort
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config
from trifactor.golden.fixedpoint import Rounding

from ..arith import clamp, narrow, round_constant, shift_right
from ..errors import require_config
from ..lanes import LaneMultipliers, align_input, input_frac, input_width, lane_multipliers, require_mode
from ..layout import WeightLayout

__all__ = ["MacArray", "activate"]


def activate(config: Config, a, hidden):
    """``(h, f')`` from ``a`` (a sum at the activation fraction, :attr:`MacArray.result_width` bits);
    ``hidden`` is 0 on the output layer (``h = narrow(a)``, ``f' = 1``).

    :func:`golden.fixed_model.activate`. One narrowing serves the hidden and the output
    layers: ReLU's ``narrow(max(a, 0))`` is ``narrow(a)`` or 0.
    """
    if config.activation == "relu":
        positive = ~a[-1] & a.any()
        return Mux(hidden & ~positive, 0, narrow(a, config.act, config.overflow)), ~hidden | positive
    one = config.act.one
    return (Mux(hidden, clamp(a, -one, one), narrow(a, config.act, config.overflow)),
            ~hidden | ((a > -one) & (a < one)))


class MacArray(wiring.Component):
    """P multiply-accumulate lanes sharing one input element and one address per cycle.

    Each transfer on ``i`` carries one input element ``x`` (sign-extended to the widest
    layer input), the weight address (the same in every bank, see :mod:`hdl.layout`),
    the layer index, and ``last`` on the final element of a neuron group (the bias input
    1.0). After a ``last``, ``o`` carries the group's ``P`` activations and ``f'`` flags;
    the next group starts on the next cycle, so the array sustains ``P`` MACs per cycle.

    Pipeline (each stage advances only when ``o`` is empty or being taken, so
    backpressure on ``o`` stalls everything and loses nothing):
    read weights | register the operands | multiply (the DSP's two registers) | accumulate.
    After a group's last element, ``o`` carries each lane's sum at the activation fraction,
    ``a`` (not yet activated or narrowed), straight from the accumulators' adders (3 cycles
    from the ``last`` transfer to ``o``): its taker registers it (the serialiser's shift
    register) and applies :func:`activate` after that register, to one lane a cycle. So no
    path runs from the product through the accumulator's adder into the saturation, and
    the P activations are one. The input is aligned to one fraction for every layer
    (:mod:`hdl.lanes.lane_multipliers`) and every sum starts at the round constant
    (:func:`hdl.arith.round_constant`), so the rounding shift is the same slice for every
    layer and needs no adder.

    Parameters
    ----------
    config : Config
    multipliers : "internal" or "external"
        The array's own :class:`LaneMultipliers`, or the ``mul`` port to connect to a
        shared set.

    Members
    -------
    i : In(stream.Signature(cmd_layout))
    o : Out(stream.Signature(result_layout))
    weights : In(ReadPort.Signature(...)).array(lanes)
        One synchronous read port per lane bank (connect ``memory.read_port()``).
    mul : Out(LaneMultipliers.port_signature(config))
        With ``multipliers="external"`` only.
    weight_reads : Out(range(lanes + 1))
        With ``[hardware] cost_counters`` only: the bank words read for an element a cycle
        ago (every lane's, past the layer's last neuron too); registered.
    """

    def __init__(self, config: Config, *, multipliers: str = "internal"):
        require_config(self, config)
        require_mode(self, multipliers)
        self._config = config
        self._multipliers = multipliers
        self._layout = WeightLayout(config)
        x_width = max(spec.x.width for spec in config.layers)
        self.cmd_layout = data.StructLayout({
            "x": signed(x_width),
            "addr": unsigned(self._layout.addr_width),
            "layer": unsigned(max(1, (config.n_layers - 1).bit_length())),
            "last": 1,
        })
        self.result_layout = data.StructLayout({"a": data.ArrayLayout(signed(self.result_width), config.lanes)})
        port = ReadPort.Signature(addr_width=self._layout.addr_width, shape=signed(config.weight.width))
        members = {
            "i": In(stream.Signature(self.cmd_layout)),
            "o": Out(stream.Signature(self.result_layout)),
            "weights": In(port).array(config.lanes),
        }
        if multipliers == "external":
            members["mul"] = Out(LaneMultipliers.port_signature(config))
        if config.cost_counters:
            members["weight_reads"] = Out(range(config.lanes + 1))
        super().__init__(members)

    @property
    def config(self) -> Config:
        return self._config

    @property
    def latency(self) -> int:
        """Cycles from a group's ``last`` transfer on ``i`` to its sums on ``o`` (3)."""
        return 1 + LaneMultipliers.latency

    @property
    def result_width(self) -> int:
        """Bits of a sum ``a`` on ``o``: the accumulator's above the rounding shift."""
        return self.accumulator_width - self.shift

    @property
    def shift(self) -> int:
        """The rounding shift of every layer: inputs are aligned to one fraction (:mod:`hdl.lanes.lane_multipliers`)."""
        return input_frac(self._config) + self._config.weight.frac - self._config.act.frac

    @property
    def round_constant(self) -> int:
        return round_constant(self.shift, self._config.rounding)

    @property
    def accumulator_width(self) -> int:
        """Wide enough for any layer's sum at the common fraction plus the round constant (the sum starts there)."""
        cfg = self._config
        # the largest sum is terms * x.min * w.min, as in golden.config.accumulator_width
        return max((((spec.n_in + 1) << (spec.x.width + cfg.weight.width - 2 + input_frac(cfg) - spec.x.frac))
                    + self.round_constant).bit_length() + 1 for spec in cfg.layers)

    def elaborate(self, platform):
        m = Module()
        cfg, lanes = self._config, self._config.lanes
        advance = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance)]

        # stage 1: weights are read while x, aligned to the common fraction, waits in a register
        s1 = Signal(data.StructLayout({"valid": 1, "x": signed(input_width(cfg)), "last": 1}))
        for port in self.weights:
            m.d.comb += [port.addr.eq(self.i.payload.addr), port.en.eq(advance)]
        if cfg.cost_counters:  # the ports read every cycle they advance; these reads carry an element
            m.d.sync += self.weight_reads.eq(Mux(self.i.valid & advance, lanes, 0))

        # stages 2 and 3: operands, then products (the lane multipliers' registers; the values
        # fit x * w's width)
        mul = lane_multipliers(m, cfg, self._multipliers, getattr(self, "mul", None))
        m.d.comb += [mul.x.eq(s1.x), mul.en.eq(advance)]
        m.d.comb += [mul.b[p].eq(port.data) for p, port in enumerate(self.weights)]
        products = [mul.product[p][:input_width(cfg) + cfg.weight.width].as_signed() for p in range(lanes)]
        s2 = Signal(data.StructLayout({"valid": 1, "last": 1}))
        s3 = Signal(s2.shape())

        # stage 4: accumulators; a group's sums leave on ``o`` from the adders as its last
        # product comes. Each group's sum starts at the round constant, so the rounding shift
        # is a slice; the restart (as the sums are taken, or on reset) is one condition that
        # synthesis makes the flip-flops' synchronous reset/set: a mux in front of the adder
        # would cost a LUT per bit, a second reset condition beside the domain's a LUT per bit
        # after it.
        accs = [Signal(signed(self.accumulator_width), init=self.round_constant, reset_less=True, name=f"acc{p}")
                for p in range(lanes)]
        finishing = s3.valid & s3.last
        m.d.comb += [self.o.valid.eq(finishing),
                     *[self.o.payload.a[p].eq(shift_right(acc + product, self.shift, Rounding.TRUNCATE))
                       for p, (acc, product) in enumerate(zip(accs, products))]]
        with m.If(advance):
            m.d.sync += [s1.valid.eq(self.i.valid), s1.x.eq(align_input(cfg, self.i.payload.x, self.i.payload.layer)),
                         s1.last.eq(self.i.payload.last)]
            m.d.sync += [s2.valid.eq(s1.valid), s2.last.eq(s1.last), s3.eq(s2)]
            with m.If(s3.valid):
                m.d.sync += [acc.eq(acc + product) for acc, product in zip(accs, products)]
        with m.If(ResetSignal(allow_reset_less=True) | (advance & finishing)):
            m.d.sync += [acc.eq(self.round_constant) for acc in accs]
        return m
