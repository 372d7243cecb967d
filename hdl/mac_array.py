"""Forward MAC array: P lanes, one broadcast input element per cycle, one weight bank read per lane.

Implements :func:`golden.fixed_model.forward_layer` for every layer of a configuration,
``P`` neurons at a time.
"""

from amaranth import Module, Signal
from amaranth.hdl import Mux, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import ReadPort
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from .arith import narrow, shift_right
from .layout import WeightLayout

__all__ = ["MacArray"]


class MacArray(wiring.Component):
    """P multiply-accumulate lanes sharing one input element and one address per cycle.

    Each transfer on ``i`` carries one input element ``x`` (sign-extended to the widest
    layer input), the weight address (the same in every bank, see :mod:`hdl.layout`),
    the layer index, and ``last`` on the final element of a neuron group (the bias input
    1.0). After a ``last``, ``o`` carries the group's ``P`` activations and ``f'`` flags;
    the next group starts on the next cycle, so the array sustains ``P`` MACs per cycle.

    Pipeline (each stage advances only when ``o`` is empty or being taken, so
    backpressure on ``o`` stalls everything and loses nothing):
    read weights | multiply (DSP) | accumulate | round | activate, narrow -> ``o``.

    Parameters
    ----------
    config : Config

    Members
    -------
    i : In(stream.Signature(cmd_layout))
    o : Out(stream.Signature(result_layout))
    weights : In(ReadPort.Signature(...)).array(lanes)
        One synchronous read port per lane bank (connect ``memory.read_port()``).
    """

    def __init__(self, config: Config):
        if not isinstance(config, Config):
            self._MustUse__silence = True  # see hdl.errors.reject
            raise TypeError(f"config must be a Config, not {config!r}")
        self._config = config
        self._layout = WeightLayout(config)
        x_width = max(spec.x.width for spec in config.layers)
        self.cmd_layout = data.StructLayout({
            "x": signed(x_width),
            "addr": unsigned(self._layout.addr_width),
            "layer": unsigned(max(1, (config.n_layers - 1).bit_length())),
            "last": 1,
        })
        self.result_layout = data.StructLayout({
            "h": data.ArrayLayout(signed(config.act.width), config.lanes),
            "fprime": data.ArrayLayout(1, config.lanes),
        })
        port = ReadPort.Signature(addr_width=self._layout.addr_width, shape=signed(config.weight.width))
        super().__init__({
            "i": In(stream.Signature(self.cmd_layout)),
            "o": Out(stream.Signature(self.result_layout)),
            "weights": In(port).array(config.lanes),
        })

    @property
    def config(self) -> Config:
        return self._config

    @property
    def accumulator_width(self) -> int:
        return max(spec.accumulator_width for spec in self._config.layers)

    def _activate(self, m, a, layer, h, fprime):
        """Drive ``h`` and ``f'`` from ``a`` (the sum already shifted to the activation fraction)."""
        cfg = self._config
        with m.Switch(layer):
            for spec in cfg.layers:
                with m.Case(spec.index):
                    if not spec.hidden:
                        m.d.comb += [h.eq(narrow(a, cfg.act, cfg.overflow)), fprime.eq(1)]
                    elif cfg.activation == "relu":
                        m.d.comb += [h.eq(narrow(Mux(a > 0, a, 0), cfg.act, cfg.overflow)), fprime.eq(a > 0)]
                    else:
                        one = cfg.act.one
                        m.d.comb += [h.eq(Mux(a > one, one, Mux(a < -one, -one, a))),
                                     fprime.eq((a > -one) & (a < one))]

    def elaborate(self, platform):
        m = Module()
        cfg, lanes = self._config, self._config.lanes
        advance = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance)]

        # stage 1: weights are read while x waits in a register
        s1 = Signal(data.StructLayout({"valid": 1, "x": self.cmd_layout["x"].shape, "layer": self.cmd_layout["layer"].shape, "last": 1}))
        for port in self.weights:
            m.d.comb += [port.addr.eq(self.i.payload.addr), port.en.eq(advance)]

        # stage 2: products (registered: the DSP's output register)
        product_width = self.cmd_layout["x"].shape.width + cfg.weight.width
        s2 = Signal(data.StructLayout({"valid": 1, "layer": s1.shape()["layer"].shape, "last": 1}))
        products = [Signal(signed(product_width), name=f"product{p}") for p in range(lanes)]

        # stage 3: accumulators; ``fresh`` after a group's last element starts the next sum at 0
        accs = [Signal(signed(self.accumulator_width), name=f"acc{p}") for p in range(lanes)]
        fresh = Signal(init=1)
        s3 = Signal(data.StructLayout({"valid": 1, "layer": s1.shape()["layer"].shape}))

        with m.If(advance):
            m.d.sync += [s1.valid.eq(self.i.valid), s1.x.eq(self.i.payload.x),
                         s1.layer.eq(self.i.payload.layer), s1.last.eq(self.i.payload.last)]
            m.d.sync += [s2.valid.eq(s1.valid), s2.layer.eq(s1.layer), s2.last.eq(s1.last)]
            m.d.sync += [product.eq(s1.x * port.data) for product, port in zip(products, self.weights)]
            with m.If(s2.valid):
                m.d.sync += [acc.eq(Mux(fresh, 0, acc) + product) for acc, product in zip(accs, products)]
                m.d.sync += fresh.eq(s2.last)
            m.d.sync += [s3.valid.eq(s2.valid & s2.last), s3.layer.eq(s2.layer)]

        # stage 4: the finished sums (held in ``accs`` for exactly this cycle) shifted and rounded;
        # stage 5: activated and narrowed into the output. Two stages keep the carry chains short.
        shifted = [Signal(signed(self.accumulator_width + 1), name=f"shifted{p}") for p in range(lanes)]
        s4 = Signal(data.StructLayout({"valid": 1, "layer": s1.shape()["layer"].shape}))
        h = [Signal(signed(cfg.act.width), name=f"h{p}") for p in range(lanes)]
        fprime = [Signal(name=f"fprime{p}") for p in range(lanes)]
        for p in range(lanes):
            self._activate(m, shifted[p], s4.layer, h[p], fprime[p])
        with m.If(advance):
            m.d.sync += [s4.valid.eq(s3.valid), s4.layer.eq(s3.layer)]
            with m.Switch(s3.layer):
                for spec in cfg.layers:
                    with m.Case(spec.index):
                        m.d.sync += [shifted[p].eq(shift_right(accs[p], spec.forward_shift, cfg.rounding))
                                     for p in range(lanes)]
            m.d.sync += self.o.valid.eq(s4.valid)
            m.d.sync += [self.o.payload.h[p].eq(h[p]) for p in range(lanes)]
            m.d.sync += [self.o.payload.fprime[p].eq(fprime[p]) for p in range(lanes)]
        return m
