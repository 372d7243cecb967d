"""Comparisons with constants that cost fewer cells on the iCE40 than Amaranth's full-width ones."""

from amaranth import Signal
from amaranth.hdl import Value

__all__ = ["below"]


def below(m, value, limit: int):
    """``value < limit`` as logic, and ``value`` narrowed to ``range(limit)`` (its value when below).

    The bits above the narrow ones must be zero (a tree of LUTs), then a narrow comparison
    decides: Yosys maps a full-width comparison with a constant to a carry chain over every
    bit.
    """
    if not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, not {limit!r}")
    narrow = Signal(range(limit))
    m.d.comb += narrow.eq(value)
    return ((Value.cast(value) >> len(narrow)) == 0) & (narrow < limit), narrow
