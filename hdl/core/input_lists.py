"""Every layer's input of the sample in flight, as a list of ``(index, value)`` entries.

The forward pass and the update both sweep a layer's input; with zero skipping only its
non-zero elements are stored, so a sweep walks a shorter list and skips the zeros'
MACs for free.
"""

from amaranth import Module, Signal
from amaranth.hdl import Array, Mux, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config
from trifactor.golden.fixedpoint import Overflow

from ..errors import require_config

__all__ = ["InputLists", "entry_layout", "list_read_signature", "store_layout"]


def entry_layout(config: Config) -> data.StructLayout:
    """One list entry: the element's index in the layer input, and its value (the widest layer input's width)."""
    index_width = max(1, (max(config.sizes[:-1]) - 1).bit_length())  # a dense layer's n_in, a conv layer's image
    return data.StructLayout({"i": unsigned(index_width), "x": signed(max(spec.x.width for spec in config.layers))})


def store_layout(config: Config) -> data.StructLayout:
    """A hidden layer's output stored as the next layer's input: its ``layer`` (the one it is an input of), index and value."""
    entry = entry_layout(config)
    return data.StructLayout({"layer": unsigned(max(1, config.n_layers.bit_length())),
                              "i": entry["i"].shape, "x": signed(config.act.width)})


def list_read_signature(config: Config) -> wiring.Signature:
    """A reader's side: ``layer`` and position ``k`` out (read when ``en``), the entry one cycle later, and the list's state now.

    ``fill`` counts the entries stored so far in ``layer``'s list; ``complete`` says that no
    more will come this sample.
    """
    n_in = max(config.sizes[:-1])  # the longest list: a dense layer's n_in, a convolution's input image
    return wiring.Signature({
        "layer": Out(range(config.n_layers)), "k": Out(range(n_in + 1)), "en": Out(1),
        "data": In(entry_layout(config)), "fill": In(range(n_in + 1)), "complete": In(1),
    })


class InputLists(wiring.Component):
    """The activation memory: layer ``l``'s input list at ``base[l]``, filled by the loader and the serialiser.

    Layer 0's list comes from ``load`` (the sample's inputs, in order), every other layer's
    from ``store`` (the previous layer's outputs). With ``[hardware] zero_skipping`` a zero
    is not stored. A reader sweeps a list while it fills: ``fill`` tells it how far it may
    read, ``complete`` when the list is final (layer 0: every input loaded; layer ``l``:
    ``written >= l``, the serialiser's count of finished layers).

    Parameters
    ----------
    config : Config

    Members
    -------
    clear : In(1)
        A new sample: every list empty (at this edge).
    load : In(stream.Signature(signed(input.width), always_ready=True))
        The sample's inputs in order. One a cycle.
    load_last : Out(1)
        The next input loaded is the sample's last.
    store : In(stream.Signature(store_layout(config), always_ready=True))
        Hidden layer outputs in neuron order. One a cycle.
    written : In(range(n_layers + 1))
        Layers whose outputs are all stored.
    read : In(list_read_signature(config))
        One entry a cycle, ``read_latency`` cycles after its ``k``.
    """

    #: Cycles from a read's ``k`` to its ``data`` (a synchronous read port).
    read_latency = 1

    def __init__(self, config: Config):
        require_config(self, config)
        self._config = config
        sizes = config.sizes
        #: where layer ``l``'s list starts in the memory
        self.base = [sum(sizes[:l]) for l in range(config.n_layers)]
        self.depth = sum(sizes[:-1])
        if self.split:  # layer 0's list in its own memory: the hidden lists from 0 in this one
            self.base = [0] + [sum(sizes[1:l]) for l in range(1, config.n_layers)]
            self.depth = max(1, sum(sizes[1:-1]))
        super().__init__({
            "clear": In(1),
            "load": In(stream.Signature(signed(config.input.width), always_ready=True)),
            "load_last": Out(1),
            "store": In(stream.Signature(store_layout(config), always_ready=True)),
            "written": In(range(config.n_layers + 1)),
            "read": In(list_read_signature(config)),
        })

    @property
    def config(self) -> Config:
        return self._config

    @property
    def split(self) -> bool:
        """Whether layer 0's list has a memory of its own: when layer 0 is a convolution, whose walk reads its
        input while the loader still writes it, and whose outputs go to the next list in the same cycles."""
        return self._config.layers[0].conv is not None

    def elaborate(self, platform):
        m = Module()
        cfg, sizes = self._config, self._config.sizes
        # no_rw_check: a read of an entry being written is never used (a reader reads only
        # entries below ``fill``)
        m.submodules.memory = memory = Memory(shape=entry_layout(cfg), depth=self.depth, init=[],
                                              attrs={"no_rw_check": 1})
        rd, wr = memory.read_port(), memory.write_port()
        fill = Array(Signal(range(sizes[l] + 1), name=f"fill{l}") for l in range(cfg.n_layers))
        loaded = Signal(range(sizes[0] + 1))
        base = Array(self.base)
        data_out = rd.data
        if self.split:  # layer 0's list in a memory of its own, with its own write port (the loader's)
            m.submodules.inputs = inputs = Memory(shape=entry_layout(cfg), depth=sizes[0], init=[],
                                                  attrs={"no_rw_check": 1})
            rd0, self._wr0 = inputs.read_port(), inputs.write_port()
            from_inputs = Signal()
            m.d.comb += [rd0.addr.eq(self.read.k), rd0.en.eq(self.read.en)]
            with m.If(self.read.en):
                m.d.sync += from_inputs.eq(self.read.layer == 0)
            data_out = Mux(from_inputs, rd0.data, rd.data)
        m.d.comb += [rd.addr.eq(base[self.read.layer] + self.read.k), rd.en.eq(self.read.en),
                     self.read.data.eq(data_out), self.read.fill.eq(fill[self.read.layer]),
                     self.read.complete.eq(Mux(self.read.layer == 0, loaded == sizes[0], self.written >= self.read.layer)),
                     self.load_last.eq(loaded == sizes[0] - 1)]

        # a backward sweep walks a hidden list to find the neurons that need a delta: with
        # saturating ReLU those are exactly the non-zero outputs (h = 0 where f' = 0); with
        # hard-tanh (h = 0 has f' = 1) or wrap-around (a large output can wrap to 0) not, so
        # such a backpropagating core keeps its hidden zeros
        exact = cfg.activation == "relu" and cfg.overflow is Overflow.SATURATE
        hidden_skips = cfg.zero_skipping and (exact or not cfg.backprop)

        # a convolution's input is read by address (its windows): kept whole, zeros too
        conv_input = Array(int(spec.conv is not None) for spec in cfg.layers)

        def append(fill, base, index, value, skips=cfg.zero_skipping, port=wr):
            if isinstance(skips, bool):
                keep = (value != 0) if skips else 1
            else:  # decided per layer
                keep = (value != 0) | ~skips
            m.d.comb += [port.addr.eq(base + fill), port.data.i.eq(index), port.data.x.eq(value), port.en.eq(keep)]
            with m.If(keep):
                m.d.sync += fill.eq(fill + 1)

        with m.If(self.load.valid):  # the input format's bits, sign-extended into the entry
            append(fill[0], base[0], loaded, self.load.payload, cfg.zero_skipping and cfg.layers[0].conv is None,
                   self._wr0 if self.split else wr)
            m.d.sync += loaded.eq(loaded + 1)
        if cfg.n_layers > 1:
            # a store goes to a hidden list (layer >= 1), never layer 0's: indexed from 1, so no logic of the
            # serialiser's output reaches the loader's count (in a two-layer network, one count and no multiplexer)
            hidden = (self.store.payload.layer - 1)[:max(1, (cfg.n_layers - 2).bit_length())]
            skips = ~conv_input[self.store.payload.layer] if cfg.convs and hidden_skips else hidden_skips
            with m.If(self.store.valid):
                append(Array(fill[1:])[hidden], Array(self.base[1:])[hidden], self.store.payload.i,
                       self.store.payload.x, skips)
        with m.If(self.clear):
            m.d.sync += [loaded.eq(0), *[f.eq(0) for f in fill]]
        return m
