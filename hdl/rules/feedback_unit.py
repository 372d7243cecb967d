"""Sparse-ternary feedback error unit: one hidden neuron's delta per cycle, no multiplier.

Implements :func:`golden.fixed_model.feedback_delta` with the tables of
:func:`golden.feedback.feedback_matrices` (the single source of B) stored in a ROM.
"""

from amaranth import Module, Signal
from amaranth.hdl import Array, Cat, Const, Mux, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config
from trifactor.golden.conv import LFSR_ROW_STEPS, lfsr_seed_state
from trifactor.golden.feedback import feedback_matrices
from trifactor.golden.lfsr import advance as advance_steps

from ..arith import narrow, shift_right
from ..errors import reject, require_hardware

__all__ = ["FeedbackUnit"]


def _xor(bits):
    out = Const(0, 1)
    for bit in bits:
        out = out ^ bit
    return out


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

    A convolution layer with ``feedback = "lfsr"`` has no rows in the ROM: its rows come from the LFSR of
    :func:`golden.conv.lfsr_rows`, one state register stepped :data:`~golden.conv.LFSR_ROW_STEPS` times (one XOR
    network) for each new row, in the order the layer's neurons are asked for. A transfer on ``i`` then names
    the layer's LFSR (``lfsr``, ``layer``) instead of a row: ``restart`` (the layer's first neuron) starts from
    the layer's seed, ``next_row`` (a neuron whose channel starts a channel group) steps to the next row, and
    the neurons between reuse the row.

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
        #: the convolution layers whose rows come from the LFSR (none of their rows in the ROM)
        self.lfsr_layers = [spec.index for spec in config.layers[:-1] if spec.conv and spec.trained
                            and spec.conv.feedback == "lfsr"]
        self._tables = [fb if layer not in self.lfsr_layers else None
                        for layer, fb in enumerate(feedback_matrices(config))]
        self.error_base = sum(fb.index.shape[0] for fb in self._tables if fb is not None)
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
            "i": In(stream.Signature(data.StructLayout({"row": unsigned(max(1, (self.rows - 1).bit_length())), "fprime": 1,
                                                        **self._lfsr_fields()}))),
            "o": Out(stream.Signature(signed(config.error.width))),
            **({"rom_reads": Out(range(config.nonzeros_per_row + 1)), "hidden_deltas": Out(1)}
               if config.cost_counters else {}),
        })

    @property
    def latency(self) -> int:
        """Cycles from a neuron's transfer on ``i`` to its delta on ``o`` (3): the ROM read, the chosen errors' register, the delta's."""
        return 3

    def row_base(self, hidden_layer: int) -> int:
        return sum(fb.index.shape[0] for fb in self._tables[:hidden_layer] if fb is not None)

    def _lfsr_fields(self) -> dict:
        """``i``'s fields for LFSR rows (none without them)."""
        if not self.lfsr_layers:
            return {}
        return {"lfsr": 1, "layer": range(self._config.n_layers), "restart": 1, "next_row": 1}

    def _lfsr_row(self, m, advance):
        """The LFSR's row (``index``, ``negative``) of the transfer one cycle ago, in the ROM row's layout."""
        cfg, k = self._config, self._config.nonzeros_per_row
        state = Signal(32)
        seeds = Array(lfsr_seed_state(cfg, layer) if layer in self.lfsr_layers else 1 for layer in range(cfg.n_layers))
        start = Signal(32)
        m.d.comb += start.eq(Mux(self.i.payload.restart, seeds[self.i.payload.layer], state))
        # LFSR_ROW_STEPS steps are linear over GF(2): bit b of the result is the XOR of the start bits whose
        # basis vector, stepped by golden's own step, has bit b set (one XOR network, no chain of 32)
        columns = [advance_steps(1 << bit, LFSR_ROW_STEPS) for bit in range(32)]
        stepped = Cat(*[_xor([start[bit] for bit in range(32) if columns[bit] >> out & 1]) for out in range(32)])
        with m.If(advance & self.i.valid & self.i.payload.lfsr & (self.i.payload.restart | self.i.payload.next_row)):
            m.d.sync += state.eq(stepped)
        row = Signal(self.rom_layout)
        # (state[31:16] * n_classes) >> 16 as shifted additions: a constant multiply, which Yosys would otherwise
        # put in a DSP (the lanes have them all on the UP5K)
        high = state[16:]
        product = sum(high << bit for bit in range(cfg.n_classes.bit_length()) if cfg.n_classes >> bit & 1)
        first = (product >> 16)[:len(row.index[0])]
        for t in range(k):
            wrapped = first + t
            m.d.comb += [row.index[t].eq(Mux(wrapped >= cfg.n_classes, wrapped - cfg.n_classes, wrapped)),
                         row.negative[t].eq(state[t])]
        return row

    def _rom_contents(self):
        rows = []
        for fb in self._tables:
            if fb is None:
                continue
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
        if self.lfsr_layers:  # the LFSR's row in the ROM row's place (both a cycle after the transfer)
            from_lfsr = Signal()
            with m.If(advance):
                m.d.sync += from_lfsr.eq(self.i.payload.lfsr)
            rom_row = self.rom_layout(Mux(from_lfsr, self._lfsr_row(m, advance).as_value(), read.data))
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
            if self.lfsr_layers:
                feedback_row |= self.i.valid & self.i.ready & self.i.payload.lfsr
            m.d.sync += [self.rom_reads.eq(Mux(feedback_row, cfg.nonzeros_per_row, 0)),
                         self.hidden_deltas.eq(self.o.valid & self.o.ready & o_hidden)]
        return m
