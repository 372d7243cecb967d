"""The training samples' order of ``[training] order = "lfsr"``: every epoch's permutation from an LFSR, drawn
the same way by golden, the host and the core (:class:`hdl.store.lfsr_order.LfsrOrder`), so a core with a data
store needs no order memory.

With ``N`` training samples (records ``0 .. N - 1``) and ``w = max(1, bit_length(N - 1))`` index bits (every
index is below ``2**w``):

- the **state** ``s`` is a maximal-length Galois LFSR of ``W = w + 1`` bits (:data:`TAPS`, right-shifting:
  :func:`step`), period ``P = 2**W - 1``; it starts at :data:`START` (``1``);
- the **key** ``q`` is a second LFSR of the same width and taps, stepped once per period of ``s``: whenever ``s``
  steps onto :data:`START` again. It starts at :func:`initial_key` of the training seed and ``N``;
- a **draw** steps ``s`` (and, at :data:`START`, ``q``), then takes the candidate ``t = s ^ K`` with the mask
  ``K = 2**w | (q mod 2**w)``: ``t`` is the sample index when ``t < N``; otherwise it draws on.

Over one period ``s`` takes every nonzero ``W``-bit value once. ``t < N`` needs bit ``w`` of ``s`` set (it is
set in ``K``), and the values with that bit set, XORed with ``K``, are every ``w``-bit value once: so a period
yields each index ``0 .. N - 1`` exactly once (:data:`START` itself never: ``1 ^ K >= 2**w >= N``). Epoch ``e`` is
the period with key ``q = step**e(q0)``: a permutation, a different one each epoch. A draw takes ``P / N`` steps
on average (between 2 and 4). Neighbouring indices of an epoch are related (a Galois step is a shift and an XOR),
which a data set in no particular order (a shuffled split) does not notice.

Seeding: the host sends the core ``[initial_key(seed, N) - 1, N - 1]`` as entries 0 and 1 of one ORDER command
(both are sample indices, so the core's and the link's checks of ORDER hold) before the first EPOCH; every EPOCH
then draws ``count`` indices, going on where the last one stopped.
"""

import numpy as np

from .errors import ConfigError
from .lfsr import initial_state

__all__ = ["ORDERS", "TAPS", "START", "MAX_SAMPLES", "index_bits", "step", "initial_key", "seed_words", "LfsrOrder"]

#: ``[training] order``: "host" (golden's NumPy permutation per epoch, sent to the core's order memory) or "lfsr"
ORDERS = ("host", "lfsr")
#: Galois feedback masks (bit ``k - 1`` for each term ``x^k``, the constant term left out) of maximal-length
#: polynomials, by width: XAPP052's table (Alfke, "Efficient Shift Registers, LFSR Counters, and Long
#: Pseudo-Random Sequence Generators", Xilinx 1996), taps n, a, b, ... as x^n + x^a + x^b + ... + 1
TAPS = {width: sum(1 << (t - 1) for t in taps) for width, taps in {
    2: (2, 1), 3: (3, 2), 4: (4, 3), 5: (5, 3), 6: (6, 5), 7: (7, 6), 8: (8, 6, 5, 4), 9: (9, 5), 10: (10, 7),
    11: (11, 9), 12: (12, 6, 4, 1), 13: (13, 4, 3, 1), 14: (14, 5, 3, 1), 15: (15, 14), 16: (16, 15, 13, 4),
    17: (17, 14), 18: (18, 11), 19: (19, 6, 2, 1), 20: (20, 17), 21: (21, 19), 22: (22, 21), 23: (23, 18),
    24: (24, 23, 22, 17), 25: (25, 22)}.items()}
#: where every period of the state starts and ends (never a draw)
START = 1
#: the most training samples an LFSR order takes: ``w <= 24``, the store's index range
MAX_SAMPLES = 1 << 24


def index_bits(n: int) -> int:
    """``w``: the bits of the indices of ``n`` samples, at least 1; the LFSR is ``w + 1`` bits wide."""
    return max(1, (n - 1).bit_length())


def step(state, feedback):
    """One Galois step: shift right, XOR the taps in when the bit shifted out was 1.

    ``feedback(state)`` is the taps when the low bit is 1, else 0: with integers :class:`LfsrOrder` passes
    ``lambda s: -(s & 1) & taps``, the core an Amaranth ``Mux``, so both run this one function.
    """
    return (state >> 1) ^ feedback(state)


def initial_key(seed: int, n: int) -> int:
    """The key's first state for the training ``seed`` and ``n`` samples: in ``1 .. n`` (nonzero, and sent to the
    core as the sample index ``initial_key - 1``)."""
    return initial_state(seed) % n + 1


def seed_words(seed: int, n: int) -> list:
    """ORDER entries 0 and 1 that seed the core's LFSR order: the key's first state minus 1, the last index."""
    return [initial_key(seed, n) - 1, n - 1]


class LfsrOrder:
    """Golden's copy of the on-chip order: :meth:`next` draws one index, :meth:`epoch` the next ``n``.

    Parameters
    ----------
    seed : int
        The training seed (``--seed``), 0..4294967295.
    n : int
        Training samples, 1 .. :data:`MAX_SAMPLES`.
    """

    def __init__(self, seed: int, n: int):
        if not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_SAMPLES:
            raise ConfigError("[training] order", f"= 'lfsr' draws from 1..{MAX_SAMPLES} training samples, not {n}",
                              "use order = 'host'", "<config>")
        self.n, self.bits = int(n), index_bits(int(n))
        self.taps = TAPS[self.bits + 1]
        self.state, self.key = START, initial_key(seed, self.n)

    def next(self) -> int:
        """The next sample index."""
        top, taps = 1 << self.bits, self.taps
        feedback = lambda s: -(s & 1) & taps  # noqa: E731
        while True:
            self.state = step(self.state, feedback)
            if self.state == START:  # a new period: the next epoch's key
                self.key = step(self.key, feedback)
            index = self.state ^ (top | (self.key & (top - 1)))
            if index < self.n:
                return index

    def epoch(self) -> np.ndarray:
        """The next ``n`` indices: one epoch, a permutation of ``0 .. n - 1`` (int64, as ``rng.permutation``)."""
        return np.array([self.next() for _ in range(self.n)], dtype=np.int64)
