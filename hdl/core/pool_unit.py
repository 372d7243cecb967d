"""The pool unit: a convolution's max pooling, between the serialiser and the input lists.

A pooled convolution walks its positions pooling window by pooling window (:mod:`golden.config.conv`'s walk
order), so a window's ``pool x pool`` positions come one after the other, each with every channel. The unit keeps
one running maximum per channel, and stores a channel's maximum as the window's last position passes
(:meth:`golden.config.conv.ConvSpec.pool_output`). Any other output (a dense layer's, an unpooled convolution's)
passes straight through.
"""

from amaranth import Module, Signal
from amaranth.hdl import Array, Mux
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from ..errors import require_config
from .input_lists import store_layout

__all__ = ["PoolUnit", "pooled_store_layout"]


def pooled_store_layout(config: Config) -> data.StructLayout:
    """A hidden output on its way to the pool unit: :func:`store_layout`'s fields (``i`` already the pooled output's
    index), its ``channel``, and whether its position is its pooling window's ``first`` / ``last`` (both for an
    output that is not pooled)."""
    channels = max(spec.n_out for spec in config.layers)
    return data.StructLayout({**{name: field.shape for name, field in store_layout(config)}, "channel": range(channels),
                              "first": 1, "last": 1})


class PoolUnit(wiring.Component):
    """Max pooling over a window's positions, one output a cycle, no latency (the store's ``written`` count stays
    with the serialiser's).

    Parameters
    ----------
    config : Config
        With a pooled convolution layer.

    Members
    -------
    i : In(stream.Signature(pooled_store_layout(config), always_ready=True))
    o : Out(stream.Signature(store_layout(config), always_ready=True))
        A window's maximum as its last position passes; an unpooled output as it comes.
    """

    def __init__(self, config: Config):
        require_config(self, config)
        if not any(conv.pool > 1 for conv in config.convs):
            raise ValueError("a pool unit needs a pooled convolution layer")
        self._config = config
        super().__init__({
            "i": In(stream.Signature(pooled_store_layout(config), always_ready=True)),
            "o": Out(stream.Signature(store_layout(config), always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        channels = max(conv.channels for conv in self._config.convs if conv.pool > 1)
        i = self.i.payload
        best = Array(Signal(i.x.shape(), name=f"max{c}") for c in range(channels))
        so_far = Mux(i.first, i.x, Mux(best[i.channel] > i.x, best[i.channel], i.x))  # the first maximum
        m.d.comb += [self.o.valid.eq(self.i.valid & i.last), self.o.payload.layer.eq(i.layer),
                     self.o.payload.i.eq(i.i), self.o.payload.x.eq(so_far)]
        with m.If(self.i.valid & ~i.last):
            m.d.sync += best[i.channel].eq(so_far)
        return m
