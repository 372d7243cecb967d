"""The learned-feedback error path (rule ``ddfa``): the tangent pass, the deltas from ``B e`` and the feedback update.

:mod:`golden.learned` in hardware. Between a training sample's prediction and its update, the pass sequencer
gives this path the lane banks and multipliers (``learn``) and waits for ``learned``. In that time the path:

1. draws the sample's directions ``u`` (:class:`~hdl.rules.directions.DirectionGenerator`, one neuron group a
   cycle) into the direction memory;
2. runs the **tangent passes**, one per weight layer above the first, over the old weights in the banks: each
   neuron group reads its weights input by input and multiplies them by the layer input's tangent (``u`` of the
   first hidden layer, as +-1.0; then the tangent memory), on the lane multipliers, into the path's own
   accumulators. A hidden layer's tangents (``f' * a + u``) go to the tangent memory, the output layer's
   (``d``) to registers;
3. runs the **feedback passes**, one per hidden layer, over ``B_l`` in the banks (after the weights,
   :meth:`hdl.layout.WeightLayout.learned_base`): the walk reads ``B[j, c]`` for ``c = 0 .. C-1``,
   multiplies by the output error ``e_c`` into the accumulators (``B e``, the deltas, with ``f'``, to the delta
   memory) and, in the same walk, writes ``B[j, c] - shift_right(B[j, c] - (u_j d_c << a), rate_shift)`` back
   (``a = weight.frac - tangent.frac``; sparse DDFA: only the mask's entries), so the deltas use the old ``B``.

Then the update asks for the deltas as from any error path (:class:`~hdl.rules.error_path.ErrorPathSignature`).

Pipeline of a walk element: issue (bank, tangent and direction reads) | operands into the lane multipliers,
and the feedback update's difference | the multipliers; the feedback update's write | accumulate (a group's
last: its sums into the drain registers). The drain takes one lane a cycle while the next group walks, and
reads the lane's ``f'`` and direction on the way (one more cycle); a walk shorter than a group waits for it.
"""

from amaranth import Module, Signal
from amaranth.hdl import Array, C, Cat, Mux, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory, ReadPort, WritePort
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config
from trifactor.golden.fixedpoint import Rounding
from trifactor.golden.learned import feedback_masks

from ..arith import narrow, round_constant, shift_right
from ..errors import require_config
from ..lanes import LaneMultipliers
from ..layout import WeightLayout
from .directions import DirectionGenerator
from .interface import ErrorPathSignature, errors_in

__all__ = ["LearnedErrorPath"]

#: the kinds of pass: a tangent pass whose input is the first hidden layer's directions, one whose input is a
#: hidden layer's tangents, a feedback pass
FIRST_TANGENT, TANGENT, FEEDBACK = range(3)


class LearnedErrorPath(wiring.Component):
    """Learned feedback (rule ``ddfa``): see the module's text.

    Parameters
    ----------
    config : Config
        With rule ``ddfa`` and a hidden layer.

    Members
    -------
    See :class:`ErrorPathSignature`, and:

    learn : In(1)
        The path owns the banks and multipliers; its rise starts the learning of a training sample.
    learned : Out(1)
        The sample's tangent and feedback passes are done (until ``clear``).
    read, write : In(ReadPort.Signature / WritePort.Signature).array(lanes)
        The lane banks.
    mul : Out(LaneMultipliers.port_signature(config))
    macs : Out(range(lanes + 1))
        The multiply-accumulates of the walk's element a cycle ago (its group's neurons), registered: the core's
        ``macs_done`` adds them to the sweeper's.
    weight_reads, feedback_reads : Out(range(lanes + 1)), hidden_deltas : Out(1)
        With ``[hardware] cost_counters`` only, registered: the bank words a tangent pass's element read, those a
        feedback pass's element read (``B``; every lane, per element), a delta left for a hidden neuron.
    """

    def __init__(self, config: Config):
        require_config(self, config)
        if config.rule != "ddfa" or config.n_layers < 2:
            raise ValueError(f"rule {config.rule!r} with sizes {list(config.sizes)} learns no feedback")
        self._config = config
        self._layout = lay = WeightLayout(config)
        self.directions = DirectionGenerator(config)
        hidden = list(config.sizes[1:-1])
        #: hidden layer ``l``'s first neuron in the f', tangent and delta memories, and first group in the directions'
        self.fp_base = [sum(hidden[:l]) for l in range(len(hidden))]
        self.group_base = [sum(lay.groups(k) for k in range(l)) for l in range(len(hidden))]
        self.passes = self._passes()
        read = ReadPort.Signature(addr_width=lay.addr_width, shape=signed(config.weight.width))
        write = WritePort.Signature(addr_width=lay.addr_width, shape=signed(config.weight.width))
        costs = {"weight_reads": Out(range(config.lanes + 1)), "feedback_reads": Out(range(config.lanes + 1)),
                 "hidden_deltas": Out(1)} if config.cost_counters else {}
        super().__init__({
            **ErrorPathSignature(config).members, **costs,
            "learn": In(1), "learned": Out(1),
            "read": In(read).array(config.lanes), "write": In(write).array(config.lanes),
            "mul": Out(LaneMultipliers.port_signature(config)), "macs": Out(range(config.lanes + 1)),
        })

    @property
    def latency(self) -> int:
        """Cycles from a request to its delta (from the delta memory, or the output errors' registers)."""
        return 1

    def _passes(self) -> list:
        """Every pass of a sample, in order: its kind, weight base and stride, inputs, groups, lanes of the last
        group, where its results go (a hidden layer's running index, or the output tangents) and the directions'
        first group of the layer it writes (tangents) or updates (feedback)."""
        cfg, lay = self._config, self._layout
        out = []
        for m in range(1, cfg.n_layers):
            hidden_out = m < cfg.n_layers - 1
            out.append({"kind": FIRST_TANGENT if m == 1 else TANGENT, "base": lay.base(m), "stride": cfg.sizes[m] + 1,
                        "inputs": cfg.sizes[m], "groups": lay.groups(m), "last_lanes": lay.last_lanes(m),
                        "src": self.fp_base[m - 1], "dst": self.fp_base[m] if hidden_out else 0,
                        "hidden": int(hidden_out), "ugroup": self.group_base[m] if hidden_out else 0})
        for l in range(cfg.n_layers - 1):
            out.append({"kind": FEEDBACK, "base": lay.learned_base(l), "stride": cfg.n_classes,
                        "inputs": cfg.n_classes, "groups": lay.groups(l), "last_lanes": lay.last_lanes(l),
                        "src": 0, "dst": self.fp_base[l], "hidden": 1, "ugroup": self.group_base[l]})
        return out

    @property
    def accumulator_width(self) -> int:
        """Wide enough for a tangent's or a ``B e`` sum at fraction ``operand.frac + weight.frac``, with the round
        constant the sum starts at."""
        cfg = self._config
        rc = round_constant(cfg.weight.frac, cfg.rounding)
        terms = [(p["inputs"], cfg.tangent.width if p["kind"] != FEEDBACK else cfg.error.width) for p in self.passes]
        return max(((n << (w + cfg.weight.width - 2)) + rc).bit_length() + 1 for n, w in terms)

    def elaborate(self, platform):
        m = Module()
        cfg, lanes = self._config, self._config.lanes
        m.submodules.directions = self.directions
        hidden = max(1, sum(cfg.sizes[1:-1]))
        mems = {}
        for name, shape, depth in [("fprimes", 1, hidden), ("deltas", signed(cfg.error.width), hidden),
                                   ("tangents", signed(cfg.tangent.width), hidden),
                                   ("units", lanes, max(1, self.group_base[-1] + self._layout.groups(cfg.n_layers - 2)))]:
            # the f' flags in a block RAM, not a flip-flop each and a read multiplexer over them all (as the
            # feedback path's); the directions, a word per group read by two ports, stay in flip-flops
            attrs = {"no_rw_check": 1, **({"ram_style": "block"} if name == "fprimes" else {})}
            mems[name] = m.submodules[name] = Memory(shape=shape, depth=depth, init=[], attrs=attrs)
        if cfg.nonzeros_per_row < cfg.n_classes:  # sparse DDFA: which B words learn
            masks = self._layout.to_banks([], feedback_masks(cfg))[:, self._layout.weight_depth:]
            init = [sum(int(masks[p, a]) << p for p in range(lanes)) for a in range(masks.shape[1])]
            mems["mask"] = m.submodules.mask = Memory(shape=lanes, depth=len(init), init=init)
        ports = {"fp_rd": mems["fprimes"].read_port(), "fp_wr": mems["fprimes"].write_port(),
                 "d_rd": mems["deltas"].read_port(), "d_wr": mems["deltas"].write_port(),
                 "t_rd": mems["tangents"].read_port(), "t_wr": mems["tangents"].write_port(),
                 "u_walk": mems["units"].read_port(), "u_lane": mems["units"].read_port(),
                 "u_wr": mems["units"].write_port()}
        if "mask" in mems:
            ports["mask"] = mems["mask"].read_port()
        m.d.comb += [ports["fp_wr"].addr.eq(self.fprime.payload.index), ports["fp_wr"].data.eq(self.fprime.payload.value),
                     ports["fp_wr"].en.eq(self.fprime.valid)]

        errors = Array(Signal(signed(cfg.error.width), name=f"e{c}") for c in range(cfg.n_classes))
        have = errors_in(m, cfg, self.clear, self.errors)
        m.d.comb += self.errors.ready.eq(1)
        with m.If(self.errors.valid):
            m.d.sync += errors[have].eq(self.errors.payload)
        tangents_out = Array(Signal(signed(cfg.tangent.width), name=f"d{c}") for c in range(cfg.n_classes))

        drain = self._drain_registers()
        s3 = self._walk(m, ports, errors, tangents_out, have, drain)
        self._drain(m, ports, drain, tangents_out)
        self._accumulate(m, s3, drain)  # after the drain: a group's sums restart the drain in the cycle it ends
        self._answer(m, ports, errors, have)
        return m

    def _walk(self, m, ports, errors, tangents_out, have, drain):
        """The passes: directions first, then each pass's groups input by input; returns the last stage."""
        cfg, lay, lanes = self._config, self._layout, self._config.lanes
        passes = self.passes
        field = lambda name: Array(C(p[name]) for p in passes)  # noqa: E731
        pass_i = Signal(range(len(passes)))
        kind, base, stride, inputs = field("kind")[pass_i], field("base")[pass_i], field("stride")[pass_i], \
            field("inputs")[pass_i]
        group, i = Signal(range(max(p["groups"] for p in passes))), Signal(range(max(p["inputs"] for p in passes)))
        gbase = Signal(lay.addr_width)
        last_group = group == field("groups")[pass_i] - 1
        count = Mux(last_group, field("last_lanes")[pass_i], lanes)
        uword, ubit = Signal(range(max(2, self._units_depth()))), Signal(range(lanes))  # first tangent pass: u of input i
        walking, learn_r = Signal(), Signal()
        # the directions: one group of every hidden layer a cycle
        flat = [lay.last_lanes(l) if g == lay.groups(l) - 1 else lanes
                for l in range(cfg.n_layers - 1) for g in range(lay.groups(l))]
        fill = Signal(range(len(flat) + 1))
        gen = self.directions
        m.d.comb += [ports["u_wr"].addr.eq(fill), ports["u_wr"].data.eq(gen.bits), gen.count.eq(Array(flat)[fill])]

        # stages: s1 (operands), s2 (multiplier; feedback write), s3 (products: accumulate)
        meta = data.StructLayout({"valid": 1, "last": 1, "kind": 2, "count": range(lanes + 1),
                                  "addr": lay.addr_width, "ubit": range(lanes), "group": group.shape(),
                                  "pass_i": pass_i.shape()})
        s1, s2, s3 = (Signal(meta, name=n) for n in ("s1", "s2", "s3"))
        m.d.sync += [s2.eq(s1), s3.eq(s2)]
        # a group's sums wait in the drain's registers until their last lane is out, one a cycle: so a group's
        # last element follows the previous group's by at least that group's neurons (its sums come as many
        # cycles after it as the next group's come after that), a wait only when a walk is shorter than a group
        space = Signal(range(lanes), name="drain_space")
        with m.If(space != 0):
            m.d.sync += space.eq(space - 1)
        last = i == inputs - 1
        ready = Mux(kind == FEEDBACK, have == cfg.n_classes, 1)
        issue = walking & ready & ~(last & (space != 0))
        m.d.sync += [s1.valid.eq(issue), self.macs.eq(Mux(issue, count, 0))]
        # a feedback element's error and output tangent, read from their registers at issue (a memory's read a
        # cycle early): no class multiplexer in front of the multipliers or the feedback update
        operands = {"error": Signal(signed(cfg.error.width), name="error_c"),
                    "tangent": Signal(signed(cfg.tangent.width), name="tangent_c")}
        m.d.sync += [operands["error"].eq(errors[i]), operands["tangent"].eq(tangents_out[i])]
        if cfg.cost_counters:  # every lane's word is read, past the layer's last neuron too
            m.d.sync += [self.weight_reads.eq(Mux(issue & (kind != FEEDBACK), lanes, 0)),
                         self.feedback_reads.eq(Mux(issue & (kind == FEEDBACK), lanes, 0))]
        with m.If(issue):
            m.d.sync += [s1.last.eq(last), s1.kind.eq(kind), s1.count.eq(count), s1.addr.eq(gbase + i),
                         s1.ubit.eq(ubit), s1.group.eq(group), s1.pass_i.eq(pass_i), i.eq(i + 1), ubit.eq(ubit + 1)]
            with m.If(ubit == lanes - 1):
                m.d.sync += [ubit.eq(0), uword.eq(uword + 1)]
            with m.If(last):
                m.d.sync += [i.eq(0), group.eq(group + 1), gbase.eq(gbase + stride), ubit.eq(0), uword.eq(0),
                             space.eq(count - 1)]
                with m.If(last_group):
                    m.d.sync += walking.eq(0)
        # the reads of the issue stage
        for port in self.read:
            m.d.comb += [port.addr.eq(gbase + i), port.en.eq(1)]
        # the lanes' directions: a feedback pass's group (its update), else the drain's (a tangent pass's layer)
        ugroup = field("ugroup")
        m.d.comb += [ports["t_rd"].addr.eq(field("src")[pass_i] + i), ports["u_walk"].addr.eq(uword),
                     ports["u_lane"].addr.eq(Mux(kind == FEEDBACK, ugroup[pass_i] + group,
                                                 ugroup[drain["pass_i"]] + drain["group"]))]
        if "mask" in ports:
            m.d.comb += ports["mask"].addr.eq(gbase + i - lay.weight_depth)

        # the control: directions, then the passes, each once the previous one has left the pipeline and drain
        empty = ~s1.valid & ~s2.valid & ~s3.valid & ~drain["busy"] & ~drain["d1"].valid
        m.d.sync += learn_r.eq(self.learn)
        with m.If(self.clear):
            m.d.sync += self.learned.eq(0)
        with m.FSM():
            with m.State("idle"):
                with m.If(self.learn & ~learn_r):
                    m.d.sync += [fill.eq(0), pass_i.eq(0)]
                    m.next = "directions"
            with m.State("directions"):
                m.d.comb += [ports["u_wr"].en.eq(1), gen.next.eq(1)]
                m.d.sync += fill.eq(fill + 1)
                with m.If(fill == len(flat) - 1):
                    m.next = "start"
            with m.State("start"):
                m.d.sync += [walking.eq(1), group.eq(0), i.eq(0), gbase.eq(base), uword.eq(0), ubit.eq(0)]
                m.next = "walk"
            with m.State("walk"):
                with m.If(~walking & empty):
                    with m.If(pass_i == len(passes) - 1):
                        m.d.sync += self.learned.eq(1)
                        m.next = "idle"
                    with m.Else():
                        m.d.sync += pass_i.eq(pass_i + 1)
                        m.next = "start"

        self._operands(m, ports, s1, operands["error"])
        self._feedback_update(m, ports, s1, s2, operands["tangent"])
        return s3

    def _units_depth(self) -> int:
        cfg = self._config
        return self.group_base[-1] + self._layout.groups(cfg.n_layers - 2)

    def _operands(self, m, ports, s1, error):
        """Stage 1: the element's input (a direction as +-1.0, a tangent, or its class's ``error``) and its bank
        words into the lane multipliers."""
        cfg = self._config
        one = cfg.tangent.one
        direction = ports["u_walk"].data.bit_select(s1.ubit, 1)
        x = Mux(s1.kind == FIRST_TANGENT, Mux(direction, one, -one),
                Mux(s1.kind == TANGENT, ports["t_rd"].data, error))
        m.d.comb += [self.mul.x.eq(x), self.mul.en.eq(1)]
        m.d.comb += [self.mul.b[p].eq(port.data) for p, port in enumerate(self.read)]

    def _feedback_update(self, m, ports, s1, s2, d):
        """A feedback pass's write of every lane's ``B`` word: ``B - (u d_c << a)`` registered with ``B`` (stage 1),
        then ``narrow(B - shift_right(difference, rate_shift, update_rounding))`` to the bank (stage 2), in one
        subtraction as the update unit does it: ``B - floor((v + c) / 2**s) = floor((B * 2**s + 2**s - 1 - c - v)
        / 2**s)``, and ``B * 2**s + (2**s - 1 - c)`` is ``B`` with the constant's ``s`` bits below it."""
        cfg, lanes = self._config, self._config.lanes
        align = cfg.weight.frac - cfg.tangent.frac
        shift = cfg.rate_shift
        below = C((1 << shift) - 1 - round_constant(shift, cfg.update_rounding), shift) if shift else None
        mask = ports["mask"].data if "mask" in ports else C((1 << lanes) - 1, lanes)
        width = max(cfg.weight.width, cfg.tangent.width + 1 + align) + 1
        for p, (port, wport) in enumerate(zip(self.read, self.write)):
            old = Signal(signed(cfg.weight.width), name=f"b_old{p}", reset_less=True)
            diff = Signal(signed(width), name=f"b_diff{p}", reset_less=True)
            en = Signal(name=f"b_en{p}")
            target = Mux(ports["u_lane"].data[p], d, -d) << align
            m.d.sync += [old.eq(port.data), diff.eq(port.data - target),
                         en.eq(s1.valid & (s1.kind == FEEDBACK) & mask[p] & (p < s1.count))]
            minuend = Cat(below, old).as_signed() if shift else old
            new = narrow(shift_right(minuend - diff, shift, Rounding.TRUNCATE), cfg.weight, cfg.overflow)
            m.d.comb += [wport.addr.eq(s2.addr), wport.data.eq(new), wport.en.eq(en)]

    def _drain_registers(self) -> dict:
        cfg, lanes = self._config, self._config.lanes
        width = self.accumulator_width - cfg.weight.frac
        d1 = Signal(data.StructLayout({"valid": 1, "kind": 2, "hidden": 1, "index": range(max(2, sum(cfg.sizes[1:-1]))),
                                       "out": range(cfg.n_classes), "lane": range(lanes), "a": signed(width)}),
                    name="d1")
        return {"busy": Signal(name="draining"), "q": Signal(range(lanes + 1), name="drain_q"),
                "count": Signal(range(lanes + 1), name="drain_count"),
                "hold": [Signal(signed(width), name=f"hold{p}", reset_less=True) for p in range(lanes)],
                "pass_i": Signal(range(len(self.passes)), name="drain_pass"),
                "group": Signal(range(max(p["groups"] for p in self.passes)), name="drain_group"), "d1": d1}

    def _accumulate(self, m, s3, drain):
        """Stage 3: the products into the accumulators; a group's last: every lane's sum, shifted to the operand's
        fraction (rounded: the sums start at the round constant), into the drain's registers."""
        cfg, lanes = self._config, self._config.lanes
        rc = round_constant(cfg.weight.frac, cfg.rounding)
        width = max(cfg.tangent.width, cfg.error.width)
        products = [self.mul.product[p][:width + cfg.weight.width].as_signed() for p in range(lanes)]
        accs = [Signal(signed(self.accumulator_width), init=rc, name=f"acc{p}", reset_less=True) for p in range(lanes)]
        with m.If(s3.valid):
            m.d.sync += [acc.eq(acc + product) for acc, product in zip(accs, products)]
            with m.If(s3.last):
                m.d.sync += [acc.eq(rc) for acc in accs]
                m.d.sync += [h.eq(shift_right(acc + product, cfg.weight.frac, Rounding.TRUNCATE))
                             for h, acc, product in zip(drain["hold"], accs, products)]
                m.d.sync += [drain["busy"].eq(1), drain["q"].eq(0), drain["count"].eq(s3.count),
                             drain["pass_i"].eq(s3.pass_i), drain["group"].eq(s3.group)]

    def _drain(self, m, ports, drain, tangents_out):
        """One lane a cycle: read its ``f'`` and direction (D0), then write its tangent, output tangent or delta (D1)."""
        cfg, lanes = self._config, self._config.lanes
        passes = self.passes
        d1 = drain["d1"]
        pass_i, q = drain["pass_i"], drain["q"]
        hidden_out = Array(C(p["hidden"]) for p in passes)[pass_i]
        index = Array(C(p["dst"]) for p in passes)[pass_i] + drain["group"] * lanes + q
        m.d.sync += d1.valid.eq(0)
        with m.If(drain["busy"]):
            m.d.sync += [d1.valid.eq(1), d1.kind.eq(Array(C(p["kind"]) for p in passes)[pass_i]),
                         d1.hidden.eq(hidden_out), d1.index.eq(index), d1.out.eq(drain["group"] * lanes + q),
                         d1.lane.eq(q), d1.a.eq(Array(drain["hold"])[q]), q.eq(q + 1)]
            with m.If(q == drain["count"] - 1):
                m.d.sync += drain["busy"].eq(0)
        m.d.comb += ports["fp_rd"].addr.eq(index)
        fprime = ports["fp_rd"].data
        one = cfg.tangent.one
        direction = ports["u_lane"].data.bit_select(d1.lane, 1)
        tangent = narrow(Mux(fprime, d1.a, 0) + Mux(direction, one, -one), cfg.tangent, cfg.overflow)
        m.d.comb += [ports["t_wr"].addr.eq(d1.index), ports["t_wr"].data.eq(tangent),
                     ports["t_wr"].en.eq(d1.valid & (d1.kind != FEEDBACK) & d1.hidden),
                     ports["d_wr"].addr.eq(d1.index),
                     ports["d_wr"].data.eq(Mux(fprime, narrow(d1.a, cfg.error, cfg.overflow), 0)),
                     ports["d_wr"].en.eq(d1.valid & (d1.kind == FEEDBACK))]
        with m.If(d1.valid & (d1.kind != FEEDBACK) & ~d1.hidden):
            m.d.sync += tangents_out[d1.out].eq(narrow(d1.a, cfg.tangent, cfg.overflow))

    def _answer(self, m, ports, errors, have):
        """The update's requests: an output neuron's error (from its register), a hidden neuron's delta (from the
        delta memory, ``f'`` applied), a cycle after the request."""
        cfg = self._config
        request = self.request.payload
        output = request.layer == cfg.n_layers - 1
        m.d.comb += [self.request.ready.eq(Mux(output, request.neuron < have, self.learned)),
                     ports["d_rd"].addr.eq(Array([*self.fp_base, 0])[request.layer] + request.neuron)]
        answered, from_output = Signal(), Signal()
        error = Signal(signed(cfg.error.width))
        m.d.sync += [answered.eq(self.request.valid & self.request.ready), from_output.eq(output),
                     error.eq(errors[request.neuron])]
        m.d.comb += [self.delta.valid.eq(answered), self.delta.payload.eq(Mux(from_output, error, ports["d_rd"].data))]
        if cfg.cost_counters:
            m.d.sync += self.hidden_deltas.eq(answered & ~from_output)
