"""The core's counters: cycles, samples, MACs done and skipped (``hdl.protocol.COUNTER_NAMES``), and optionally
what a sample costs by pass (``hdl.protocol.COST_EVENTS``)."""

from amaranth import Module, Signal
from amaranth.hdl import Array, C, Cat, Mux
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory, MemoryData
from amaranth.lib.wiring import In, Out

from ..protocol import COUNTER_BITS, COUNTER_NAMES, counter_names
from ..spram import SPRAM_ATTR
from .sweeper import max_macs_step

__all__ = ["Counters", "SpramCounters", "counter_memory_bits", "counter_placement"]

#: the lower half of a counter that steps by 1: two carry chains of 24 bits, not one of 48
LOW_BITS = COUNTER_BITS // 2


def counted(max_step: int, costs: dict, outputs: dict) -> dict:
    """The members of a counters part: the events it counts, ``outputs``, then the cost counters' events."""
    members = {"busy": In(1), "sample": In(1),
               "macs_done": In(range(max_step + 1)), "macs_skipped": In(range(max_step + 1)), **outputs}
    if costs:
        members["costs"] = In(wiring.Signature({name: Out(range(step + 1)) for name, step in costs.items()}))
    return members


def checked_costs(max_step: int, costs: dict | None) -> dict:
    """The cost counters' largest increments, by name, once ``max_step`` and ``costs`` are checked (``ValueError``)."""
    if not isinstance(max_step, int) or max_step < 1:
        raise ValueError(f"max_step must be a positive integer, not {max_step!r}")
    costs = dict(costs or {})
    for name, step in costs.items():
        if not isinstance(step, int) or step < 1:
            raise ValueError(f"costs[{name!r}] must be a positive integer, not {step!r}")
        if name in COUNTER_NAMES:
            raise ValueError(f"costs[{name!r}] is a name of the basic counters {COUNTER_NAMES}")
    return costs


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
        self._costs = costs = checked_costs(max_step, costs)
        self._halves = halves
        self.registers = {name: Signal(COUNTER_BITS + 1, name=name) for name in self.names}
        # the counters that step by 1: a flag each, set when the lower half is all ones
        self._ones = {name: Signal(name=f"{name}_ones") for name in ("cycles", "samples")}
        super().__init__(counted(max_step, costs, {"select": In(range(self.words)), "word": Out(32)}))

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


def counter_placement(config, store_samples: int = 0) -> str:
    """Where a core's counters are: ``"spram"`` (:class:`SpramCounters`) when it has a data store and its lane banks
    are in block RAM, the UP5K build that must fit beside its store with SPRAMs to spare, and it has only the basic
    counters, whose accumulators fit a memory word; else ``"registers"`` (:class:`Counters`)."""
    step = max_macs_step(config)
    fits = accumulator_bits([1, 1, step, step], len(COUNTER_NAMES)) <= 16
    spram = store_samples and config.bank_placement == "block_ram" and not config.cost_counters and fits
    return "spram" if spram else "registers"


def counter_memory_bits(config) -> int:
    """Bits of :class:`SpramCounters`' memory for ``config``'s counters (:func:`hdl.protocol.counter_names`)."""
    return SPRAM_WORDS * 16 * len(counter_names(config))


#: 16-bit words of a counter in :class:`SpramCounters`' memory: bits 0-15, 16-31, 32-47, then the wrap flag (bit 48)
SPRAM_WORDS = 4
#: The most cycles :class:`SpramCounters`' servicer spends on one counter in its round: an overflow read and written
#: a word at a time (3 reads, 3 writes), the wrap flag written
SERVICE_CYCLES = 7


def accumulator_bits(steps, counters: int) -> int:
    """Bits of each :class:`SpramCounters` accumulator: a whole number of nibbles (the SPRAM's write mask is a
    nibble a bit) such that the largest step cannot overflow it twice while the servicer goes once round
    ``counters`` counters (``SERVICE_CYCLES`` each at most). At most 16 fit (a memory word)."""
    bits = 4
    while 1 << bits <= max(steps) * SERVICE_CYCLES * counters:
        bits += 4
    return bits


class SpramCounters(wiring.Component):
    """:class:`Counters` with the counts in a single-port memory marked for the UP5K's SPRAM: the same counters,
    the same reply words, for a few flip-flops each instead of ``COUNTER_BITS + 1``.

    Each counter counts in an accumulator of :func:`accumulator_bits` bits (flip-flops); its
    carry out marks the counter pending. A servicer goes round the counters, a cycle for one
    with nothing pending, and adds a pending counter's carry to its words in the memory (a
    read and a write a 16-bit word, as far as the carry goes; the carry out of bit 47 sets the
    wrap flag, bit 48, for good). An accumulator cannot overflow twice in a round, so no carry
    is lost. The memory's low ``accumulator_bits`` bits of a counter are stale until a dump.

    A reply (``dump`` high) waits until nothing is pending, writes every accumulator into its
    counter's low bits (the write mask keeps the rest), then streams the words on ``o``, two
    memory reads each: the counters' values at the dump, exact. The host reads the counters
    when the core is idle, so nothing counts then. The memory is cleared after reset (4 words a
    counter, one a cycle), as the registers of :class:`Counters` reset; a dump waits for it.

    Parameters
    ----------
    max_step, costs
        As :class:`Counters` (``halves`` has no meaning here: every carry chain is an accumulator's).

    Members
    -------
    busy, sample, macs_done, macs_skipped, costs
        As :class:`Counters`.
    dump : In(1)
        Send the reply words on ``o`` (from the first, while high; lowered after the last is taken).
    o : Out(stream.Signature(32))
        The words, in :class:`Counters`' reply order.

    Attributes
    ----------
    accumulator_bits : int
    data : MemoryData
    """

    def __init__(self, *, max_step: int, costs: dict = None):
        self._costs = checked_costs(max_step, costs)
        steps = [1, 1, max_step, max_step, *self._costs.values()]
        #: bits of each counter's accumulator
        self.accumulator_bits = accumulator_bits(steps, len(self.names))
        if self.accumulator_bits > 16:
            raise ValueError(f"SpramCounters: steps up to {max(steps)} need {self.accumulator_bits}-bit accumulators, "
                             "more than a memory word's 16")
        #: the counters' memory (tests may read and write it): :data:`SPRAM_WORDS` words a counter, low first
        self.data = MemoryData(shape=16, depth=SPRAM_WORDS * len(self.names), init=[])
        super().__init__(counted(max_step, self._costs, {"dump": In(1), "o": Out(stream.Signature(32))}))

    names, words = Counters.names, Counters.words  # the same counters, in the same reply order

    def elaborate(self, platform):
        m = Module()
        n, acc_bits = len(self.names), self.accumulator_bits
        steps = {"cycles": self.busy, "samples": self.sample,
                 "macs_done": self.macs_done, "macs_skipped": self.macs_skipped}
        steps.update({name: getattr(self.costs, name) for name in self._costs})
        accumulators = [Signal(acc_bits, name=name) for name in self.names]  # the count's low bits
        pending, serviced = Signal(n), Signal(n)
        carries = []
        for name, acc in zip(self.names, accumulators):
            total = Signal(acc_bits + 1, name=f"{name}_total")
            m.d.comb += total.eq(acc + steps[name])
            m.d.sync += acc.eq(total[:acc_bits])
            carries.append(total[acc_bits])
        m.d.sync += pending.eq(pending & ~serviced | Cat(carries))

        m.submodules.memory = memory = Memory(data=self.data, attrs={"no_rw_check": 1, SPRAM_ATTR: 1})
        rd, wp = memory.read_port(), memory.write_port(granularity=4)
        # one port, as SPRAM has: the write's address while writing, else the read's
        read_addr, write_addr, reading = Signal.like(rd.addr), Signal.like(wp.addr), Signal()
        writing = wp.en.any()
        address = Mux(writing, write_addr, read_addr)
        m.d.comb += [wp.addr.eq(address), rd.addr.eq(address), rd.en.eq(reading & ~writing)]

        k = Signal(range(n))            # the counter the servicer (or the flush) is at
        word = Signal(range(SPRAM_WORDS))  # its word
        at = Signal(range(SPRAM_WORDS * n + 1))  # the clear's word, then the dump's reply word
        hold = Signal(16)               # a reply word's low half
        step = Signal(17)               # a word read plus the carry into it
        m.d.comb += step.eq(rd.data + Mux(word == 0, 1 << acc_bits, 1))
        account = Signal(acc_bits)      # the accumulator of counter k
        with m.Switch(k):
            for i, acc in enumerate(accumulators):
                with m.Case(i):
                    m.d.comb += account.eq(acc)
        last = k == n - 1

        def next_counter():
            m.d.sync += k.eq(Mux(last, 0, k + 1))

        with m.FSM():
            with m.State("clear"):  # after reset: every word zero
                m.d.comb += [write_addr.eq(at), wp.data.eq(0), wp.en.eq(0xF)]
                m.d.sync += at.eq(at + 1)
                with m.If(at == SPRAM_WORDS * n - 1):
                    m.next = "round"
            with m.State("round"):  # a cycle a counter; a pending one's first word is read now
                m.d.comb += [read_addr.eq(Cat(C(0, 2), k)), reading.eq(1)]
                m.d.sync += word.eq(0)
                with m.If(pending.bit_select(k, 1)):
                    m.next = "write"
                with m.Else():
                    next_counter()
                    with m.If(self.dump & ~pending.any()):
                        m.d.sync += k.eq(0)
                        m.next = "flush"
            with m.State("read"):
                m.d.comb += [read_addr.eq(Cat(word, k)), reading.eq(1)]
                m.next = "write"
            with m.State("write"):  # the word plus the carry into it; on, while it carries out
                m.d.comb += [write_addr.eq(Cat(word, k)), wp.data.eq(step[:16]), wp.en.eq(0xF)]
                with m.If(step[16]):
                    m.d.sync += word.eq(word + 1)
                    m.next = "read"
                    with m.If(word == SPRAM_WORDS - 2):
                        m.next = "wrap"
                with m.Else():
                    m.d.comb += serviced.eq(1 << k)
                    next_counter()
                    m.next = "round"
            with m.State("wrap"):  # the carry out of bit 47: the wrap flag, set for good
                m.d.comb += [write_addr.eq(Cat(C(SPRAM_WORDS - 1, 2), k)), wp.data.eq(1), wp.en.eq(0xF),
                             serviced.eq(1 << k)]
                next_counter()
                m.next = "round"
            with m.State("flush"):  # each accumulator into its counter's low bits (the mask keeps the others)
                m.d.comb += [write_addr.eq(Cat(C(0, 2), k)), wp.data.eq(account),
                             wp.en.eq((1 << acc_bits // 4) - 1)]
                m.d.sync += [k.eq(k + 1), at.eq(0)]
                with m.If(last):
                    m.d.sync += k.eq(0)
                    m.next = "low"
            with m.State("low"):  # a reply word: its low half, then its high half (the next memory word)
                m.d.comb += [read_addr.eq(Cat(C(0, 1), at)), reading.eq(1)]
                m.next = "high"
            with m.State("high"):
                m.d.comb += [read_addr.eq(Cat(C(1, 1), at)), reading.eq(1)]
                m.d.sync += hold.eq(rd.data)
                m.next = "send"
            with m.State("send"):  # the read port holds the high half while not reading
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(Cat(hold, rd.data))]
                with m.If(self.o.ready):
                    m.d.sync += at.eq(at + 1)
                    m.next = "low"
                    with m.If(at == self.words - 1):
                        m.next = "done"
            with m.State("done"):
                with m.If(~self.dump):
                    m.next = "round"
        return m
