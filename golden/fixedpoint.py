"""Fixed-point formats and the named rounding and overflow modes.

Every narrowing step of the golden integer model (and so of the hardware) goes through
:func:`shift_right` and :func:`narrow`; the modes are named here once and the names
are used everywhere else, in the configuration, the model and the RTL.

Values are held as NumPy ``int64`` arrays of raw two's complement integers; a
:class:`Fixed` format says how many bits they have and where the binary point is.
"""

import enum
from dataclasses import dataclass

import numpy as np

__all__ = ["Rounding", "Overflow", "Fixed", "shift_right", "narrow"]


class Rounding(enum.Enum):
    """How a right shift drops bits.

    ``TRUNCATE`` rounds towards minus infinity (an arithmetic shift, free in hardware).
    ``HALF_UP`` adds half an LSB first (ties go towards plus infinity): one adder.
    """

    TRUNCATE = "truncate"
    HALF_UP = "half_up"


class Overflow(enum.Enum):
    """What happens to a value that does not fit its destination format.

    ``SATURATE`` clamps to the most positive or most negative value; ``WRAP`` keeps the
    low bits (two's complement wrap-around, what plain truncation of the bus does).
    """

    SATURATE = "saturate"
    WRAP = "wrap"


@dataclass(frozen=True)
class Fixed:
    """A signed two's complement fixed-point format with ``width`` bits, ``frac`` of them fractional.

    Parameters
    ----------
    width : int
        Total bits including the sign, 2..62.
    frac : int
        Fractional bits, 0..width-1. The value of raw integer ``v`` is ``v / 2**frac``.
    """

    width: int
    frac: int

    def __post_init__(self):
        if not isinstance(self.width, int) or not 2 <= self.width <= 62:
            raise ValueError(f"width must be an integer in 2..62, not {self.width!r}")
        if not isinstance(self.frac, int) or not 0 <= self.frac <= self.width - 1:
            raise ValueError(f"frac must be an integer in 0..{self.width - 1}, not {self.frac!r}")

    @property
    def min(self) -> int:
        """Most negative raw value."""
        return -(1 << (self.width - 1))

    @property
    def max(self) -> int:
        """Most positive raw value."""
        return (1 << (self.width - 1)) - 1

    @property
    def one(self) -> int:
        """Raw value of 1.0 (may be out of range: see :meth:`represents_one`)."""
        return 1 << self.frac

    def represents_one(self) -> bool:
        """Whether 1.0 is exactly representable (needed for a bias input or hard-tanh)."""
        return self.one <= self.max

    def quantize(self, x, rounding: Rounding = Rounding.HALF_UP, overflow: Overflow = Overflow.SATURATE):
        """Raw integers nearest to the real values ``x`` (float array), narrowed to this format."""
        with np.errstate(over="ignore", invalid="ignore"):  # huge and infinite inputs saturate below
            scaled = np.asarray(x, dtype=np.float64) * (1 << self.frac)
            raw = np.floor(scaled)
            if rounding is Rounding.HALF_UP:
                raw += scaled - raw >= 0.5  # exact, unlike floor(scaled + 0.5), which can round first
        raw = np.clip(raw, -(2.0 ** 62), 2.0 ** 62).astype(np.int64)
        return narrow(raw, self, overflow)

    def to_float(self, raw):
        """Real values of raw integers."""
        return np.asarray(raw, dtype=np.float64) / (1 << self.frac)

    def __str__(self):
        return f"Q{self.width - self.frac}.{self.frac} ({self.width} bits)"


def shift_right(value, shift: int, rounding: Rounding):
    """Divide raw integers by ``2**shift`` with the named rounding; ``shift <= 0`` shifts left (exact)."""
    value = np.asarray(value, dtype=np.int64)
    if shift <= 0:
        return value << -shift
    if rounding is Rounding.HALF_UP:
        # floor((v + 2**(s-1)) / 2**s), computed as the hardware does: shift, then add the
        # round bit (the last bit shifted out); no intermediate can overflow
        kept = value >> (shift - 1)
        return (kept >> 1) + (kept & 1)
    return value >> shift


def narrow(value, fmt: Fixed, overflow: Overflow):
    """Fit raw integers into ``fmt`` with the named overflow mode."""
    value = np.asarray(value, dtype=np.int64)
    if overflow is Overflow.SATURATE:
        return np.clip(value, fmt.min, fmt.max)
    mask = (1 << fmt.width) - 1
    return ((value - fmt.min) & mask) + fmt.min
