"""Amaranth forms of golden/fixedpoint.py: the same named rounding and overflow modes, the same results.

These build combinational expressions; the unit tests compare them (inside each unit) with
the NumPy functions of the same names by exact equality.
"""

from amaranth.hdl import C, Cat, Mux, Value

from trifactor.golden.fixedpoint import Fixed, Overflow, Rounding

__all__ = ["shift_right", "clamp", "as_signed", "narrow"]


def shift_right(value, shift: int, rounding: Rounding):
    """``value / 2**shift`` with the named rounding; a negative ``shift`` shifts left (exact).

    ``HALF_UP`` shifts by ``shift - 1``, then adds the last bit shifted out (the round bit)
    to the value shifted by one more: one adder, no intermediate wider than the input.
    """
    if shift <= 0:
        return value << -shift
    if rounding is Rounding.HALF_UP:
        kept = value >> (shift - 1)
        return (kept >> 1) + kept[0]
    return value >> shift


def clamp(value, low: int, high: int):
    """``min(max(value, low), high)`` with constant bounds."""
    return Mux(value > high, high, Mux(value < low, low, value))


def as_signed(value):
    """The same number as a signed value (an unsigned value gains a zero sign bit)."""
    value = Value.cast(value)
    return value if value.shape().signed else Cat(value, C(0, 1)).as_signed()


def narrow(value, fmt: Fixed, overflow: Overflow):
    """Fit a value into ``fmt`` (saturate, or wrap: keep the low bits); the result is signed, at most ``fmt.width`` bits."""
    value = as_signed(value)
    if overflow is Overflow.SATURATE:
        value = as_signed(clamp(value, fmt.min, fmt.max))
    if value.shape().width <= fmt.width:
        return value
    return value[: fmt.width].as_signed()
