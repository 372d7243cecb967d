"""Comparisons with constants that cost fewer cells on the iCE40 than Amaranth's full-width ones."""

from amaranth import C, Signal
from amaranth.hdl import Value

__all__ = ["below", "less_than"]


def less_than(value, limit: int):
    """``value < limit`` (``limit`` a non-negative integer) as a chain of ANDs and ORs over ``value``'s bits, from
    the lowest: LUT logic, no carry chain (Yosys maps ``<`` to a carry chain of one cell per bit)."""
    value = Value.cast(value)
    if limit >> len(value):
        return C(1, 1)
    result = C(0, 1)
    for i, bit in enumerate(value):
        result = (~bit | result) if limit >> i & 1 else (~bit & result)
    return result


def below(m, value, limit: int, *, chain: bool = True):
    """``value < limit`` as logic, and ``value`` narrowed to ``range(limit)`` (its value when below).

    The bits above the narrow ones must be zero (a tree of LUTs), then a narrow comparison
    decides: Yosys maps a full-width comparison with a constant to a carry chain over every
    bit.
    """
    if not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, not {limit!r}")
    narrow = Signal(range(limit))
    m.d.comb += narrow.eq(value)
    return ((Value.cast(value) >> len(narrow)) == 0) & ((narrow < limit) if chain else less_than(narrow, limit)), narrow
