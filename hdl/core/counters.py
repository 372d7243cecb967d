"""The core's counters: cycles, samples, MACs done and skipped (``hdl.protocol.COUNTER_NAMES``), and optionally
what a sample costs by pass (``hdl.protocol.COST_EVENTS``)."""

from amaranth import Module, Signal
from amaranth.hdl import Array, Cat
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..protocol import COUNTER_BITS, COUNTER_NAMES

__all__ = ["Counters"]

#: the lower half of a counter that steps by 1: two carry chains of 24 bits, not one of 48
LOW_BITS = COUNTER_BITS // 2


class Counters(wiring.Component):
    """``COUNTER_BITS``-bit counters, read as 32-bit words (low word first): ``COUNTER_NAMES``, then ``costs``.

    The cost counters are 48 bits like the others, not 32: the host reads the counters only
    around each epoch's evaluation and at the end of a run, so a counter must not wrap
    within an epoch. The busiest event, the forward weight reads, comes ``lanes`` a cycle
    (2**32 of them in 11 s at 48 MHz with 8 lanes); one MNIST epoch (60 000 samples) of a
    dense 784-64-10 net is already 3.0e9 of them, 70% of 2**32, and a wider net wraps. 48
    bits last as long as the cycle counter (68 days at 48 MHz), and the reply format stays
    one for every counter.

    With ``halves``, the counters that step by several bits (the MACs, the cost counters) show their count of a
    cycle ago (:attr:`late`): their two 24-bit halves add a cycle apart, so that no carry chain is 48 bits long.
    The host reads them between runs, when they have stood still for many cycles.

    A counter never wraps silently: the bit above its ``COUNTER_BITS`` (bit 48 of the 64-bit
    value the host reads) is set when it wraps and stays set until reset, so the value the
    host reads never goes down unseen (``tb/test_formal.py`` proves it).

    Parameters
    ----------
    max_step : int
        The largest ``macs_done`` or ``macs_skipped`` increment.
    halves : bool
        The counters that step by several bits as two halves a cycle apart (``[hardware] pipeline =
        "balanced"``), else one adder each.
    costs : dict of str to int
        The cost counters' names (in reply order) and their largest increments; none by default.

    Members
    -------
    busy : In(1)
        Count this cycle (``cycles``: a sample is in progress).
    sample : In(1)
        A training sample is done.
    macs_done, macs_skipped : In(range(max_step + 1))
        Added every cycle; give them from a register, so the carry chains start at a flip-flop.
    costs : In(wiring.Signature({name: Out(range(step + 1))}))
        With ``costs`` only: each cost counter's increment, added every cycle; registered, as above.
    select : In(range(words))
    word : Out(32)
        Word ``select`` (combinational).

    Attributes
    ----------
    registers : dict of str to Signal
        Each counter: ``COUNTER_BITS`` bits and the wrap flag above them (tests may read them).
    """

    def __init__(self, *, max_step: int, costs: dict = None, halves: bool = False):
        if not isinstance(max_step, int) or max_step < 1:
            raise ValueError(f"max_step must be a positive integer, not {max_step!r}")
        costs = dict(costs or {})
        for name, step in costs.items():
            if not isinstance(step, int) or step < 1:
                raise ValueError(f"costs[{name!r}] must be a positive integer, not {step!r}")
            if name in COUNTER_NAMES:
                raise ValueError(f"costs[{name!r}] is a name of the basic counters {COUNTER_NAMES}")
        self._costs = costs
        self._halves = halves
        self.registers = {name: Signal(COUNTER_BITS + 1, name=name) for name in self.names}
        # the counters that step by 1: a flag each, set when the lower half is all ones
        self._ones = {name: Signal(name=f"{name}_ones") for name in ("cycles", "samples")}
        members = {
            "busy": In(1), "sample": In(1),
            "macs_done": In(range(max_step + 1)), "macs_skipped": In(range(max_step + 1)),
            "select": In(range(self.words)), "word": Out(32),
        }
        if costs:
            members["costs"] = In(wiring.Signature({name: Out(range(step + 1)) for name, step in costs.items()}))
        super().__init__(members)

    @property
    def names(self) -> tuple:
        """The counters in reply order (``hdl.protocol.counter_names`` of the core's configuration)."""
        return COUNTER_NAMES + tuple(self._costs)

    @property
    def words(self) -> int:
        """32-bit words of the counters: two per counter."""
        return 2 * len(self.names)

    @property
    def late(self) -> tuple:
        """The counters that show their count of a cycle ago: with ``halves``, those that step by several bits."""
        return tuple(name for name in self.names if name not in self._ones) if self._halves else ()

    @property
    def invariants(self) -> list:
        """What holds in every state reachable from reset (for a proof by induction): the flag of each counter
        that steps by 1 says whether its lower half is all ones."""
        return [ones == self.registers[name][:LOW_BITS].all() for name, ones in self._ones.items()]

    def elaborate(self, platform):
        m = Module()
        # 48 bits: 68 days of cycles at 48 MHz (the protocol sends 64: the wrap flag, then zeros)
        counters = self.registers
        steps = {"cycles": self.busy, "samples": self.sample,
                 "macs_done": self.macs_done, "macs_skipped": self.macs_skipped}
        steps.update({name: getattr(self.costs, name) for name in self._costs})
        for name, counter in counters.items():
            step, count, wrapped = steps[name], counter[:COUNTER_BITS], counter[COUNTER_BITS]
            total = Signal(COUNTER_BITS + 1, name=f"{name}_total")  # the carry out is the wrap
            if name in self._ones:
                # an enable and two incrementers of 24 bits, not one carry chain of 48: the upper half steps when
                # the lower half is all ones, which a flag knows a cycle ahead (exact in every cycle: no late carry)
                low, high, ones = count[:LOW_BITS], count[LOW_BITS:], self._ones[name]
                m.d.comb += total.eq(Cat((low + 1)[:LOW_BITS], high + ones))
                with m.If(step):
                    m.d.sync += [counter.eq(Cat(total[:COUNTER_BITS], wrapped | total[COUNTER_BITS])),
                                 ones.eq(low == (1 << LOW_BITS) - 2)]
            elif not self._halves:  # a step of several bits: one adder (its carry into the upper half is not known
                m.d.comb += total.eq(count + step)  # a cycle ahead)
                m.d.sync += counter.eq(Cat(total[:COUNTER_BITS], wrapped | total[COUNTER_BITS]))
            else:
                # a step of several bits: two adders of 24 bits, the upper one a cycle behind the lower (whose
                # carry out waits in a register). The counter shows its lower half a cycle late too, so what it
                # shows is the exact count of a cycle ago in every cycle: it never goes down between the halves
                most = (1 << len(step)) - 1  # the carry: a step may span the lower half (and part tests' is short)
                low, carry = Signal(LOW_BITS, name=f"{name}_low"), Signal(range(((1 << LOW_BITS) - 1 + most >> LOW_BITS)
                                                                                  + 1), name=f"{name}_carry")
                shown, upper = counter[:LOW_BITS], counter[LOW_BITS:]  # and the wrap flag above the upper half
                low_sum = Signal(LOW_BITS + len(carry), name=f"{name}_low_sum")
                m.d.comb += [low_sum.eq(low + step), total.eq(upper[:-1] + carry)]
                m.d.sync += [Cat(low, carry).eq(low_sum), shown.eq(low),
                             upper.eq(Cat(total[:COUNTER_BITS - LOW_BITS], wrapped | total[COUNTER_BITS - LOW_BITS]))]
        words = Array(v for name in self.names for v in (counters[name][:32], counters[name][32:]))
        m.d.comb += self.word.eq(words[self.select])
        return m
