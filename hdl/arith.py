"""Amaranth forms of golden/fixedpoint.py: the same named rounding and overflow modes, the same results.

These build combinational expressions; the unit tests compare them (inside each unit) with
the NumPy functions of the same names by exact equality.
"""

from amaranth.hdl import Array, C, Cat, Mux, Value

from trifactor.golden.fixedpoint import Fixed, Overflow, Rounding

__all__ = ["shift_right", "round_constant", "clamp", "as_signed", "narrow", "select", "lut_product"]


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


def round_constant(shift: int, rounding: Rounding) -> int:
    """What to add before a truncating shift so that it rounds as named.

    ``shift_right(v + round_constant(s, r), s, TRUNCATE) == shift_right(v, s, r)`` for every
    integer ``v``: half-up is ``floor((v + 2**(s-1)) / 2**s)``. A unit that already has an
    adder in front of the shift (an accumulator, a subtraction) folds the constant into it
    and needs no rounding adder of its own.
    """
    return 1 << (shift - 1) if rounding is Rounding.HALF_UP and shift > 0 else 0


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
    if value.shape().width <= fmt.width:
        return value
    low = value[: fmt.width].as_signed()
    if overflow is Overflow.WRAP:
        return low
    # it fits when the bits from the format's sign bit up are all equal: a LUT tree, where
    # comparisons with fmt.min and fmt.max would take two carry chains
    top = value[fmt.width - 1:]
    return Mux(top.all() | ~top.any(), low, Mux(value[-1], fmt.min, fmt.max))


def select(index, values):
    """``values[index]`` (constants or values, one per layer, say); the constant itself when all are the same constant."""
    values = list(values)
    if all(isinstance(v, int) for v in values) and len(set(values)) == 1:
        return C(values[0])
    return Array(values)[index]


def lut_product(a, b):
    """``a * b`` (both unsigned) as shifted copies of ``a`` added under ``b``'s bits: for a narrow ``b``.

    Yosys ``synth_ice40 -dsp`` puts every wide enough ``$mul`` in an SB_MAC16, and the lanes
    need all eight of the UP5K's; a count like this one belongs in a few logic cells.
    """
    terms = [Mux(b[k], a << k, 0) for k in range(len(b))]
    return sum(terms[1:], terms[0]) if terms else 0


def times_constant(value, k: int):
    """``value * k`` for a constant ``k >= 0`` as shifted copies of ``value`` added, one for each 1 bit of ``k``.

    For an address (a record index times the record's size): the same reason as :func:`lut_product`,
    Yosys would otherwise give the constant product an SB_MAC16 the lanes need.
    """
    terms = [value << bit for bit in range(k.bit_length()) if k >> bit & 1]
    return sum(terms[1:], terms[0]) if terms else C(0)
