"""The low-rank feedback error path (rule ``dfa`` with ``[feedback] rank = r``): ``r`` error projections per layer,
then ``r`` signed additions per hidden neuron."""

from amaranth import Module, Signal
from amaranth.hdl import Array, Mux, signed
from amaranth.lib.memory import Memory
from amaranth.lib import wiring

from trifactor.golden.config import Config
from trifactor.golden.feedback import feedback_matrices

from ..arith import narrow, shift_right
from ..errors import require_config
from .interface import ErrorPathSignature, errors_in

__all__ = ["LowRankErrorPath"]


class LowRankErrorPath(wiring.Component):
    """``B_l = 2**-scale_shift * Q_l P_l^T`` with ternary factors (:mod:`golden.feedback`), never stored whole.

    As the output errors arrive, each hidden layer's ``r`` projections ``s_m = sum_c P[c, m] e_c`` accumulate
    (one signed addition per error and projection). A hidden neuron's request then reads its ``f'`` and its row of
    ``Q`` (``r`` sign bits, a ROM) and, a cycle later, answers
    ``d_j = f'_j * narrow(shift_right(sum_m Q[j, m] s_m, scale_shift, rounding))``: the same integer as the dense
    table's :func:`golden.fixed_model.feedback_delta`, since ``sum_c (Q P^T)[j, c] e_c = sum_m Q[j, m] s_m``.
    Rank 1 is one scalar per layer, broadcast to every neuron with its sign. An output neuron's request answers its
    error. A request is taken once its error (output layer) or every error (hidden layers) is in.

    Parameters
    ----------
    config : Config
        Rule ``dfa`` with ``rank`` >= 1 and a hidden layer.

    Members
    -------
    See :class:`ErrorPathSignature` (``feedback_reads``: the ``r`` sign bits of ``Q`` read per hidden neuron).
    """

    #: Cycles from a request to its delta: the f' and Q reads.
    latency = 1

    def __init__(self, config: Config):
        require_config(self, config)
        if not config.rank or config.n_layers < 2:
            raise ValueError(f"rank {config.rank} with sizes {list(config.sizes)}: no low-rank feedback")
        self._config = config
        self.tables = feedback_matrices(config)
        #: where hidden layer ``l``'s neurons start in the f' and Q memories
        self.fp_base = [sum(config.sizes[1:l + 1]) for l in range(config.n_layers - 1)]
        super().__init__(ErrorPathSignature(config))

    def elaborate(self, platform):
        m = Module()
        cfg, rank = self._config, self._config.rank
        hidden = sum(cfg.sizes[1:-1])
        q_rows = [sum(int(q[j, k] > 0) << k for k in range(rank)) for fb in self.tables for q in [fb.factors[0]]
                  for j in range(q.shape[0])]
        m.submodules.fprimes = fprimes = Memory(shape=1, depth=hidden, init=[], attrs={"no_rw_check": 1})
        m.submodules.q = q_rom = Memory(shape=rank, depth=hidden, init=q_rows)
        fp_rd, fp_wr, q_rd = fprimes.read_port(), fprimes.write_port(), q_rom.read_port()
        m.d.comb += [fp_wr.addr.eq(self.fprime.payload.index), fp_wr.data.eq(self.fprime.payload.value),
                     fp_wr.en.eq(self.fprime.valid)]

        # the errors, and every layer's projections as they arrive
        errors = Array(Signal(signed(cfg.error.width), name=f"e{c}") for c in range(cfg.n_classes))
        have = errors_in(m, cfg, self.clear, self.errors)
        width = cfg.error.width + cfg.n_classes.bit_length()
        projections = [[Signal(signed(width), name=f"s{l}_{k}") for k in range(rank)] for l in range(cfg.n_layers - 1)]
        e = self.errors.payload
        m.d.comb += self.errors.ready.eq(1)
        with m.If(self.errors.valid):
            m.d.sync += errors[have].eq(e)
            for l, (fb, sums) in enumerate(zip(self.tables, projections)):
                p = Array(sum(int(fb.factors[1][c, k] > 0) << k for k in range(rank)) for c in range(cfg.n_classes))
                row = Signal(rank, name=f"p_row{l}")
                m.d.comb += row.eq(p[have])
                m.d.sync += [s.eq(s + Mux(row[k], e, -e)) for k, s in enumerate(sums)]
        with m.If(self.clear):
            m.d.sync += [s.eq(0) for sums in projections for s in sums]

        request = self.request.payload
        output = request.layer == cfg.n_layers - 1
        m.d.comb += [self.request.ready.eq(Mux(output, request.neuron < have, have == cfg.n_classes)),
                     fp_rd.addr.eq(Array([*self.fp_base, 0])[request.layer] + request.neuron),
                     q_rd.addr.eq(Array([*self.fp_base, 0])[request.layer] + request.neuron)]
        answered, from_output, layer = Signal(), Signal(), Signal(range(cfg.n_layers))
        error = Signal(signed(cfg.error.width))
        taken = self.request.valid & self.request.ready
        m.d.sync += [answered.eq(taken), from_output.eq(output), layer.eq(request.layer),
                     error.eq(errors[request.neuron])]
        chosen = [Array(sums[k] for sums in projections)[layer] for k in range(rank)]  # the request's layer's s_k
        total = sum(Mux(q_rd.data[k], chosen[k], -chosen[k]) for k in range(rank))
        delta = Mux(fp_rd.data, narrow(shift_right(total, cfg.scale_shift, cfg.rounding), cfg.error, cfg.overflow), 0)
        m.d.comb += [self.delta.valid.eq(answered), self.delta.payload.eq(Mux(from_output, error, delta))]
        if cfg.cost_counters:
            m.d.sync += [self.feedback_reads.eq(Mux(taken & ~output, rank, 0)),
                         self.hidden_deltas.eq(answered & ~from_output)]
        return m
