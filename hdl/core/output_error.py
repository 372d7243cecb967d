"""Output error unit: base-2 softmax (exponent table, one reciprocal) or MSE, minus the one-hot label.

Implements :func:`golden.fixed_model.softmax_error` and :func:`mse_error` step by step.
"""

from typing import NamedTuple

from amaranth import Module, ResetSignal, Signal, Value
from amaranth.hdl import Array, C, Cat, Mux, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from trifactor.golden.config import Config

from ..errors import require_config
from trifactor.golden.fixed_model import exp2_table

from ..arith import narrow, shift_right
from ..lanes import LaneMultipliers, lane_multipliers, require_mode

__all__ = ["OutputErrorUnit"]


class _Booth(NamedTuple):
    """The emit pipeline's radix-4 Booth multiplier (:meth:`OutputErrorUnit._booth`)."""

    digit: Signal      # the digit counter
    partial: Signal    # the sum so far, shifted right by the bits done
    low: Signal        # the bits shifted out of ``partial``: final
    restart: Signal    # a product is done: the next starts from 0 (the flip-flops' reset)
    total_now: Value   # this digit's sum, not yet shifted
    low_now: Value     # ``low`` with this digit's two bits


class OutputErrorUnit(wiring.Component):
    """The output errors ``e`` of one sample from its scores ``y`` and label.

    ``i`` takes the ``n_classes`` scores in class order (the label rides along; the first
    element's is used); ``o`` returns the ``n_classes`` errors in class order. Softmax,
    as in :func:`golden.fixed_model.softmax_error`:

    1. load: scores into a ring of registers, running maximum (``n`` cycles);
    2. exp: ``u_j = table[f_j] >> n_j`` and their sum (``n`` cycles);
    3. divide: ``r = floor(2**R / sum)``, restoring division, one quotient bit a cycle;
    4. emit: ``e_j = narrow(shift_right(u_j * r, R - error.frac) - onehot)``; ``u_j`` is
       computed again from the score (cheaper than keeping it). ``u_j * r`` is, where
       :attr:`uses_lanes` says so, lane 0's multiplier, one class a cycle (the unit owns the
       lane multipliers while it emits, ``owns``: the forward pass is over and the update waits for
       its errors); elsewhere a radix-4 Booth multiplication over ``r``, two bits a cycle
       (``booth_digits`` cycles per class, no DSP).

    MSE skips steps 2 and 3 and emits one error a cycle. Steps 2 and 4 are pipelines
    with a register after the table lookup and shift (``u_r``), so no path runs from the
    table into an adder. A new sample is accepted once the last error has left.

    Parameters
    ----------
    config : Config
    multipliers : "internal" or "external"
        With :attr:`uses_lanes` only: the unit's own :class:`LaneMultipliers` (to test it alone), or the
        ``mul`` port to connect to the core's shared set.

    Members
    -------
    i : In(stream.Signature(StructLayout({"y": signed(act.width), "label": ...})))
    o : Out(stream.Signature(signed(error.width)))
    mul : Out(LaneMultipliers.port_signature(config))
        With :attr:`uses_lanes` and ``multipliers="external"``: ``x``, ``b[0]`` and ``en``; the other lanes'
        ``b`` are 0 and ``transposed`` is 0.
    owns : Out(1)
        With :attr:`uses_lanes`: the unit needs the multipliers (a register): from the emit's first cycle (its
        first operands) to the cycle its last product goes into ``o``'s register, both included. No other unit
        may use them meanwhile (their products are not the unit's); the update waits for the errors anyway.
    """

    def __init__(self, config: Config, *, multipliers: str = "internal"):
        require_config(self, config)
        require_mode(self, multipliers)
        self._config = config
        self._multipliers = multipliers
        n = config.n_classes
        self.table = exp2_table(config).tolist() if config.loss == "softmax" else []
        self.quotient_bits = config.softmax_quotient_bits  # of the reciprocal r = floor(2**R / sum)
        # radix-4 Booth digits of the quotient (a sign bit above it)
        self.booth_digits = (self.quotient_bits + 2) // 2
        members = {
            "i": In(stream.Signature(data.StructLayout({"y": signed(config.act.width), "label": unsigned(max(1, (n - 1).bit_length()))}))),
            "o": Out(stream.Signature(signed(config.error.width))),
        }
        if self.uses_lanes:
            members["owns"] = Out(1)
            if multipliers == "external":
                members["mul"] = Out(LaneMultipliers.port_signature(config))
        super().__init__(members)

    @property
    def uses_lanes(self) -> bool:
        """``u_j * r`` on lane 0's multiplier, one class a cycle, else on the unit's own radix-4 Booth multiplier,
        ``booth_digits`` cycles a class (:attr:`golden.config.Config.softmax_on_lanes`: ``[hardware]
        softmax_product = "lanes"``, or ``"auto"``, the default, with ``pipeline = "compact"``; both where
        :attr:`golden.config.Config.softmax_lanes_fit`).

        On the lanes ``r`` is the first operand (``x``, signed ``input_width`` bits) and ``u mod 2**softmax_frac``
        the second (``b``, signed ``max(weight.width, error.width)`` bits). With the default formats (13 quotient
        bits, 14-bit ``x``, 16-bit ``b``) every compact configs/*.toml but the ``ddfa`` ones and ``mnist-up5k``
        (8-bit weights and errors) takes the lanes; MSE has no product. ``ddfa`` keeps the Booth multiplier: its
        learned-feedback path runs its tangent passes on the lanes while the unit emits, so there it costs no time.
        """
        return self._config.softmax_on_lanes

    #: Cycles from a class's issue in the lane emit to its error in ``o`` (operands, product, error registers).
    lane_emit_latency = LaneMultipliers.latency + 1

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        n = cfg.n_classes
        softmax, lanes = cfg.loss == "softmax", self.uses_lanes
        loading, shift_scores = Signal(), Signal()  # the FSM drives the score ring with these
        scores = self._score_ring(m, loading, shift_scores)
        label = Signal(self.i.payload.label.shape())
        top = Signal(signed(cfg.act.width))
        index = Signal(range(n))
        last = index == n - 1
        total = Signal(unsigned(cfg.softmax_frac + 1 + max(1, (n - 1).bit_length())))
        if lanes:  # the quotient, shifted in by the divide: the lane's first operand as the unit emits
            r_ring = quotient = Signal(unsigned(self.quotient_bits))
        else:
            # the quotient r with r[-1] = 0 below it and zeros above, 2 bits per Booth digit: the
            # division shifts r into it; the emit step reads each digit's window at its bottom and
            # rotates it by 2 per digit (a full turn per class), so no digit counter selects bits
            r_ring = Signal(unsigned(2 * self.booth_digits))
            quotient = r_ring[1:1 + self.quotient_bits]
        z, z_valid, hold_u, u_r = self._exponent(m, total)
        booth = self._booth(u_r, r_ring) if softmax and not lanes else None
        mul = lane_multipliers(m, cfg, self._multipliers, getattr(self, "mul", None)) if lanes else None

        def next_z():  # the ring's next score's z; its u is in u_r two cycles later
            m.d.comb += shift_scores.eq(1)
            m.d.sync += z.eq(top - scores[0])

        def start_emit():
            if lanes:
                m.d.sync += self.owns.eq(1)
            else:
                m.d.comb += booth.restart.eq(1)
                m.d.sync += booth.digit.eq(0)

        # the sample's errors: all issued into the emit pipeline, and how many have left
        issued_all = Signal()
        emitted = Signal(range(n))
        # ``i.ready`` from a flip-flop of its own (set as the state returns to "load"), not from
        # the state's decoding: the serialiser's output stage waits on it
        accepting = Signal(init=1)
        m.d.comb += self.i.ready.eq(accepting)
        with m.FSM():
            with m.State("load"):
                m.d.comb += loading.eq(1)
                with m.If(self.i.valid):
                    y = self.i.payload.y
                    m.d.comb += shift_scores.eq(1)
                    m.d.sync += index.eq(Mux(last, 0, index + 1))
                    m.d.sync += top.eq(Mux((index == 0) | (y > top), y, top))
                    with m.If(index == 0):
                        m.d.sync += label.eq(self.i.payload.label)
                    with m.If(last):
                        m.d.sync += [total.eq(0), issued_all.eq(0), emitted.eq(0), accepting.eq(0)]
                        m.next = "exp" if softmax else "emit"
            if softmax:
                with m.State("exp"):
                    m.d.comb += shift_scores.eq(1)
                    m.d.sync += [z.eq(top - scores[0]), z_valid.eq(1), index.eq(Mux(last, 0, index + 1))]
                    with m.If(last):
                        m.next = "exp_tail"
                with m.State("exp_tail"):  # E2 takes the last u this cycle
                    m.next = "divide_setup"
                self._divide_states(m, total, quotient, r_ring, next_z=next_z, start_emit=start_emit, early_z=lanes)
            emit = dict(label=label, index=index, last=last, hold_u=hold_u, next_z=next_z, issued_all=issued_all,
                        emitted=emitted, accepting=accepting)
            if lanes:
                self._emit_lanes(m, mul=mul, u_r=u_r, quotient=quotient, **emit)
            else:
                self._emit(m, scores=scores, shift_scores=shift_scores, booth=booth, r_ring=r_ring, **emit)
        if booth is not None:
            with m.If(ResetSignal(allow_reset_less=True) | booth.restart):
                m.d.sync += booth.partial.eq(0)
        return m

    def _score_ring(self, m, loading, shift_scores):
        """The scores, used in class order: a ring of registers that shifts towards ``scores[0]`` on
        ``shift_scores`` (no read multiplexer, no write decoder). ``loading`` shifts the input's score
        in; otherwise they rotate, back in class order after every n shifts. Returns the registers.
        """
        cfg = self._config
        scores = [Signal(signed(cfg.act.width), name=f"y{c}") for c in range(cfg.n_classes)]
        with m.If(shift_scores):
            m.d.sync += [score.eq(after) for score, after in
                         zip(scores, scores[1:] + [Mux(loading, self.i.payload.y, scores[0])])]
        return scores

    def _exponent(self, m, total):
        """The exp pipeline: E1 registers ``z = max - y`` (the FSM loads it), E2 looks the table up and
        shifts into ``u_r``, E3 sums into ``total``.

        The emit step registers each class's z again a cycle before its u is needed and
        recomputes its u: cheaper than keeping every u. Returns ``z``, ``z_valid`` (E3 adds the
        u of a z loaded with it), ``hold_u`` (the emit pipeline is stalled: ``u_r`` keeps the class
        being multiplied) and ``u_r`` (None with MSE, which has no exp pipeline).
        """
        cfg = self._config
        z = Signal(unsigned(cfg.act.width + 1))
        z_valid, u_valid = Signal(), Signal()
        hold_u = Signal()
        u_r = None
        if cfg.loss == "softmax":
            whole, frac = z >> cfg.act.frac, z[: cfg.act.frac]
            entry = Array(self.table)[frac]
            u = Mux(whole > cfg.softmax_frac, 0, entry >> whole[: max(1, cfg.softmax_frac.bit_length())])
            u_r = Signal(unsigned(cfg.softmax_frac + 1))
            with m.If(~hold_u):
                m.d.sync += u_r.eq(u)
            m.d.sync += u_valid.eq(z_valid)
            with m.If(u_valid):
                m.d.sync += total.eq(total + u_r)
        m.d.sync += z_valid.eq(0)
        return z, z_valid, hold_u, u_r

    def _emit_lanes(self, m, *, mul, u_r, quotient, label, index, last, hold_u, next_z, issued_all, emitted,
                    accepting):
        """The FSM state ``emit`` with ``u_j * r`` on lane 0's multiplier (:attr:`uses_lanes`): one class a cycle.

        Pipeline, every stage moving on ``advance`` (the output register is free or being taken),
        :attr:`lane_emit_latency` cycles: issue (``x = r``, ``b[0] = u mod 2**softmax_frac``, ``en = advance``; the
        next class's u into ``u_r``, the z of the one after it) | the lane's operand registers | its product
        register | the rounded, narrowed error in ``o``. A class at the maximum has ``u = 2**softmax_frac``
        (bit ``softmax_frac`` set, the rest 0: ``b = 0``), too wide for ``b``: its product is ``r << softmax_frac``,
        a multiplexer in front of the rounding (no adder). ``owns`` falls as the last error goes into ``o``.
        """
        cfg, sf = self._config, self._config.softmax_frac
        advance = ~self.o.valid | self.o.ready
        stage = data.StructLayout({"valid": 1, "index": range(cfg.n_classes), "top": 1})
        s1, s2 = Signal(stage), Signal(stage)  # beside the lane's operand and product registers
        product = Mux(s2.top, Cat(C(0, sf), quotient), mul.product[0][:sf + self.quotient_bits])
        p = shift_right(product, cfg.softmax_recip_bits - cfg.error.frac, cfg.rounding)
        error = narrow(p - Mux(s2.index == label, cfg.error.one, 0), cfg.error, cfg.overflow)
        m.d.comb += [mul.x.eq(quotient), mul.b[0].eq(u_r[:sf]), mul.en.eq(advance)]
        with m.State("emit"):
            m.d.comb += hold_u.eq(~advance)
            with m.If(advance):
                m.d.sync += [s1.valid.eq(~issued_all), s1.index.eq(index), s1.top.eq(u_r[sf]), s2.eq(s1),
                             self.o.valid.eq(s2.valid), self.o.payload.eq(error)]
                with m.If(~issued_all):
                    next_z()
                    m.d.sync += index.eq(Mux(last, 0, index + 1))
                    with m.If(last):
                        m.d.sync += issued_all.eq(1)
                with m.If(s2.valid & (s2.index == cfg.n_classes - 1)):
                    m.d.sync += self.owns.eq(0)
            self._count_out(m, emitted, accepting)

    def _count_out(self, m, emitted, accepting):
        """In the state ``emit``: count the errors taken from ``o``; after the sample's last, back to "load"."""
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += emitted.eq(emitted + 1)
            with m.If(emitted == self._config.n_classes - 1):
                m.d.sync += accepting.eq(1)
                m.next = "load"

    def _emit(self, m, *, scores, shift_scores, label, index, last, hold_u, booth, r_ring, next_z, issued_all, emitted,
              accepting):
        """The FSM state ``emit`` and its pipeline without the lanes: P1 registers the product ``u * r`` (MSE: the
        score), P2 the rounded, narrowed error; both advance only when the output register is free or being taken.

        Softmax (``booth``, :meth:`_booth`): one Booth digit a cycle, the product done after the last;
        a digit before it, the next class's z (its u is in ``u_r`` as the next product starts). MSE:
        one score a cycle. Once the last error has left, the state returns to "load".
        """
        cfg = self._config
        advance = ~self.o.valid | self.o.ready
        v1 = Signal()
        idx1 = Signal(range(cfg.n_classes))
        if booth is not None:
            product = Signal(unsigned(cfg.softmax_frac + 1 + self.quotient_bits))
            p = shift_right(product, cfg.softmax_recip_bits - cfg.error.frac, cfg.rounding)
        else:
            product = Signal(signed(cfg.act.width))
            p = shift_right(product, cfg.act.frac - cfg.error.frac, cfg.rounding)
        error = narrow(p - Mux(idx1 == label, cfg.error.one, 0), cfg.error, cfg.overflow)
        with m.State("emit"):
            m.d.comb += hold_u.eq(~advance)
            with m.If(advance):
                m.d.sync += [v1.eq(0), self.o.valid.eq(v1), self.o.payload.eq(error)]
                if booth is not None:  # one Booth digit a cycle; the product is done after the last
                    digits = self.booth_digits
                    done = booth.digit == digits - 1
                    with m.If(~issued_all):
                        m.d.sync += [booth.partial.eq(booth.total_now >> 2), booth.low.eq(booth.low_now),
                                     booth.digit.eq(Mux(done, 0, booth.digit + 1)), r_ring.eq(r_ring.rotate_right(2))]
                        with m.If(booth.digit == digits - 2):  # the next class's z: its u is in u_r after ``done``
                            next_z()
                        with m.If(done):
                            m.d.comb += booth.restart.eq(1)
                            m.d.sync += product.eq(Cat(booth.low_now, booth.total_now >> 2))
                else:
                    done = 1
                    with m.If(~issued_all):
                        m.d.comb += shift_scores.eq(1)
                        m.d.sync += product.eq(scores[0])
                with m.If(~issued_all & done):
                    m.d.sync += [v1.eq(1), idx1.eq(index), index.eq(Mux(last, 0, index + 1))]
                    with m.If(last):
                        m.d.sync += issued_all.eq(1)
            self._count_out(m, emitted, accepting)

    def _booth(self, u_r, r_ring):
        """``u * r`` without a DSP: radix-4 Booth over ``r``, two bits of ``r`` a cycle, least significant first.

        ``r_ring`` holds ``r`` (with ``r[-1] = 0`` at bit 0), rotated right by 2 per digit done:
        the digit's window is its bottom 3 bits (the last digit's top bit is bit 0 again, the
        0 below ``r``: ``r >= 0`` has a 0 there). ``partial`` holds the sum so far shifted
        right by the bits done; the bits shifted out are final and collect in ``low``.
        Returns a :class:`_Booth`: the registers, ``restart`` and this digit's ``partial`` and
        ``low`` (the caller registers them).
        """
        digits, u_width = self.booth_digits, len(u_r)
        digit = Signal(range(digits))
        window = r_ring[:3]
        negative = window[2]
        double = Mux(negative, ~window[1] & ~window[0], window[1] & window[0])
        single = window[1] ^ window[0]
        term = Mux(double, u_r << 1, Mux(single, u_r, 0))
        partial = Signal(signed(u_width + 1), reset_less=True)
        # this digit's sum, not yet shifted; a negative term is its complement plus 1
        term = Cat(term, C(0, 1)).as_signed()
        total_now = partial + Mux(negative, ~term, term) + negative
        low = Signal(2 * digits)
        restart = Signal()  # a product is done: the next starts from 0 (the flip-flops' reset)
        return _Booth(digit, partial, low, restart, total_now, Cat(low[2:], total_now[:2]))

    def _divide_states(self, m, total, quotient, r_ring, *, next_z, start_emit, early_z):
        """The FSM states ``divide_setup`` and ``divide``: ``quotient = floor(2**R / total)``, one bit a cycle.

        Long division, the partial remainder shifting left past a fixed divisor: 2**R's bits
        below the first quotient bit are 0, so nothing is brought down, and the remainder
        stays below twice the sum (no wide divisor shifting right). Two bits a cycle (two such
        steps one after the other) would save ``quotient_bits / 2`` cycles a sample for about 20 logic cells,
        but its two carry chains in one cycle became the UP5K core's critical path (31 MHz, measured; 41 without).
        Class 0's z is loaded in the step before the last, so its u is in ``u_r`` as the emit starts;
        with ``early_z`` (the lane emit, one class a cycle) class 1's in the last.
        """
        remainder = Signal(unsigned(len(total) + 1))
        steps = Signal(range(self.quotient_bits + 1))
        with m.State("divide_setup"):  # and E3 adds the last u: the sum is complete at the first divide step
            m.d.sync += [remainder.eq(1 << (self._config.softmax_recip_bits - (self.quotient_bits - 1))),
                         r_ring.eq(0), steps.eq(0)]
            m.next = "divide"
        with m.State("divide"):
            fits = remainder >= total
            m.d.sync += [remainder.eq(Mux(fits, remainder - total, remainder) << 1),
                         quotient.eq(Cat(fits, quotient[:-1])), steps.eq(steps + 1)]
            # quotient_bits >= 3 (golden.config), so there is a step before the last
            with m.If(steps == self.quotient_bits - 2):
                # the scores are in class order again: class 0's z (u_r has its u as the emit
                # starts), and the ring moves on
                next_z()
            with m.If(steps == self.quotient_bits - 1):
                if early_z:
                    next_z()
                start_emit()
                m.next = "emit"
