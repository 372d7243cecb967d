"""The LFSR order source: the data store's sample order with ``[training] order = "lfsr"``, drawn on chip.

The sequence is :mod:`golden.order`'s, bit for bit: the state and key LFSRs, their taps (:data:`golden.order.TAPS`,
chosen at run time by the number of training samples) and the step (:func:`golden.order.step`) are golden's.
It replaces the order memory: the same write port (ORDER) seeds it, and the epoch runner takes its indices as a
stream instead of reading the memory.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import WritePort
from amaranth.lib.wiring import Out

from trifactor.golden.order import START, TAPS, index_bits, step

from ..errors import reject

__all__ = ["LfsrOrder"]


class LfsrOrder(wiring.Component):
    """Training sample indices from :mod:`golden.order`'s LFSRs, for a store of ``samples`` records.

    A write (the ORDER command, through the store's ``order_write``) restarts the sequence at
    :data:`golden.order.START`: entry 0 sets the key to the value plus 1 (:func:`golden.order.seed_words`),
    entry 1 sets ``N - 1``, the last training record, and with it the width and taps (``N <= samples``); other
    entries set nothing else. The host writes both, once, before the first EPOCH; the sequence then goes on
    over EPOCH runs and epochs.

    Timing: ``o`` holds each index (valid, payload stable) until it is taken; while ``o`` is not valid, or in
    the cycle it is taken, the state steps once. So an index is valid at the earliest the cycle after the one
    before it was taken, and each candidate it passes over (not below ``N``) adds a cycle: ``(2**(w+1) - 1) / N``
    cycles an index on average, 2 to 4, which the runner's walk hides behind the samples it feeds.

    Parameters
    ----------
    samples : int
        Records of the store: the indices are ``range(samples)``, ``N`` is at most ``samples``.

    Members
    -------
    write : Out(WritePort.Signature(addr_width=..., shape=range(samples)))
        The ORDER command's writes: a memory's write port (its users take it as ``In(...)``), the order
        memory's in a store without one.
    o : Out(stream.Signature(range(samples)))
        The indices.
    """

    def __init__(self, *, samples: int):
        if not isinstance(samples, int) or not 1 <= samples < 1 << 24:
            reject(self, f"samples must be an integer in 1..2**24-1, not {samples!r}")
        self._samples = samples
        super().__init__({
            "write": Out(WritePort.Signature(addr_width=max(1, (samples - 1).bit_length()), shape=range(samples))),
            "o": Out(stream.Signature(range(samples))),
        })

    @property
    def samples(self) -> int:
        return self._samples

    @property
    def state_bits(self) -> int:
        """Bits of the state and key registers: ``w + 1`` for the largest ``N``, ``samples``."""
        return index_bits(self._samples) + 1

    def _configure(self, m, last, taps, top):
        """Entry 1: ``N - 1`` and, from its highest set bit, ``w``'s taps and ``2**w``."""
        value, bits = self.write.data, index_bits(self._samples)
        m.d.sync += last.eq(value)
        for w in reversed(range(1, bits + 1)):  # w = max(1, bit_length(N - 1)): the highest set bit decides
            condition = value[w - 1] if w > 1 else 1
            with (m.If if w == bits else m.Elif)(condition):
                m.d.sync += [taps.eq(TAPS[w + 1]), top.eq(1 << w)]

    def elaborate(self, platform):
        m = Module()
        bits = self.state_bits
        state, key = Signal(bits, init=START), Signal(bits, init=START)
        last = Signal(range(self._samples))  # N - 1
        taps, top = Signal(bits, init=TAPS[2]), Signal(bits, init=2)  # N = 1 until written
        feedback = lambda s: Mux(s[0], taps, 0)  # noqa: E731
        following, next_key = Signal(bits), Signal(bits)
        m.d.comb += [following.eq(step(state, feedback)), next_key.eq(step(key, feedback))]
        candidate = Signal(bits)
        m.d.comb += [candidate.eq(state ^ top ^ (key & (top - 1))),
                     self.o.payload.eq(candidate), self.o.valid.eq(candidate <= last)]
        with m.If(self.write.en):
            m.d.sync += state.eq(START)
            with m.If(self.write.addr == 0):
                m.d.sync += key.eq(self.write.data + 1)
            with m.If(self.write.addr == 1):
                self._configure(m, last, taps, top)
        with m.Elif(~self.o.valid | self.o.ready):
            m.d.sync += state.eq(following)
            with m.If(following == START):  # a new period: the next epoch's key
                m.d.sync += key.eq(next_key)
        return m
