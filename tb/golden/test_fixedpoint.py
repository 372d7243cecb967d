"""Rounding and overflow semantics of golden/fixedpoint.py against an exact reference.

The reference below uses Python's unbounded integers and ``fractions.Fraction`` (no
NumPy), written from the docstrings, not from the implementation:

* ``TRUNCATE``: ``floor(v / 2**s)``; ``HALF_UP``: ``floor(v / 2**s + 1/2)``; ``s <= 0``
  multiplies by ``2**-s`` exactly.
* ``SATURATE``: ``min(max(v, fmt.min), fmt.max)``; ``WRAP``: the unique value in
  ``[fmt.min, fmt.max]`` congruent to ``v`` modulo ``2**width``.
* ``Fixed.quantize``: ``floor(x * 2**frac + 1/2)`` (``HALF_UP``) or ``floor(x * 2**frac)``
  (``TRUNCATE``) of the exact value of the float ``x``, then narrowed.

The regression tests at the end pin edge cases these tests once found (int64 overflow of
the half-up adder, float64 rounding inside ``quantize``).
"""

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trifactor.golden.fixedpoint import Fixed, Overflow, Rounding, narrow, shift_right

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# No example database: the tests leave nothing behind in the working tree.
hyp = settings(database=None, deadline=None)

int64s = st.integers(INT64_MIN, INT64_MAX)
shifts = st.integers(0, 40)
roundings = st.sampled_from(list(Rounding))
overflows = st.sampled_from(list(Overflow))


# -- the exact reference ---------------------------------------------------------------


def ref_shift(v: int, s: int, rounding: Rounding) -> int:
    if s <= 0:
        return v * 2**-s
    q = Fraction(v, 2**s)
    if rounding is Rounding.HALF_UP:
        q += Fraction(1, 2)
    return math.floor(q)


def ref_narrow(v: int, fmt: Fixed, overflow: Overflow) -> int:
    if overflow is Overflow.SATURATE:
        return min(max(v, fmt.min), fmt.max)
    modulus = 2**fmt.width
    r = v % modulus  # in [0, modulus)
    return r - modulus if r > fmt.max else r


def ref_quantize(x: float, fmt: Fixed, rounding: Rounding, overflow: Overflow = Overflow.SATURATE) -> int:
    scaled = Fraction(x) * 2**fmt.frac
    if rounding is Rounding.HALF_UP:
        scaled += Fraction(1, 2)
    return ref_narrow(math.floor(scaled), fmt, overflow)


@st.composite
def formats(draw, min_width=2, max_width=62):
    width = draw(st.integers(min_width, max_width))
    return Fixed(width, draw(st.integers(0, width - 1)))


# -- shift_right -----------------------------------------------------------------------


@hyp
@given(int64s, shifts)
def test_shift_right_truncate_is_floor_division(v, s):
    got = shift_right(v, s, Rounding.TRUNCATE)
    assert got.dtype == np.int64
    assert int(got) == ref_shift(v, s, Rounding.TRUNCATE) == v // 2**s


@st.composite
def half_up_operands(draw):
    """(v, s) over the whole int64 range: no intermediate may overflow."""
    return draw(int64s), draw(shifts)


@hyp
@given(half_up_operands())
def test_shift_right_half_up_is_floor_of_half_added(vs):
    v, s = vs
    got = shift_right(v, s, Rounding.HALF_UP)
    assert got.dtype == np.int64
    assert int(got) == ref_shift(v, s, Rounding.HALF_UP)


@st.composite
def left_shift_operands(draw):
    """(v, s) with s < 0 and ``v * 2**-s`` inside int64."""
    k = draw(st.integers(1, 40))
    return draw(st.integers(-(2 ** (63 - k)), 2 ** (63 - k) - 1)), -k


@hyp
@given(left_shift_operands(), roundings)
def test_negative_shift_is_exact_left_shift(vs, rounding):
    v, s = vs
    assert int(shift_right(v, s, rounding)) == v * 2**-s == ref_shift(v, s, rounding)


@hyp
@given(st.lists(st.integers(-(2**62), 2**62), max_size=20), st.integers(-20, 40), roundings)
def test_shift_right_on_arrays(values, s, rounding):
    # |v| <= 2**62 keeps the half-up adder (v + 2**39 at most) inside int64; for left
    # shifts (by up to 20) the values are scaled down to |v| <= 2**41 so that they fit.
    if s < 0:
        values = [v >> 21 for v in values]
    arr = np.array(values, dtype=np.int64)
    got = shift_right(arr, s, rounding)
    assert got.dtype == np.int64 and got.shape == arr.shape
    assert got.tolist() == [ref_shift(v, s, rounding) for v in values]
    np.testing.assert_array_equal(arr, np.array(values, dtype=np.int64))  # input untouched


@hyp
@given(st.lists(st.lists(st.integers(-(2**40), 2**40), min_size=3, max_size=3), min_size=1, max_size=4),
       shifts, roundings)
def test_shift_right_keeps_array_shape(rows, s, rounding):
    arr = np.array(rows, dtype=np.int64)
    got = shift_right(arr, s, rounding)
    assert got.shape == arr.shape
    assert got.tolist() == [[ref_shift(v, s, rounding) for v in row] for row in rows]


@pytest.mark.parametrize("v, s, rounding, expected", [
    # exact ties: half-up goes towards plus infinity
    (3, 1, Rounding.HALF_UP, 2),
    (-3, 1, Rounding.HALF_UP, -1),
    (1, 1, Rounding.HALF_UP, 1),
    (-1, 1, Rounding.HALF_UP, 0),
    (5, 1, Rounding.HALF_UP, 3),
    (-5, 1, Rounding.HALF_UP, -2),
    (6, 2, Rounding.HALF_UP, 2),     # 1.5 -> 2
    (-6, 2, Rounding.HALF_UP, -1),   # -1.5 -> -1
    (-2, 2, Rounding.HALF_UP, 0),    # -0.5 -> 0
    (2, 2, Rounding.HALF_UP, 1),     # 0.5 -> 1
    (-7, 2, Rounding.HALF_UP, -2),   # -1.75 -> -2
    (7, 2, Rounding.HALF_UP, 2),     # 1.75 -> 2
    # truncation is towards minus infinity (arithmetic shift), not towards zero
    (-1, 1, Rounding.TRUNCATE, -1),
    (-3, 1, Rounding.TRUNCATE, -2),
    (3, 1, Rounding.TRUNCATE, 1),
    (-1, 40, Rounding.TRUNCATE, -1),
    (1, 40, Rounding.TRUNCATE, 0),
    (-1, 40, Rounding.HALF_UP, 0),
    (2**39, 40, Rounding.HALF_UP, 1),
    (2**39 - 1, 40, Rounding.HALF_UP, 0),
    (-(2**39), 40, Rounding.HALF_UP, 0),
    (-(2**39) - 1, 40, Rounding.HALF_UP, -1),
    # shift 0 is the identity for both modes, at the extremes too
    (INT64_MAX, 0, Rounding.HALF_UP, INT64_MAX),
    (INT64_MIN, 0, Rounding.HALF_UP, INT64_MIN),
    (INT64_MAX, 0, Rounding.TRUNCATE, INT64_MAX),
    (INT64_MIN, 0, Rounding.TRUNCATE, INT64_MIN),
    (-7, 0, Rounding.TRUNCATE, -7),
    # most positive / most negative int64
    (INT64_MAX, 1, Rounding.TRUNCATE, 2**62 - 1),
    (INT64_MIN, 1, Rounding.TRUNCATE, -(2**62)),
    (INT64_MIN, 1, Rounding.HALF_UP, -(2**62)),
    (INT64_MIN, 40, Rounding.HALF_UP, -(2**23)),
    (INT64_MIN, 40, Rounding.TRUNCATE, -(2**23)),
    (INT64_MAX, 40, Rounding.TRUNCATE, 2**23 - 1),
    (INT64_MAX - 2**39, 40, Rounding.HALF_UP, 2**23 - 1),  # largest value whose adder fits
    # negative shifts shift left
    (3, -2, Rounding.TRUNCATE, 12),
    (-3, -2, Rounding.HALF_UP, -12),
    (-1, -62, Rounding.TRUNCATE, -(2**62)),
    (1, -62, Rounding.HALF_UP, 2**62),
])
def test_shift_right_edge_cases(v, s, rounding, expected):
    assert ref_shift(v, s, rounding) == expected  # the reference agrees with the table
    assert int(shift_right(v, s, rounding)) == expected
    assert shift_right(np.array([v, v], dtype=np.int64), s, rounding).tolist() == [expected, expected]


# -- narrow ----------------------------------------------------------------------------


@hyp
@given(int64s, formats(max_width=32))
def test_narrow_saturate_clamps(v, fmt):
    got = narrow(v, fmt, Overflow.SATURATE)
    assert got.dtype == np.int64
    assert int(got) == ref_narrow(v, fmt, Overflow.SATURATE) == min(max(v, fmt.min), fmt.max)


@hyp
@given(int64s, formats(max_width=62))
def test_narrow_wrap_is_congruent_and_in_range(v, fmt):
    got = int(narrow(v, fmt, Overflow.WRAP))
    assert got == ref_narrow(v, fmt, Overflow.WRAP)
    assert fmt.min <= got <= fmt.max
    assert (got - v) % 2**fmt.width == 0


@hyp
@given(st.lists(int64s, max_size=20), formats(max_width=32), overflows)
def test_narrow_on_arrays(values, fmt, overflow):
    arr = np.array(values, dtype=np.int64)
    got = narrow(arr, fmt, overflow)
    assert got.dtype == np.int64 and got.shape == arr.shape
    assert got.tolist() == [ref_narrow(v, fmt, overflow) for v in values]


@hyp
@given(formats(), overflows, st.data())
def test_narrow_is_identity_in_range(fmt, overflow, data):
    v = data.draw(st.integers(fmt.min, fmt.max))
    assert int(narrow(v, fmt, overflow)) == v


@pytest.mark.parametrize("v, width, overflow, expected", [
    (127, 8, Overflow.SATURATE, 127),
    (128, 8, Overflow.SATURATE, 127),
    (-128, 8, Overflow.SATURATE, -128),
    (-129, 8, Overflow.SATURATE, -128),
    (128, 8, Overflow.WRAP, -128),
    (-129, 8, Overflow.WRAP, 127),
    (255, 8, Overflow.WRAP, -1),
    (256, 8, Overflow.WRAP, 0),
    (2, 2, Overflow.WRAP, -2),
    (2, 2, Overflow.SATURATE, 1),
    (-3, 2, Overflow.WRAP, 1),
    (-3, 2, Overflow.SATURATE, -2),
    (INT64_MAX, 32, Overflow.WRAP, -1),
    (INT64_MIN, 32, Overflow.WRAP, 0),
    (INT64_MAX, 32, Overflow.SATURATE, 2**31 - 1),
    (INT64_MIN, 32, Overflow.SATURATE, -(2**31)),
    (INT64_MAX, 62, Overflow.WRAP, -1),
    (INT64_MIN, 62, Overflow.WRAP, 0),
    (2**61, 62, Overflow.WRAP, -(2**61)),
    (INT64_MAX, 62, Overflow.SATURATE, 2**61 - 1),
])
def test_narrow_edge_cases(v, width, overflow, expected):
    fmt = Fixed(width, 0)
    assert ref_narrow(v, fmt, overflow) == expected
    assert int(narrow(v, fmt, overflow)) == expected
    assert int(narrow(v, Fixed(width, width - 1), overflow)) == expected  # frac does not matter


# -- Fixed -----------------------------------------------------------------------------


@pytest.mark.parametrize("width, frac, lo, hi, one, has_one", [
    (2, 0, -2, 1, 1, True),
    (2, 1, -2, 1, 2, False),
    (8, 0, -128, 127, 1, True),
    (8, 4, -128, 127, 16, True),
    (8, 6, -128, 127, 64, True),
    (8, 7, -128, 127, 128, False),
    (16, 14, -32768, 32767, 16384, True),
    (16, 15, -32768, 32767, 32768, False),
    (32, 16, -(2**31), 2**31 - 1, 2**16, True),
    (62, 0, -(2**61), 2**61 - 1, 1, True),
    (62, 60, -(2**61), 2**61 - 1, 2**60, True),
    (62, 61, -(2**61), 2**61 - 1, 2**61, False),
])
def test_fixed_range_and_one(width, frac, lo, hi, one, has_one):
    fmt = Fixed(width, frac)
    assert (fmt.min, fmt.max, fmt.one) == (lo, hi, one)
    assert fmt.represents_one() is has_one


@hyp
@given(formats())
def test_fixed_properties(fmt):
    assert fmt.min == -(2 ** (fmt.width - 1))
    assert fmt.max == 2 ** (fmt.width - 1) - 1
    assert fmt.one == 2**fmt.frac
    assert fmt.represents_one() == (fmt.frac <= fmt.width - 2)
    assert fmt.to_float(fmt.one) == 1.0


@pytest.mark.parametrize("width, frac", [
    (1, 0), (0, 0), (-8, 0), (63, 0), (64, 0), (100, 10),      # width out of 2..62
    (8, -1), (8, 8), (8, 9), (2, 2), (62, 62),                   # frac out of 0..width-1
    (8.0, 4), ("8", 4), (None, 4), (Fraction(8), 4),            # width not an int
    (8, 4.0), (8, "4"), (8, None), (8, 0.5),                     # frac not an int
])
def test_fixed_rejects_bad_formats(width, frac):
    with pytest.raises(ValueError):
        Fixed(width, frac)


def test_fixed_is_frozen_and_hashable():
    fmt = Fixed(8, 4)
    with pytest.raises(AttributeError):
        fmt.width = 9
    assert Fixed(8, 4) == fmt and hash(Fixed(8, 4)) == hash(fmt)
    assert str(fmt) == "Q4.4 (8 bits)"


# -- Fixed.quantize --------------------------------------------------------------------


@st.composite
def quantize_cases(draw, max_width=62):
    """A format and a float: anything finite, or values near the format's grid and range."""
    fmt = draw(formats(max_width=max_width))
    lsb = Fraction(1, 2**fmt.frac)
    x = draw(st.one_of(
        st.floats(-(2.0**70), 2.0**70, allow_nan=False, allow_infinity=False),
        st.floats(allow_nan=False, allow_infinity=False, min_value=-(2.0**900), max_value=2.0**900),
        # exact ties and their neighbours on the format's grid, inside and outside the range
        st.integers(2 * fmt.min - 4, 2 * fmt.max + 4).map(lambda k: float(k * lsb / 2)),
        st.integers(fmt.min - 2, fmt.max + 2).map(lambda k: float(k * lsb)),
    ))
    return fmt, x


@hyp
@given(quantize_cases(), overflows)
def test_quantize_truncate_is_floor(case, overflow):
    fmt, x = case
    got = fmt.quantize(x, Rounding.TRUNCATE, overflow)
    assert got.dtype == np.int64
    expected = ref_quantize(x, fmt, Rounding.TRUNCATE, overflow)
    if overflow is Overflow.SATURATE or abs(math.floor(Fraction(x) * 2**fmt.frac)) < 2**62:
        # WRAP of values beyond the +-2**62 pre-clip is not specified: only check it in range
        assert int(got) == expected
    else:
        assert fmt.min <= int(got) <= fmt.max


@hyp
@given(quantize_cases())
def test_quantize_half_up_is_floor_of_half_added(case):
    fmt, x = case
    got = fmt.quantize(x, Rounding.HALF_UP, Overflow.SATURATE)
    assert int(got) == ref_quantize(x, fmt, Rounding.HALF_UP)
    assert int(fmt.quantize(x)) == int(got)  # HALF_UP and SATURATE are the defaults


@hyp
@given(quantize_cases(max_width=53))
def test_quantize_round_trip_within_half_an_lsb(case):
    fmt, x = case
    scaled = Fraction(x) * 2**fmt.frac
    if not fmt.min <= scaled <= fmt.max:
        return
    back = fmt.to_float(fmt.quantize(x))
    # widths <= 53: the raw value converts to float64 exactly, so the error is exact here
    assert abs(Fraction(float(back)) - Fraction(x)) <= Fraction(1, 2 ** (fmt.frac + 1))
    back_t = fmt.to_float(fmt.quantize(x, Rounding.TRUNCATE))
    assert 0 <= Fraction(x) - Fraction(float(back_t)) < Fraction(1, 2**fmt.frac)


@hyp
@given(formats(max_width=40), st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=20), roundings)
def test_quantize_on_arrays(fmt, xs, rounding):
    got = fmt.quantize(np.array(xs, dtype=np.float64), rounding)
    assert got.dtype == np.int64 and got.shape == (len(xs),)
    assert got.tolist() == [ref_quantize(x, fmt, rounding) for x in xs]


@pytest.mark.parametrize("x, expected_half_up, expected_truncate", [
    (0.0, 0, 0),
    (-0.0, 0, 0),
    (1.0, 16, 16),
    (-1.0, -16, -16),
    (1 / 32, 1, 0),          # +half an LSB: a tie, rounds up
    (-1 / 32, 0, -1),        # -half an LSB: a tie, rounds towards plus infinity
    (3 / 32, 2, 1),          # 1.5 LSB
    (-3 / 32, -1, -2),       # -1.5 LSB
    (0.03, 0, 0),            # 0.48 LSB
    (0.0313, 1, 0),          # 0.5008 LSB
    (7.9375, 127, 127),      # fmt.max exactly
    (7.96875, 127, 127),     # max + half an LSB saturates
    (8.0, 127, 127),
    (-8.0, -128, -128),      # fmt.min exactly
    (-8.03125, -128, -128),  # min - half an LSB: tie rounds up to min
    (-8.04, -128, -128),
    (1e300, 127, 127),
    (-1e300, -128, -128),
    (float("inf"), 127, 127),
    (float("-inf"), -128, -128),
])
def test_quantize_edge_cases(x, expected_half_up, expected_truncate):
    fmt = Fixed(8, 4)
    assert int(fmt.quantize(x, Rounding.HALF_UP)) == expected_half_up
    assert int(fmt.quantize(x, Rounding.TRUNCATE)) == expected_truncate


def test_quantize_wrap():
    fmt = Fixed(8, 4)
    assert int(fmt.quantize(8.0, overflow=Overflow.WRAP)) == -128        # 128 wraps
    assert int(fmt.quantize(-8.0625, overflow=Overflow.WRAP)) == 127     # -129 wraps
    assert int(fmt.quantize(16.0, Rounding.TRUNCATE, Overflow.WRAP)) == 0  # 256 wraps


def test_to_float():
    fmt = Fixed(8, 4)
    np.testing.assert_array_equal(fmt.to_float(np.array([-128, -1, 0, 1, 16, 127])),
                                  [-8.0, -0.0625, 0.0, 0.0625, 1.0, 7.9375])
    assert fmt.to_float(np.array([1, 2])).dtype == np.float64


# -- regression tests: edge cases the property tests found -----------------------------


@pytest.mark.parametrize("v, s", [(INT64_MAX, 1), (INT64_MAX, 40), (INT64_MAX - 2**39 + 1, 40)])
def test_shift_right_half_up_near_int64_max(v, s):
    assert int(shift_right(v, s, Rounding.HALF_UP)) == ref_shift(v, s, Rounding.HALF_UP)


@pytest.mark.parametrize("frac", [0, 4, 15])
def test_quantize_half_up_just_below_a_half(frac):
    fmt = Fixed(16, frac)
    x = math.ldexp(math.nextafter(0.5, 0.0), -frac)  # half an LSB minus the smallest step
    assert int(fmt.quantize(x)) == ref_quantize(x, fmt, Rounding.HALF_UP) == 0


@pytest.mark.parametrize("s", [2**52 + 1, -(2**52) - 1, 2**53 - 1])
def test_quantize_half_up_large_odd_integers(s):
    fmt = Fixed(62, 0)
    assert int(fmt.quantize(float(s))) == ref_quantize(float(s), fmt, Rounding.HALF_UP) == s


def test_quantize_huge_finite_float_is_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert int(Fixed(62, 61).quantize(1e300)) == 2**61 - 1
