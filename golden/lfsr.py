"""The rule chooser's LFSR: which training samples of a ``hybrid`` run take the backpropagation path.

One definition for golden and hardware. The state is a 32-bit Galois LFSR with the
maximal-length polynomial ``x^32 + x^22 + x^2 + x + 1`` (:data:`TAPS`). Each training
sample advances it :data:`STEPS_PER_SAMPLE` steps (16 fresh bits, so consecutive samples'
choices are not shifted copies of each other), and the sample takes the BP path when the
state's top 16 bits are below ``round(bp_fraction * 2**16)``. The first state comes from
``[feedback] seed``: the same configuration gives the same sequence in golden and in the
core, which the hardware steps once per TRAIN sample (INFER does not step it).
"""

__all__ = ["TAPS", "WIDTH", "STEPS_PER_SAMPLE", "CHOICE_BITS", "initial_state", "step", "advance", "threshold",
           "takes_bp", "RuleChooser", "Directions"]

WIDTH = 32
#: Galois feedback mask of x^32 + x^22 + x^2 + x + 1 (bits 31, 21, 1, 0).
TAPS = 0x80200003
STEPS_PER_SAMPLE = 16
CHOICE_BITS = 16


def initial_state(seed: int) -> int:
    """The first state for ``[feedback] seed`` (never 0, the LFSR's one stuck state)."""
    state = (seed * 0x9E3779B1 + 0x2545F491) & 0xFFFFFFFF
    return state or 1


def step(state, lsb_mask):
    """One Galois step: shift right, XOR :data:`TAPS` in when the bit shifted out was 1.

    ``lsb_mask(state)`` is :data:`TAPS` when the low bit is 1, else 0; with integers
    :func:`advance` passes ``lambda s: -(s & 1) & TAPS``, the hardware an Amaranth ``Mux``,
    so both run this one function.
    """
    return (state >> 1) ^ lsb_mask(state)


def advance(state: int, steps: int = STEPS_PER_SAMPLE) -> int:
    for _ in range(steps):
        state = step(state, lambda s: -(s & 1) & TAPS)
    return state


def threshold(bp_fraction: float) -> int:
    """The top-16-bit value below which a sample takes the BP path (0 .. 2**16)."""
    return round(bp_fraction * (1 << CHOICE_BITS))


def takes_bp(state: int, bp_fraction: float) -> bool:
    """Whether a sample whose advanced state is ``state`` takes the BP path."""
    return (state >> (WIDTH - CHOICE_BITS)) < threshold(bp_fraction)


class RuleChooser:
    """Golden's copy of the on-chip chooser: :meth:`next` per training sample."""

    def __init__(self, seed: int, bp_fraction: float):
        self.state, self.bp_fraction = initial_state(seed), bp_fraction

    def next(self) -> bool:
        self.state = advance(self.state)
        return takes_bp(self.state, self.bp_fraction)


class Directions:
    """Rule ``ddfa``'s perturbations ``u``: one +-1 per hidden neuron and training sample, from the same LFSR.

    The state starts at :func:`initial_state` of ``[feedback] seed`` (``ddfa`` and ``hybrid`` never share a core,
    so they may share the sequence's start). Each hidden neuron, layer after layer and neuron after neuron, steps
    it once and takes ``+1`` if the new state's low bit is 1, else ``-1``. A training sample steps it
    ``sum(hidden sizes)`` times; INFER does not step it. ``E[u u^T] = I``, as the estimator needs.
    """

    def __init__(self, seed: int):
        self.state = initial_state(seed)

    def next(self, sizes) -> list:
        """The sample's directions, one list of +-1 (Python ints) per hidden layer of ``sizes``."""
        out = []
        for n in sizes:
            layer = []
            for _ in range(n):
                self.state = step(self.state, lambda s: -(s & 1) & TAPS)
                layer.append(1 if self.state & 1 else -1)
            out.append(layer)
        return out
