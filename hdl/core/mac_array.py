"""Forward MAC array: P lanes, one broadcast input element per cycle, one weight bank read per lane.

Implements :func:`golden.fixed_model.forward_layer` for every layer of a configuration,
``P`` neurons at a time.
"""

from amaranth import Cat, Module, ResetSignal, Signal
from amaranth.hdl import Mux, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import ReadPort
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config
from trifactor.golden.fixedpoint import Rounding

from ..arith import clamp, narrow, round_constant, shift_right
from ..errors import require_config
from ..lanes import LaneMultipliers, align_input, input_frac, input_width, lane_multipliers, require_mode
from ..layout import WeightLayout

__all__ = ["MacArray", "activate", "resolve_sum"]


def resolve_sum(a):
    """A lane's sum (:attr:`MacArray.result_width` bits, signed) from its :attr:`MacArray.sum_layout` form: with
    split accumulators, the carry out of the lower half added to the upper half; else the sum itself."""
    if not isinstance(a, data.View):
        return a
    high = Value.cast(a.high)
    return Cat(a.low, (high + a.carry)[:len(high)]).as_signed()


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
    the P activations are one. With ``[hardware] pipeline = "balanced"`` each accumulator is
    two adders of about half its width (:attr:`split`), the carry out of the lower one added
    to the upper one a cycle later, so no carry chain is the accumulator's width long; ``a``
    leaves in that form (:attr:`sum_layout`: the carry of the last element not yet added),
    and its taker adds it after its register (:func:`resolve_sum`). The input is aligned to one fraction for every layer
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
        self.result_layout = data.StructLayout({"a": data.ArrayLayout(self.sum_layout, config.lanes)})
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
    def split(self) -> int:
        """Bits of an accumulator's lower half: with ``[hardware] pipeline = "balanced"`` at least the rounding
        shift and about half the width, else all of it (one adder). Measured with ``trifactor synth`` on the default
        digits core (36 bits, split 18): the whole 36-bit chain from a lane's product into the serialiser was a
        critical path at 44.3 MHz (22.6 ns)."""
        width = self.accumulator_width
        return min(max(self.shift, 1, width // 2), width - 1) if self._config.pipeline == "balanced" else width

    @property
    def sum_layout(self):
        """A lane's sum on ``o``: ``signed(result_width)``; with split accumulators its bits above the rounding
        shift in the lower half, the upper half, and the carry out of the lower half not yet added to the upper
        one (:func:`resolve_sum` adds it)."""
        if self.split == self.accumulator_width:
            return signed(self.result_width)
        return data.StructLayout({"low": unsigned(self.split - self.shift),
                                  "high": signed(self.accumulator_width - self.split), "carry": 1})

    def sum_value(self, fields) -> int:
        """:func:`resolve_sum` on the host: a sum's integer value from what ``o`` carried for it."""
        if isinstance(fields, int):
            return fields
        high_width = self.accumulator_width - self.split
        high = (fields["high"] + fields["carry"]) % (1 << high_width)
        return ((high - (high >> (high_width - 1) << high_width)) << (self.split - self.shift)) | fields["low"]

    def sum_fields(self, value: int, carry: int = 0):
        """The inverse of :meth:`sum_value`: what ``o`` carries for a sum ``value`` (with split accumulators, one
        whose lower half carried ``carry``)."""
        if self.split == self.accumulator_width:
            return value
        low_width, high_width = self.split - self.shift, self.accumulator_width - self.split
        high = ((value >> low_width) - carry) % (1 << high_width)
        return {"low": value & ((1 << low_width) - 1), "high": high - (high >> (high_width - 1) << high_width),
                "carry": carry}

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
        finishing = s3.valid & s3.last
        if self.split == self.accumulator_width:
            accs = [Signal(signed(self.accumulator_width), init=self.round_constant, reset_less=True, name=f"acc{p}")
                    for p in range(lanes)]
            sums = [shift_right(acc + product, self.shift, Rounding.TRUNCATE) for acc, product in zip(accs, products)]
            keep = [acc.eq(acc + product) for acc, product in zip(accs, products)]
            restart = [acc.eq(self.round_constant) for acc in accs]
        else:
            sums, keep, restart = self._split_accumulators(m, products)
        m.d.comb += [self.o.valid.eq(finishing), *[self.o.payload.a[p].eq(a) for p, a in enumerate(sums)]]
        with m.If(advance):
            m.d.sync += [s1.valid.eq(self.i.valid), s1.x.eq(align_input(cfg, self.i.payload.x, self.i.payload.layer)),
                         s1.last.eq(self.i.payload.last)]
            m.d.sync += [s2.valid.eq(s1.valid), s2.last.eq(s1.last), s3.eq(s2)]
            with m.If(s3.valid):
                m.d.sync += keep
        with m.If(ResetSignal(allow_reset_less=True) | (advance & finishing)):
            m.d.sync += restart
        return m

    def _split_accumulators(self, m, products):
        """Each lane's accumulator as two adders (:attr:`split`): the lower half's carry out waits in a register and
        goes into the upper half with the next product (as the carry in of its chain: a bit below both operands).
        Returns the sums for ``o`` (:attr:`sum_layout`), the accumulate and the restart statements."""
        split, high_width, lanes = self.split, self.accumulator_width - self.split, self._config.lanes
        low_init, high_init = self.round_constant & ((1 << split) - 1), self.round_constant >> split
        lows = [Signal(split, init=low_init, reset_less=True, name=f"acc{p}_low") for p in range(lanes)]
        highs = [Signal(signed(high_width), init=high_init, reset_less=True, name=f"acc{p}_high") for p in range(lanes)]
        carries = [Signal(reset_less=True, name=f"acc{p}_carry") for p in range(lanes)]
        low_sums = [Signal(split + 1, name=f"low_sum{p}") for p in range(lanes)]
        high_sums = [Signal(signed(high_width), name=f"high_sum{p}") for p in range(lanes)]
        for p, product in enumerate(products):
            wide = Signal(signed(self.accumulator_width), name=f"product{p}")  # sign-extended: both halves' bits
            m.d.comb += [wide.eq(product), low_sums[p].eq(lows[p] + wide[:split]),
                         high_sums[p].eq((Cat(carries[p], highs[p]).as_signed()
                                          + Cat(carries[p], wide[split:]).as_signed())[1:])]
        sums = [Cat(low_sum[self.shift:split], high_sum, low_sum[split]) for low_sum, high_sum in zip(low_sums, high_sums)]
        keep = [statement for p in range(lanes) for statement in
                (lows[p].eq(low_sums[p][:split]), carries[p].eq(low_sums[p][split]), highs[p].eq(high_sums[p]))]
        restart = [*[low.eq(low_init) for low in lows], *[high.eq(high_init) for high in highs],
                   *[carry.eq(0) for carry in carries]]
        return sums, keep, restart
