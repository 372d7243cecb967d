"""Sparse-ternary feedback error unit: one hidden neuron's delta per cycle, no multiplier.

Implements :func:`golden.fixed_model.feedback_delta` with the tables of
:func:`golden.feedback.feedback_matrices` (the single source of B) stored in a ROM.
"""

from amaranth import Module, Signal
from amaranth.hdl import Array, Mux, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config
from trifactor.golden.feedback import feedback_matrices

from ..arith import narrow, shift_right
from ..errors import reject, require_hardware

__all__ = ["FeedbackUnit"]


class FeedbackUnit(wiring.Component):
    """``d_j = f'_j * narrow((sum_m sign[j, m] * e[index[j, m]]) >> scale_shift)`` for hidden neurons.

    First the ``n_classes`` output errors arrive on ``e`` (in class order) and are held in
    registers. Then each transfer on ``i`` names a ROM row (hidden layer ``l``'s neuron
    ``j`` is row ``row_base(l) + j``) with the neuron's ``f'``, and ``o`` returns its delta
    three cycles later (the errors the ROM row names are registered before the arithmetic);
    one neuron per cycle. The ROM row holds the ``k`` class indices and
    signs; the ``k`` selected errors are added in one adder tree. Rule ``dfa`` (dense
    ternary) is the same unit with ``k = n_classes``.

    Rows ``error_base + c`` return the output error ``e_c`` itself (the output layer's
    delta; their ``fprime`` is ignored): the unit's registers are the only copy of the
    errors the learner core needs.

    Send all of ``e`` before the first hidden neuron of a sample (an error row only needs
    its own error in): the unit does not reorder them.

    Parameters
    ----------
    config : Config
        Must have a hidden layer and ternary feedback.

    Members
    -------
    e : In(stream.Signature(signed(error.width)))
    i : In(stream.Signature(StructLayout({"row": ..., "fprime": 1})))
    o : Out(stream.Signature(signed(error.width)))
    rom_reads : Out(range(k + 1))
        With ``[hardware] cost_counters`` only, a cycle after the event (registered): the
        feedback values (ternary entries of ``B``) read for a transfer on ``i``: ``k`` for a
        hidden neuron's row, 0 for an error row (it passes an output error through).
    hidden_deltas : Out(1)
        Likewise: a hidden neuron's delta (a feedback row's) left on ``o``.
    """

    def __init__(self, config: Config):
        if config.n_layers < 2:
            reject(self, f"sizes {list(config.sizes)} have no hidden layer: there is no feedback to compute")
        require_hardware(self, config)
        self._config = config
        self._tables = feedback_matrices(config)
        self.error_base = sum(fb.index.shape[0] for fb in self._tables)
        self.rows = self.error_base + config.n_classes
        class_width = max(1, (config.n_classes - 1).bit_length())
        k = config.nonzeros_per_row
        self.rom_layout = data.StructLayout({
            "index": data.ArrayLayout(unsigned(class_width), k),
            "negative": data.ArrayLayout(1, k),
            "error": 1,  # an error row: e[index[0]] itself
        })
        self.rom_data = self._rom_contents()
        super().__init__({
            "e": In(stream.Signature(signed(config.error.width))),
            "i": In(stream.Signature(data.StructLayout({"row": unsigned(max(1, (self.rows - 1).bit_length())), "fprime": 1}))),
            "o": Out(stream.Signature(signed(config.error.width))),
            **({"rom_reads": Out(range(config.nonzeros_per_row + 1)), "hidden_deltas": Out(1)}
               if config.cost_counters else {}),
        })

    @property
    def latency(self) -> int:
        """Cycles from a neuron's transfer on ``i`` to its delta on ``o`` (3): the ROM read, the chosen errors' register, the delta's."""
        return 3

    def row_base(self, hidden_layer: int) -> int:
        return sum(fb.index.shape[0] for fb in self._tables[:hidden_layer])

    def _rom_contents(self):
        rows = []
        for fb in self._tables:
            for index, sign in zip(fb.index.tolist(), fb.sign.tolist()):
                rows.append({"index": index, "negative": [int(s < 0) for s in sign], "error": 0})
        k = self._config.nonzeros_per_row
        for c in range(self._config.n_classes):
            rows.append({"index": [c] * k, "negative": [0] * k, "error": 1})
        return rows

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        # "compact": in a block RAM (as logic it is a multiplexer over every row, too many iCE40
        # cells); "fast": in logic, whose registered output is quick (the ECP5 block RAM's takes 5.6 ns)
        style = "logic" if cfg.pipeline == "fast" else "block"
        m.submodules.rom = rom = Memory(shape=self.rom_layout, depth=self.rows, init=self.rom_data,
                                        attrs={"rom_style": style, "ram_style": style})
        read = rom.read_port()

        # the output errors, loaded in class order
        errors = Array(Signal(signed(cfg.error.width), name=f"e{c}") for c in range(cfg.n_classes))
        loaded = Signal(range(cfg.n_classes))
        m.d.comb += self.e.ready.eq(1)
        with m.If(self.e.valid):
            m.d.sync += errors[loaded].eq(self.e.payload)
            m.d.sync += loaded.eq(Mux(loaded == cfg.n_classes - 1, 0, loaded + 1))

        advance = Signal()
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance),
                     read.addr.eq(self.i.payload.row), read.en.eq(advance)]
        s1_valid, s1_fprime = Signal(), Signal()
        # the errors the ROM row names are chosen from its output and registered, with its
        # signs, before the negations and the adder tree: one path from the ROM's output
        # register (a block RAM's: slow, and far from the logic) through the error
        # multiplexers, another through the arithmetic. A delta leaves one cycle later.
        k = cfg.nonzeros_per_row
        rom_row = self.rom_layout(read.data)
        row = Signal(data.StructLayout({"e": data.ArrayLayout(signed(cfg.error.width), k),
                                        "negative": data.ArrayLayout(1, k), "error": 1}), reset_less=True)
        s2_valid, s2_fprime = Signal(), Signal()
        with m.If(advance):
            m.d.sync += [row.negative.eq(rom_row.negative), row.error.eq(rom_row.error),
                         *[row.e[m_].eq(errors[rom_row.index[m_]]) for m_ in range(k)],
                         s2_valid.eq(s1_valid), s2_fprime.eq(s1_fprime)]
        terms = [Mux(row.negative[m_], -row.e[m_], row.e[m_]) for m_ in range(k)]
        total = sum(terms[1:], terms[0])
        delta = narrow(shift_right(total, cfg.scale_shift, cfg.rounding), cfg.error, cfg.overflow)
        with m.If(advance):
            m.d.sync += [s1_valid.eq(self.i.valid), s1_fprime.eq(self.i.payload.fprime)]
            m.d.sync += [self.o.valid.eq(s2_valid), self.o.payload.eq(Mux(row.error, terms[0], Mux(s2_fprime, delta, 0)))]
        if cfg.cost_counters:
            o_hidden = Signal()  # o holds a feedback row's delta
            with m.If(advance):
                m.d.sync += o_hidden.eq(s2_valid & ~row.error)
            feedback_row = self.i.valid & self.i.ready & (self.i.payload.row < self.error_base)
            m.d.sync += [self.rom_reads.eq(Mux(feedback_row, cfg.nonzeros_per_row, 0)),
                         self.hidden_deltas.eq(self.o.valid & self.o.ready & o_hidden)]
        return m
