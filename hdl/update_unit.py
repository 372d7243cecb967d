"""Synapse update unit: the three-scalar rule as a read-modify-write on every lane's weight bank.

Implements :func:`golden.fixed_model.update_layer`, ``P`` weights per cycle.
"""

from amaranth import Module, Signal
from amaranth.hdl import signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import ReadPort, WritePort
from amaranth.lib.wiring import In

from trifactor.golden.config import Config

from .arith import narrow, shift_right
from .layout import WeightLayout

__all__ = ["UpdateUnit"]


class UpdateUnit(wiring.Component):
    """``W[addr] <- narrow(W[addr] - shift_right(d_p * x, update_shift, update_rounding))`` in every lane ``p``.

    Each transfer on ``i`` carries one input element ``x`` (the layer input that the
    forward pass used; 1.0 for the bias), the ``P`` deltas of the neuron group being
    updated (``f'`` already applied; 0 for lanes past the layer's last neuron), the
    weight address and the layer. ``d * x`` is the product of the three scalars: ``d``
    already holds ``f'(a) * (B e)``. Always ready: one read and one write per lane and
    cycle (a simple dual-port RAM).

    Pipeline: read | multiply | round, subtract, narrow, write. An address must not be
    sent again within 3 cycles (a read would miss the pending write); an update pass
    visits every address once, so it never is.

    Members
    -------
    i : In(stream.Signature(cmd_layout))
    read : In(ReadPort.Signature(...)).array(lanes)
    write : In(WritePort.Signature(...)).array(lanes)
    """

    def __init__(self, config: Config):
        if not isinstance(config, Config):
            self._MustUse__silence = True  # see hdl.errors.reject
            raise TypeError(f"config must be a Config, not {config!r}")
        self._config = config
        layout = WeightLayout(config)
        self.cmd_layout = data.StructLayout({
            "x": signed(max(spec.x.width for spec in config.layers)),
            "d": data.ArrayLayout(signed(config.error.width), config.lanes),
            "addr": unsigned(layout.addr_width),
            "layer": unsigned(max(1, (config.n_layers - 1).bit_length())),
        })
        shape = signed(config.weight.width)
        super().__init__({
            "i": In(stream.Signature(self.cmd_layout)),
            "read": In(ReadPort.Signature(addr_width=layout.addr_width, shape=shape)).array(config.lanes),
            "write": In(WritePort.Signature(addr_width=layout.addr_width, shape=shape)).array(config.lanes),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, lanes = self._config, self._config.lanes
        m.d.comb += self.i.ready.eq(1)
        for port in self.read:
            m.d.comb += [port.addr.eq(self.i.payload.addr), port.en.eq(1)]

        # stage 1: the old weights are read; the command waits beside them
        s1 = Signal(data.StructLayout({"valid": 1, **{k: self.cmd_layout[k].shape for k in ("x", "d", "addr", "layer")}}))
        m.d.sync += [s1.valid.eq(self.i.valid), s1.x.eq(self.i.payload.x), s1.d.eq(self.i.payload.d),
                     s1.addr.eq(self.i.payload.addr), s1.layer.eq(self.i.payload.layer)]

        # stage 2: products d * x and the old weights, registered
        product_width = self.cmd_layout["x"].shape.width + cfg.error.width
        s2 = Signal(data.StructLayout({"valid": 1, "addr": self.cmd_layout["addr"].shape, "layer": self.cmd_layout["layer"].shape}))
        products = [Signal(signed(product_width), name=f"product{p}") for p in range(lanes)]
        old = [Signal(signed(cfg.weight.width), name=f"old{p}") for p in range(lanes)]
        m.d.sync += [s2.valid.eq(s1.valid), s2.addr.eq(s1.addr), s2.layer.eq(s1.layer)]
        m.d.sync += [product.eq(s1.d[p] * s1.x) for p, product in enumerate(products)]
        m.d.sync += [o.eq(port.data) for o, port in zip(old, self.read)]

        # stage 3: the step with the layer's shift, subtracted, narrowed, written
        for p, port in enumerate(self.write):
            new = Signal(signed(cfg.weight.width), name=f"new{p}")
            with m.Switch(s2.layer):
                for spec in cfg.layers:
                    with m.Case(spec.index):
                        step = shift_right(products[p], spec.update_shift, cfg.update_rounding)
                        m.d.comb += new.eq(narrow(old[p] - step, cfg.weight, cfg.overflow))
            m.d.comb += [port.addr.eq(s2.addr), port.data.eq(new), port.en.eq(s2.valid)]
        return m
