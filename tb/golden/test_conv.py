"""Convolution layers in the golden models (golden/conv.py, golden/config/conv.py and their use in the nets).

Every geometric and integer step against a naive loop written from the docstrings and docs/fixed-point.md
(windows, walk order, forward, pooling, the position-by-position update, feedback rows, the LFSR rule); the
float backpropagation against finite differences; every new configuration error; the round trip through
``to_dict``; the transfer of frozen layers from a trained network's ``.npz``.
"""

import math

import numpy as np
import pytest

import trifactor.golden.fixed_model as fixed_model
from trifactor.golden.config import ConfigError, config_from_dict
from trifactor.golden.conv import LFSR_ROW_STEPS, conv_windows, float_conv_forward, lfsr_rows, read_transfer
from trifactor.golden.feedback import feedback_for_layer
from trifactor.golden.fixed_model import FixedNet, conv_forward, conv_update, feedback_delta, layer_update
from trifactor.golden.float_model import FloatNet, weight_arrays
from trifactor.golden.lfsr import TAPS, initial_state, step

from scalar_reference import _narrow, _shift


# -- building configurations ----------------------------------------------------------------------------------

def out_shape(shape, table):
    """A ``[[conv]]`` table's output image, by the formulas of docs/configuration.md (not ConvSpec's)."""
    h, w, _ = shape
    k, s, p, q = (table.get(key, default) for key, default in (("kernel", 3), ("stride", 1), ("padding", 0),
                                                                 ("pool", 1)))
    ho, wo = ((n + 2 * p - k) // s + 1 for n in (h, w))
    return (ho // q, wo // q, table["channels"])


def cnn(shape, tables, tail=(3,), **sections):
    """A raw configuration: ``[network] input = shape``, the ``[[conv]]`` tables, then dense ``tail`` sizes
    (``sizes`` starting at the conv stack's flat output); ``section={key: value}`` adds to the other sections."""
    here = tuple(shape)
    for table in tables:
        here = out_shape(here, table)
    raw = {"network": {"sizes": [math.prod(here), *tail], "input": list(shape)}, "conv": [dict(t) for t in tables]}
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    return raw


def cnn_config(shape, tables, tail=(3,), **sections):
    return config_from_dict(cnn(shape, tables, tail, **sections))


# -- naive references ---------------------------------------------------------------------------------------

def naive_walk(grid, pool):
    """Walk order: row-major over the pooled grid, row-major inside each pooling window."""
    hp, wp = grid[0] // pool, grid[1] // pool
    return [(py * pool + dy, px * pool + dx)
            for py in range(hp) for px in range(wp) for dy in range(pool) for dx in range(pool)]


def naive_grid(shape, k, s, p):
    return tuple((n + 2 * p - k) // s + 1 for n in shape[:2])


def naive_windows(shape, k, s, p, pool):
    """The input element of each (position, ky, kx, c), -1 in the padding, by explicit loops."""
    h, w, c = shape
    rows = []
    for y, x in naive_walk(naive_grid(shape, k, s, p), pool):
        row = []
        for ky in range(k):
            for kx in range(k):
                for ci in range(c):
                    iy, ix = y * s - p + ky, x * s - p + kx
                    row.append((iy * w + ix) * c + ci if 0 <= iy < h and 0 <= ix < w else -1)
        rows.append(row)
    return np.array(rows, dtype=np.int64)


def naive_fixed_conv(w, x, cfg, spec):
    """Fixed forward of one convolution layer from docs/fixed-point.md, one scalar at a time on an image
    ``img[y][x][c]``: ``(a, fprime)`` per neuron in walk order and the pooled output as an ``(Hp, Wp, C)`` array."""
    conv = spec.conv
    h, wd, c = conv.in_shape
    img = np.asarray(x).reshape(h, wd, c)  # HWC: element (y * W + x) * C + c
    k, s, p, q = conv.kernel, conv.stride, conv.padding, conv.pool
    grid = naive_grid(conv.in_shape, k, s, p)
    half_up, sat = cfg.rounding.value == "half_up", cfg.overflow.value == "saturate"
    a_out, fp_out, h_grid = [], [], {}
    for y, xx in naive_walk(grid, q):
        for ch in range(conv.channels):
            acc = int(w[ch, -1]) * spec.x.one
            for ky in range(k):
                for kx in range(k):
                    iy, ix = y * s - p + ky, xx * s - p + kx
                    if 0 <= iy < h and 0 <= ix < wd:
                        for ci in range(c):
                            acc += int(w[ch, (ky * k + kx) * c + ci]) * int(img[iy, ix, ci])
            a = _shift(acc, spec.forward_shift, half_up)
            if cfg.activation == "relu":
                hv, fp = _narrow(max(a, 0), cfg.act, sat), int(a > 0)
            else:
                one = cfg.act.one
                hv, fp = max(-one, min(one, a)), int(-one < a < one)
            a_out.append(a)
            fp_out.append(fp)
            h_grid[y, xx, ch] = hv
    hp, wp = grid[0] // q, grid[1] // q
    pooled = np.zeros((hp, wp, conv.channels), dtype=np.int64)
    for py in range(hp):
        for px in range(wp):
            for ch in range(conv.channels):
                pooled[py, px, ch] = max(h_grid[py * q + dy, px * q + dx, ch] for dy in range(q) for dx in range(q))
    return a_out, fp_out, pooled


def naive_conv_update(w, x, d, cfg, spec):
    """The update of docs/fixed-point.md: position by position in walk order, every weight narrowed after each
    position's step; a position whose deltas are all zero is skipped."""
    conv = spec.conv
    half_up, sat = cfg.update_rounding.value == "half_up", cfg.overflow.value == "saturate"
    index = naive_windows(conv.in_shape, conv.kernel, conv.stride, conv.padding, conv.pool)
    w = [[int(v) for v in row] for row in w]
    steps = 0
    for position, window in enumerate(index):
        xs = [int(x[i]) if i >= 0 else 0 for i in window] + [spec.x.one]
        ds = [int(v) for v in d[position * conv.channels:(position + 1) * conv.channels]]
        if not any(ds):
            continue
        steps += 1
        for j, dj in enumerate(ds):
            for i, xi in enumerate(xs):
                w[j][i] = _narrow(w[j][i] - _shift(dj * xi, spec.update_shift, half_up), cfg.weight, sat)
    return np.array(w, dtype=np.int64), steps


def naive_float_forward(weights, x, cfg):
    """Float forward of a CNN by explicit gathers: conv (windows from :func:`naive_windows`), relu, max pool,
    then dense layers; returns the scores."""
    h = np.asarray(x, dtype=np.float64)
    for index, (w, spec) in enumerate(zip(weights, cfg.layers)):
        if spec.conv:
            conv = spec.conv
            index_ = naive_windows(conv.in_shape, conv.kernel, conv.stride, conv.padding, 1)
            grid = naive_grid(conv.in_shape, conv.kernel, conv.stride, conv.padding)
            padded = np.append(h, 0.0)
            out = np.zeros(grid + (conv.channels,))
            for n, (y, xx) in enumerate(naive_walk(grid, 1)):
                out[y, xx] = np.maximum(w[:, :-1] @ padded[index_[n]] + w[:, -1], 0.0)
            q = conv.pool
            hp, wp = grid[0] // q, grid[1] // q
            h = out[:hp * q, :wp * q].reshape(hp, q, wp, q, conv.channels).max(axis=(1, 3)).reshape(-1)
        else:
            h = w[:, :-1] @ h + w[:, -1]
            if index < len(weights) - 1:
                h = np.maximum(h, 0.0)
    return h


# -- geometry: windows, walk order, HWC ----------------------------------------------------------------------

SHAPES = [  # (H, W, C), kernel, stride, padding, pool
    ((5, 5, 1), 3, 1, 1, 1),
    ((7, 6, 3), 3, 2, 1, 2),
    ((9, 7, 3), 5, 1, 2, 3),
    ((6, 8, 1), 1, 3, 0, 1),
    ((8, 5, 3), 5, 2, 2, 1),
    ((10, 9, 1), 3, 1, 0, 3),
    ((7, 9, 3), 1, 1, 0, 2),
    ((11, 8, 3), 3, 3, 2, 2),
    ((4, 12, 1), 5, 1, 2, 2),
]


@pytest.mark.parametrize("shape, k, s, p, q", SHAPES)
def test_windows_walk_and_shapes_match_naive_loops(shape, k, s, p, q):
    cfg = cnn_config(shape, [{"channels": 2, "kernel": k, "stride": s, "padding": p, "pool": q}])
    spec = cfg.layers[0]
    conv = spec.conv
    grid = naive_grid(shape, k, s, p)
    walk = naive_walk(grid, q)
    assert conv.grid == grid and conv.pooled == (grid[0] // q, grid[1] // q)
    assert conv.walk().tolist() == [list(yx) for yx in walk]
    expected = naive_windows(shape, k, s, p, q)
    assert conv.windows().shape == (len(walk), k * k * shape[2])
    np.testing.assert_array_equal(conv.windows(), expected)
    assert (spec.n_in, spec.n_out, spec.positions, spec.neurons) == (k * k * shape[2], 2, len(walk), 2 * len(walk))
    assert spec.outputs == cfg.sizes[1] == (grid[0] // q) * (grid[1] // q) * 2
    assert cfg.sizes[0] == math.prod(shape)
    assert spec.forward_macs == (int((expected >= 0).sum()) + len(walk)) * 2
    # the windows' values: an image in HWC order (numpy's C order of (H, W, C)), 0 in the padding, batched too
    rng = np.random.default_rng(1)
    images = rng.integers(1, 100, size=(2, *shape))
    got = conv_windows(images.reshape(2, -1), spec)
    for n, (y, x) in enumerate(walk):
        for ky in range(k):
            for kx in range(k):
                iy, ix = y * s - p + ky, x * s - p + kx
                inside = 0 <= iy < shape[0] and 0 <= ix < shape[1]
                for c in range(shape[2]):
                    want = images[:, iy, ix, c] if inside else [0, 0]
                    np.testing.assert_array_equal(got[:, n, (ky * k + kx) * shape[2] + c], want)


def test_walk_order_with_pooling_is_window_by_window():
    """A 4x6 grid with pool 2: each pooling window's 4 positions in a row, the windows row-major."""
    conv = cnn_config((4, 6, 1), [{"channels": 1, "kernel": 1, "pool": 2}]).convs[0]
    assert conv.walk()[:8].tolist() == [[0, 0], [0, 1], [1, 0], [1, 1], [0, 2], [0, 3], [1, 2], [1, 3]]
    assert conv.walk()[12:16].tolist() == [[2, 0], [2, 1], [3, 0], [3, 1]]
    # pool 3 on a 7x7 grid: the last row and column are dropped
    conv = cnn_config((7, 7, 1), [{"channels": 1, "kernel": 1, "pool": 3}]).convs[0]
    assert conv.positions == 36 and conv.walk().max() == 5
    assert conv.walk()[9:12].tolist() == [[0, 3], [0, 4], [0, 5]]


# -- the fixed forward pass ----------------------------------------------------------------------------------

FORWARD_CASES = {
    "relu-pool2": (((6, 5, 2), [{"channels": 3, "kernel": 3, "padding": 1, "pool": 2}]), {}),
    "relu-stride2-pool3": (((9, 8, 3), [{"channels": 2, "kernel": 3, "stride": 2, "padding": 2, "pool": 3}]), {}),
    "hardtanh-truncate-wrap": (((5, 7, 2), [{"channels": 3, "kernel": 3, "padding": 1, "pool": 2}]),
                               {"network": {"activation": "hardtanh"},
                                "fixed": {"rounding": "truncate", "overflow": "wrap"}}),
    "no-pool-k5": (((6, 6, 1), [{"channels": 4, "kernel": 5, "padding": 2}]), {}),
}


@pytest.mark.parametrize("name", FORWARD_CASES)
def test_fixed_conv_forward_matches_a_naive_integer_convolution(name):
    (shape, tables), sections = FORWARD_CASES[name]
    raw = cnn(shape, tables)
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    cfg = config_from_dict(raw)
    spec = cfg.layers[0]
    rng = np.random.default_rng(7)
    seen = set()
    for trial in range(3):
        # full-range values: some sums saturate the activation, some are negative, some exactly zero
        x = rng.integers(cfg.input.min, cfg.input.max + 1, size=math.prod(shape))
        w = rng.integers(cfg.weight.min, cfg.weight.max + 1, size=(spec.n_out, spec.n_in + 1)) >> (2 * trial)
        if trial == 0:  # channel 0 all at the weight maximum on positive inputs: sums beyond the activation range
            x, w[0] = np.abs(x), cfg.weight.max
        acc, a, h, fprime = conv_forward(w, x, spec, cfg)
        a_ref, fp_ref, pooled = naive_fixed_conv(w, x, cfg, spec)
        assert acc.shape == (spec.positions, spec.n_out)
        assert a.tolist() == a_ref and fprime.tolist() == fp_ref
        # the output image is flat HWC: numpy's C order of an (Hp, Wp, C) array
        assert h.tolist() == pooled.reshape(-1).tolist()
        seen.update(fprime.tolist())
        if trial == 0:  # the clamp of the activation is reached
            assert h.max() == (cfg.act.max if cfg.activation == "relu" else cfg.act.one)
    assert seen == {0, 1}
    # a batch gives the rows of the single samples
    xs = rng.integers(cfg.input.min, cfg.input.max + 1, size=(3, math.prod(shape)))
    hb = conv_forward(w, xs, spec, cfg)[2]
    for row, xi in zip(hb, xs):
        np.testing.assert_array_equal(row, conv_forward(w, xi, spec, cfg)[2])


def test_float_conv_forward_matches_naive_convolution():
    cfg = cnn_config((6, 7, 2), [{"channels": 3, "kernel": 3, "stride": 2, "padding": 1, "pool": 2}])
    spec = cfg.layers[0]
    rng = np.random.default_rng(3)
    w = rng.normal(size=(spec.n_out, spec.n_in + 1))
    x = rng.normal(size=cfg.sizes[0])
    relu = lambda a: (np.maximum(a, 0.0), (a > 0).astype(float))  # noqa: E731
    out = float_conv_forward(w, x, spec, relu)[3]
    weights = [w, np.hstack([np.eye(cfg.sizes[1]), np.zeros((cfg.sizes[1], 1))])]
    cfg2 = cnn_config((6, 7, 2), [{"channels": 3, "kernel": 3, "stride": 2, "padding": 1, "pool": 2}],
                      tail=(cfg.sizes[1],))
    np.testing.assert_allclose(out, naive_float_forward(weights, x, cfg2), rtol=1e-12, atol=1e-12)


# -- the fixed update ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("fixed", [{}, {"update_rounding": "truncate"}, {"overflow": "wrap"}])
def test_conv_update_is_position_by_position_with_narrowing_at_every_step(fixed, monkeypatch):
    cfg = cnn_config((5, 6, 2), [{"channels": 3, "kernel": 3, "padding": 1, "pool": 2}], fixed=fixed)
    spec = cfg.layers[0]
    rng = np.random.default_rng(11)
    x = rng.integers(cfg.input.min, cfg.input.max + 1, size=cfg.sizes[0])
    # weights a few steps from both ends of the range: the order of the saturating steps decides the result
    w = np.where(rng.random((spec.n_out, spec.n_in + 1)) < 0.5, cfg.weight.max - rng.integers(0, 200, (3, 19)),
                 cfg.weight.min + rng.integers(0, 200, (3, 19)))
    d = rng.integers(cfg.error.min, cfg.error.max + 1, size=spec.neurons)
    d = d.reshape(spec.positions, spec.n_out)
    d[[1, 4, 5, 9]] = 0  # positions with all-zero deltas (and some single zeros)
    d[2, 1] = 0
    d = d.reshape(-1)
    expected, steps = naive_conv_update(w, x, d, cfg, spec)
    calls = []
    real = fixed_model.narrow
    monkeypatch.setattr(fixed_model, "narrow", lambda *args: calls.append(1) or real(*args))
    got = conv_update(w.copy(), x, d, spec, cfg)
    np.testing.assert_array_equal(got, expected)
    assert steps == spec.positions - 4 and len(calls) == steps  # one narrowed step per non-zero position
    # the data can tell the order apart: one narrowing of the summed steps gives other weights
    windows = np.append(x, 0)[spec.conv.windows()]
    windows = np.hstack([windows, np.full((spec.positions, 1), spec.x.one)])
    half_up = cfg.update_rounding.value == "half_up"
    summed = sum(np.vectorize(lambda v: _shift(int(v), spec.update_shift, half_up))(
        np.outer(dp, wp)) for dp, wp in zip(d.reshape(spec.positions, -1), windows))
    saturate = cfg.overflow.value == "saturate"
    once = np.vectorize(lambda v: _narrow(int(v), cfg.weight, saturate))(w - summed)
    if saturate:
        assert (once != expected).any()
    else:  # wrapping is modular: the order cannot matter
        np.testing.assert_array_equal(once, expected)


def test_conv_update_with_zero_deltas_changes_nothing():
    cfg = cnn_config((4, 4, 1), [{"channels": 2, "kernel": 3, "padding": 1}])
    spec = cfg.layers[0]
    w = np.arange(2 * 10).reshape(2, 10) * 37
    assert (conv_update(w, np.ones(16, dtype=np.int64), np.zeros(spec.neurons, dtype=np.int64), spec, cfg)
            == w).all()


# -- feedback rows: ROM (dilation, groups) and LFSR ----------------------------------------------------------

ROW_CASES = [  # input shape, table
    ((6, 6, 1), {"channels": 4, "kernel": 3, "padding": 1}),
    ((6, 6, 1), {"channels": 4, "kernel": 3, "padding": 1, "dilation": 2, "groups": 2}),
    ((7, 5, 2), {"channels": 6, "kernel": 3, "padding": 1, "pool": 2, "dilation": 3, "groups": 3}),
    ((5, 8, 1), {"channels": 4, "kernel": 3, "dilation": 5, "groups": 1}),  # dilation past the 3 x 6 grid
    ((8, 8, 1), {"channels": 3, "kernel": 3, "padding": 1, "pool": 2, "groups": 1}),
    ((6, 6, 1), {"channels": 2, "kernel": 3, "padding": 1, "pool": 3, "feedback": "lfsr", "groups": 1}),
]


@pytest.mark.parametrize("shape, table", ROW_CASES)
def test_neuron_rows_follow_the_dilation_and_group_formula(shape, table):
    cfg = cnn_config(shape, [table], tail=(5,), feedback={"nonzeros_per_row": 2})
    conv = cfg.convs[0]
    grid, q = conv.grid, table.get("pool", 1)
    dil, groups, ch = table.get("dilation", 0), table.get("groups", table["channels"]), table["channels"]
    walk = naive_walk(grid, q)
    expected = []
    for position, (y, x) in enumerate(walk):
        phase = (y % dil) * min(dil, grid[1]) + x % dil if dil else position
        for c in range(ch):
            expected.append(phase * groups + c // (ch // groups))
    assert conv.neuron_rows().tolist() == expected
    phases = min(dil, grid[0]) * min(dil, grid[1]) if dil else len(walk)
    assert conv.feedback_rows == phases * groups
    assert max(expected) < conv.feedback_rows
    # every neuron takes its row's entries: the same for the neurons of a row, as many rows as the table has
    fb = feedback_for_layer(cfg, 0)
    assert fb.index.shape == fb.sign.shape == (conv.neurons, 2)
    table_rows = {}
    for neuron, row in enumerate(expected):
        entry = (tuple(fb.index[neuron]), tuple(fb.sign[neuron]))
        assert table_rows.setdefault(row, entry) == entry
    assert len(table_rows) == len(set(expected))


def naive_lfsr_rows(seed, layer, rows, classes, k):
    state = initial_state((seed ^ (0xC0DE0000 + layer)) & 0xFFFFFFFF)
    out = []
    for _ in range(rows):
        for _ in range(32):
            state = step(state, lambda s: TAPS if s & 1 else 0)
        c0 = ((state >> 16) * classes) >> 16
        out.append(([(c0 + t) % classes for t in range(k)], [-1 if (state >> t) & 1 else 1 for t in range(k)]))
    return out


@pytest.mark.parametrize("seed, k, classes", [(0, 1, 3), (7, 3, 10), (4294967295, 2, 5)])
def test_lfsr_rows_follow_the_documented_rule(seed, k, classes):
    assert LFSR_ROW_STEPS == 32
    tables = [{"channels": 4, "kernel": 3, "padding": 1, "pool": 2, "feedback": "lfsr", "groups": 2},
              {"channels": 2, "kernel": 3, "padding": 1, "feedback": "lfsr", "groups": 1}]
    cfg = cnn_config((6, 6, 1), tables, tail=(classes,), feedback={"seed": seed, "nonzeros_per_row": k})
    for layer, conv in enumerate(cfg.convs):
        index, sign = lfsr_rows(cfg, layer)
        assert index.shape == sign.shape == (conv.feedback_rows, k)
        want = naive_lfsr_rows(seed, layer, conv.feedback_rows, classes, k)
        assert [(list(i), list(s)) for i, s in zip(index.tolist(), sign.tolist())] == want
        fb = feedback_for_layer(cfg, layer)  # each neuron takes its row (positions and groups in walk order)
        np.testing.assert_array_equal(fb.index, index[conv.neuron_rows()])
        np.testing.assert_array_equal(fb.sign, sign[conv.neuron_rows()])
        assert fb.magnitude is None


def test_lfsr_rows_differ_row_to_row_and_layer_to_layer():
    """Fresh bits for every row: the rows of a layer are not repeats, nor shifted copies of the row before (what
    too few steps between rows would give: a Galois LFSR's next state is its state shifted by one)."""
    table = {"channels": 2, "kernel": 3, "padding": 1, "feedback": "lfsr", "groups": 1}
    cfg = cnn_config((8, 8, 1), [table, table], tail=(10,), feedback={"nonzeros_per_row": 10})
    index, sign = lfsr_rows(cfg, 0)
    rows = [(i[0],) + tuple(s) for i, s in zip(index.tolist(), sign.tolist())]
    assert len(rows) == 64
    assert len(set(rows)) >= 60 and sum(a != b for a, b in zip(rows, rows[1:])) >= 60
    assert set(index[:, 0].tolist()) == set(range(10)) and set(sign.ravel().tolist()) == {-1, 1}
    # entry t's sign is bit t of the state: no row's bits are the last row's moved down by 1..4 places
    for shift in range(1, 5):
        copies = (sign[1:, 2:10 - shift] == sign[:-1, 2 + shift:]).all(axis=1)
        assert copies.mean() < 0.25, f"rows repeat the row before shifted by {shift}"
    assert abs(np.corrcoef(index[:-1, 0], index[1:, 0])[0, 1]) < 0.5
    other = lfsr_rows(cfg, 1)  # the layer number changes the seed
    assert (other[0][:, 0] != index[:, 0]).mean() > 0.5 and (other[1] != sign).mean() > 0.3


# -- the fixed net: conv deltas, frozen layers ---------------------------------------------------------------

@pytest.mark.parametrize("rows, feedback", [({"dilation": 2, "groups": 2}, {"nonzeros_per_row": 2}),
                                            ({"feedback": "lfsr", "groups": 1}, {"rule": "dfa", "seed": 5})])
def test_fixednet_conv_deltas_come_from_the_neurons_rows_and_update_positionwise(rows, feedback):
    cfg = cnn_config((5, 5, 2), [{"channels": 4, "kernel": 3, "padding": 1, "pool": 2, **rows}], tail=(6, 4),
                     feedback=feedback)
    net = FixedNet(cfg, seed=2)
    fb = feedback_for_layer(cfg, 0)
    rng = np.random.default_rng(5)
    for _ in range(3):
        x = net.quantize_inputs(rng.random(cfg.sizes[0]))
        w0 = net.weights[0].copy()
        out = net.train_sample(x, int(rng.integers(4)))
        e = out["error"]["e"]
        fp_ref, pooled = naive_fixed_conv(w0, x, cfg, cfg.layers[0])[1:]
        assert out["h"][0].tolist() == pooled.reshape(-1).tolist() and out["fprime"][0].tolist() == fp_ref
        half_up, sat = cfg.rounding.value == "half_up", cfg.overflow.value == "saturate"
        rows = cfg.convs[0].neuron_rows()
        want = []
        for neuron, fp in enumerate(fp_ref):
            total = sum(int(s) * int(e[c]) for c, s in zip(fb.index[neuron], fb.sign[neuron]))
            want.append(_narrow(_shift(total, cfg.scale_shift, half_up), cfg.error, sat) * fp)
            assert list(fb.index[neuron]) == list(fb.index[np.flatnonzero(rows == rows[neuron])[0]])
        assert out["delta"][0].tolist() == want
        assert any(want)
        np.testing.assert_array_equal(net.weights[0], naive_conv_update(w0, x, want, cfg, cfg.layers[0])[0])


# -- float backpropagation through conv and max pooling: finite differences ----------------------------------

FD_NETS = {
    "conv-pool-dense": ((5, 5, 2), [{"channels": 3, "kernel": 3, "padding": 1, "pool": 2}], (4, 3)),
    "conv-conv-dense": ((6, 6, 2), [{"channels": 3, "kernel": 3, "padding": 1, "pool": 2},
                                    {"channels": 2, "kernel": 2, "stride": 1}], (3,)),
}


@pytest.mark.parametrize("loss", ["mse", "softmax"])
@pytest.mark.parametrize("name", FD_NETS)
def test_float_bp_through_conv_and_max_pool_matches_finite_differences(name, loss):
    shape, tables, tail = FD_NETS[name]
    lr = 0.01
    cfg = cnn_config(shape, tables, tail, network={"loss": loss}, feedback={"rule": "bp"},
                     training={"learning_rate": lr})
    net = FloatNet(cfg, seed=1)
    rng = np.random.default_rng(2)
    net.weights = [rng.normal(0.0, 0.6, w.shape) for w in net.weights]
    x, label = rng.normal(size=cfg.sizes[0]), 1
    target = np.eye(cfg.n_classes)[label]

    def loss_of(weights):
        y = naive_float_forward(weights, x, cfg)
        if loss == "mse":
            return 0.5 * float(((y - target) ** 2).sum())
        y = y - y.max()
        return float(np.log(np.exp(y).sum()) - y[label])

    before = [w.copy() for w in net.weights]
    np.testing.assert_allclose(net._forward(x)[2], naive_float_forward(before, x, cfg), rtol=1e-12)
    net.train_sample(x, label)
    eps = 1e-6
    for layer, w in enumerate(before):
        grad = (w - net.weights[layer]) / lr
        numeric = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            plus, minus = [v.copy() for v in before], [v.copy() for v in before]
            plus[layer][idx] += eps
            minus[layer][idx] -= eps
            numeric[idx] = (loss_of(plus) - loss_of(minus)) / (2 * eps)
        assert np.abs(numeric).max() > 1e-3, f"layer {layer} has no gradient to check"
        np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-6, err_msg=f"layer {layer}")


# -- configuration -------------------------------------------------------------------------------------------

BASE_TABLE = {"channels": 3, "kernel": 3, "padding": 1, "pool": 2}


def with_conv(tables=(BASE_TABLE,), network=None, **sections):
    raw = {"network": {"sizes": [12, 3], "input": [5, 5, 2], **(network or {})},
           "conv": [dict(t) for t in tables]}
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    return raw


def table(**keys):
    return {**BASE_TABLE, **keys}


BAD_CONV = [
    ({"network": {"sizes": [12, 3]}, "conv": [BASE_TABLE]}, "[network] input", "is required with [[conv]]",
     "input = [8, 8, 1]"),
    (with_conv(network={"input": [5, 5]}), "[network] input", "is not an image shape", "[height, width, channels]"),
    (with_conv(network={"input": [5, 0, 2]}), "[network] input", "is not an image shape", "input = [8, 8, 1]"),
    (with_conv(network={"input": [5, True, 2]}), "[network] input", "is not an image shape", "input ="),
    (with_conv(network={"input": "5x5x2"}), "[network] input", "is not an image shape", "input ="),
    (with_conv(network={"sizes": [50, 3]}), "[network] sizes", "[2, 2, 3] has 12 elements", "start sizes with 12"),
    ({"network": {"sizes": [49, 3], "input": [5, 5, 2]}}, "[network] sizes", "input = [5, 5, 2] has 50 elements",
     "start sizes with 50"),
    (with_conv([table(channels=4, groups=3)]), "[[conv]] 0 groups", "does not divide channels = 4",
     "divisor of channels"),
    (with_conv([table(groups=0)]), "[[conv]] 0 groups", "does not divide", "divisor"),
    (with_conv([table(mode="frozen", feedback="lfsr")], network={"transfer": "t.npz"}), "[[conv]] 0 feedback",
     "only applies to a trained layer", "remove feedback, or set mode = 'trained'"),
    (with_conv([table(mode="frozen", dilation=2)], network={"transfer": "t.npz"}), "[[conv]] 0 dilation",
     "only applies to a trained layer", "remove dilation"),
    (with_conv([table(mode="frozen", groups=1)], network={"transfer": "t.npz"}), "[[conv]] 0 groups",
     "only applies to a trained layer", "remove groups"),
    (with_conv([table(feedback="lfsr", dilation=2)]), "[[conv]] 0 dilation", "only applies to ROM feedback",
     "set feedback = 'rom'"),
    (with_conv([table(padding=3)]), "[[conv]] 0 padding", "= 3 is not smaller than the kernel (3)",
     "padding <= 2"),
    ({"network": {"sizes": [3, 3], "input": [3, 3, 1]}, "conv": [{"channels": 3, "kernel": 7, "padding": 1}]},
     "[[conv]] 0 kernel", "larger than the padded input 5 x 5", "smaller kernel or more padding"),
    ({"network": {"sizes": [3, 3], "input": [4, 9, 1]}, "conv": [{"channels": 3, "kernel": 3, "pool": 3}]},
     "[[conv]] 0 pool", "larger than the output grid (2, 7)", "smaller pool"),
    ({"network": {"sizes": [3, 3], "input": [9, 4, 1]}, "conv": [{"channels": 3, "kernel": 3, "pool": 3}]},
     "[[conv]] 0 pool", "larger than the output grid (7, 2)", "or none (pool = 1)"),
    (with_conv([BASE_TABLE, {"channels": 2, "kernel": 1, "mode": "frozen"}], network={"sizes": [8, 3],
                                                                                       "transfer": "t.npz"}),
     "[[conv]] 1 mode", "sits above a trained layer", "freeze the first layers only"),
    (with_conv([table(mode="frozen")]), "[network] transfer", "is required: [[conv]] layer 0 is frozen",
     "--save-weights"),
    (with_conv(network={"transfer": "t.npz"}), "[network] transfer", "only applies to frozen [[conv]] layers",
     "set mode = 'frozen'"),
    (with_conv(network={"transfer": 3}), "[network] transfer", "must be a path", "transfer ="),
    (with_conv([table(kernal=3)]), "[[conv]] 0 kernal", "is not a known key", "did you mean 'kernel'"),
    (with_conv([BASE_TABLE, {"channels": 2, "kernel": 1, "strid": 2}], network={"sizes": [8, 3]}),
     "[[conv]] 1 strid", "is not a known key", "did you mean 'stride'"),
    ({"network": {"sizes": [12, 3], "input": [5, 5, 2]}, "conv": {"channels": 3}}, "[[conv]]",
     "must be a list of tables", "[[conv]] table"),
    (with_conv([{"kernel": 3}]), "[[conv]] 0 channels", "is required", "channels = 8"),
    (with_conv([table(channels=0)]), "[[conv]] 0 channels", "must be an integer in 1..256", "channels ="),
    (with_conv([table(kernel=16)]), "[[conv]] 0 kernel", "must be an integer in 1..15", "kernel = 3"),
    (with_conv([table(stride=0)]), "[[conv]] 0 stride", "must be an integer in 1..8", "stride = 1"),
    (with_conv([table(pool=True)]), "[[conv]] 0 pool", "must be an integer in 1..4", "pool = 1"),
    (with_conv([table(dilation=-1)]), "[[conv]] 0 dilation", "must be an integer in 0..64", "dilation ="),
    (with_conv([table(mode="learned")]), "[[conv]] 0 mode", "is not one of", "trained, frozen"),
    (with_conv([table(feedback="ram")]), "[[conv]] 0 feedback", "is not one of", "rom, lfsr"),
    (with_conv(feedback={"rule": "hybrid"}), "[feedback] rule", "not implemented for networks with [[conv]]",
     "rule = 'ssdfa' or 'dfa'"),
    (with_conv(feedback={"rule": "ddfa"}), "[feedback] rule", "not implemented for networks with [[conv]]",
     "rule = 'ssdfa' or 'dfa'"),
    (with_conv(feedback={"rule": "dfa", "rank": 2}), "[feedback] rank", "does not apply to networks with [[conv]]",
     "remove rank"),
]


@pytest.mark.parametrize("raw, key, problem, fix", BAD_CONV, ids=[f"{b[1]}:{b[2][:24]}" for b in BAD_CONV])
def test_conv_config_errors_name_the_key_and_the_fix(raw, key, problem, fix):
    with pytest.raises(ConfigError) as info:
        config_from_dict(raw, source="cnn.toml")
    err = info.value
    assert err.key == key, str(err)
    assert problem in err.problem, str(err)
    assert fix in err.fix, str(err)
    assert str(err).startswith("cnn.toml: " + key) and "; fix: " in str(err)


def test_the_good_neighbours_of_the_errors_load():
    """Each refused value's nearest accepted one loads: the checks are not off by one."""
    config_from_dict(with_conv([table(padding=2)], network={"sizes": [27, 3]}))
    config_from_dict({"network": {"sizes": [3, 3], "input": [3, 3, 1]}, "conv": [{"channels": 3, "kernel": 5,
                                                                                  "padding": 1}]})
    config_from_dict({"network": {"sizes": [3, 3], "input": [4, 9, 1]}, "conv": [{"channels": 1, "kernel": 3,
                                                                                  "pool": 2}]})
    config_from_dict(with_conv([table(channels=4, groups=2)], network={"sizes": [16, 3]}))
    config_from_dict(with_conv([table(feedback="lfsr", dilation=0)]))
    config_from_dict(with_conv(feedback={"rule": "dfa", "rank": 3}))  # rank = outputs is full rank: no rank
    config_from_dict({"network": {"sizes": [50, 3], "input": [5, 5, 2]}})  # an input shape without convs
    for rule in ("ssdfa", "dfa", "bp"):
        config_from_dict(with_conv(feedback={"rule": rule}))


def test_bp_through_trained_convs_is_float_only():
    cfg = config_from_dict(with_conv(feedback={"rule": "bp"}))
    with pytest.raises(ConfigError) as info:
        cfg.check_bit_exact()
    assert info.value.key == "[feedback] rule" and "float golden model only" in info.value.problem
    assert "--backend float" in info.value.fix
    with pytest.raises(ConfigError, match=r"\[feedback\] rule = 'bp' through trained"):
        FixedNet(cfg)
    net = FloatNet(cfg, seed=0)  # the float model takes it
    net.train_sample(np.linspace(-1, 1, 50), 2)
    config_from_dict(with_conv(feedback={"rule": "dfa"})).check_bit_exact()


def test_the_hardware_check_takes_every_convolution_the_golden_models_take():
    """Pooling, LFSR rows, dilation, channel groups, frozen layers: the core builds them all."""
    tables = [table(), {"channels": 2, "kernel": 3, "padding": 1, "feedback": "lfsr"}]
    here = (5, 5, 2)
    for t in tables:
        here = out_shape(here, t)
    cfg = config_from_dict(with_conv(tables, network={"sizes": [math.prod(here), 3]}), source="cnn.toml")
    cfg.check_hardware()
    config_from_dict({"network": {"sizes": [50, 3], "input": [5, 5, 2]}}).check_hardware()


ROUND_TRIP = {
    "default": with_conv(),
    "lfsr-two-convs": with_conv([table(feedback="lfsr", groups=1), {"channels": 2, "kernel": 1, "stride": 2}],
                                network={"sizes": [2, 4, 3]}, feedback={"rule": "dfa"}),
    "dilation-groups-hardtanh": with_conv([table(channels=6, dilation=2, groups=3)], network={
        "sizes": [24, 3], "activation": "hardtanh"}, feedback={"nonzeros_per_row": 2, "seed": 9}),
    "input-without-convs": {"network": {"sizes": [50, 5, 3], "input": [5, 5, 2]}},
}


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_to_dict_round_trip_gives_an_equal_config(name):
    cfg = config_from_dict(ROUND_TRIP[name])
    data = cfg.to_dict()
    data.pop("derived")
    assert data["network"]["sizes"] == ROUND_TRIP[name]["network"]["sizes"]  # the TOML sizes, not the full list
    assert config_from_dict(data) == cfg


def test_to_dict_round_trip_of_a_frozen_layer(tmp_path):
    path = tmp_path / "t.npz"
    raw = with_conv([table(mode="frozen")], network={"transfer": str(path)})
    cfg = config_from_dict(raw)
    data = cfg.to_dict()
    data.pop("derived")
    assert config_from_dict(data) == cfg


def test_sizes_hold_the_conv_outputs():
    cfg = config_from_dict(with_conv([table(), {"channels": 2, "kernel": 1}], network={"sizes": [8, 4, 3]}))
    assert cfg.sizes == (50, 12, 8, 4, 3) and cfg.n_layers == 4 and cfg.n_classes == 3
    assert [spec.conv is not None for spec in cfg.layers] == [True, True, False, False]
    assert [(spec.n_in, spec.n_out) for spec in cfg.layers] == [(18, 3), (3, 2), (8, 4), (4, 3)]
    assert cfg.layers[1].x == cfg.act and cfg.layers[0].x == cfg.input


# -- transfer: frozen layers from a trained network ---------------------------------------------------------

def synthetic(n, size, classes, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, size)), rng.integers(0, classes, n)


def test_frozen_layers_take_the_transferred_weights_and_keep_them(tmp_path):
    tables = [{"channels": 3, "kernel": 3, "padding": 1, "pool": 2}]
    trained_cfg = cnn_config((5, 5, 2), tables, tail=(4, 3), feedback={"rule": "bp"},
                             training={"learning_rate": 0.05})
    teacher = FloatNet(trained_cfg, seed=4)
    start = teacher.weights[0].copy()
    xs, labels = synthetic(20, 50, 3)
    for x, label in zip(xs, labels):
        teacher.train_sample(x, int(label))
    assert not np.allclose(teacher.weights[0], start)
    path = tmp_path / "teacher.npz"
    np.savez(path, **weight_arrays(teacher.weights))

    frozen = [{"channels": 3, "kernel": 3, "padding": 1, "pool": 2, "mode": "frozen"}]
    for rule in ("ssdfa", "bp"):
        cfg = cnn_config((5, 5, 2), frozen, tail=(4, 3), network={"transfer": str(path)}, feedback={"rule": rule})
        assert not cfg.layers[0].trained and cfg.layers[1].trained
        cfg.check_bit_exact()  # bp above frozen convs only is the fixed model's too
        plain = FloatNet(cnn_config((5, 5, 2), tables, tail=(4, 3), feedback={"rule": rule}), seed=8)
        for net, quantize in ((FloatNet(cfg, seed=8), lambda w: w), (FixedNet(cfg, seed=8), cfg.weight.quantize)):
            np.testing.assert_array_equal(net.weights[0], quantize(teacher.weights[0]))
            # the other layers start as without the transfer (their draws are the same)
            for w, ref in zip(net.weights[1:], plain.weights[1:]):
                np.testing.assert_array_equal(w, quantize(ref))
            kept, head = net.weights[0].copy(), [w.copy() for w in net.weights[1:]]
            for x, label in zip(xs[:6], labels[:6]):
                out = net.train_sample(net.quantize_inputs(x), int(label))
                np.testing.assert_array_equal(net.weights[0], kept)
                if isinstance(net, FixedNet):
                    assert not out["delta"][0].any() and not out["feedback_sum"][0].any()
            assert all((w != h).any() for w, h in zip(net.weights[1:], head))


def test_fixed_weights_transfer_as_raw_integers(tmp_path):
    trained = cnn_config((5, 5, 2), [BASE_TABLE], tail=(3,))
    teacher = FixedNet(trained, seed=1)
    xs, labels = synthetic(5, 50, 3)
    for x, label in zip(xs, labels):
        teacher.train_sample(teacher.quantize_inputs(x), int(label))
    path = tmp_path / "fixed.npz"
    np.savez(path, **teacher.arrays())
    assert np.issubdtype(teacher.arrays()["W0"].dtype, np.integer)
    cfg = config_from_dict(with_conv([table(mode="frozen")], network={"transfer": str(path)}))
    np.testing.assert_array_equal(read_transfer(cfg)[0], teacher.weights[0] / cfg.weight.one)
    np.testing.assert_array_equal(FixedNet(cfg, seed=1).weights[0], teacher.weights[0])


def test_frozen_fixednet_computes_no_delta_for_the_frozen_layer(tmp_path):
    path = tmp_path / "w.npz"
    rng = np.random.default_rng(0)
    np.savez(path, W0=rng.normal(0, 0.5, (3, 18)), b0=rng.normal(0, 0.1, 3))
    cfg = config_from_dict(with_conv([table(mode="frozen")], network={"sizes": [12, 3], "transfer": str(path)}))
    net = FixedNet(cfg, seed=0)
    x = net.quantize_inputs(rng.uniform(-1, 1, 50))
    out = net.train_sample(x, 0)
    assert out["delta"][0].shape == (cfg.layers[0].neurons,)
    assert not out["delta"][0].any() and not out["feedback_sum"][0].any()
    np.testing.assert_array_equal(net.weights[0], cfg.weight.quantize(read_transfer(cfg)[0]))
    # a frozen layer's update leaves it, whatever delta it is given
    d = np.ones(cfg.layers[0].neurons, dtype=np.int64) * cfg.error.max
    np.testing.assert_array_equal(layer_update(net.weights[0], x, d, cfg.layers[0], cfg), net.weights[0])
    trained = config_from_dict(with_conv()).layers[0]
    assert (layer_update(net.weights[0], x, d, trained, cfg) != net.weights[0]).any()
    # the same layer trained would have taken deltas on this sample
    twin = config_from_dict(with_conv())
    fb = feedback_for_layer(twin, 0)
    assert feedback_delta(out["error"]["e"], out["fprime"][0], fb, twin)[1].any()


def transfer_config(path):
    return config_from_dict(with_conv([table(mode="frozen")], network={"transfer": str(path)}), source="cnn.toml")


@pytest.mark.parametrize("arrays, words", [
    (None, "does not exist"),
    ({"W0": np.zeros((3, 18))}, "has no b0 for frozen layer 0"),
    ({"b0": np.zeros(3), "W1": np.zeros((3, 12))}, "has no W0 for frozen layer 0"),
    ({"W0": np.zeros((3, 50)), "b0": np.zeros(3)}, "needs (3, 18) and (3,)"),
    ({"W0": np.zeros((3, 18)), "b0": np.zeros(4)}, "needs (3, 18) and (3,)"),
    ({"W0": np.full((3, 18), np.nan), "b0": np.zeros(3)}, "not all finite"),
    ({"W0": np.zeros((3, 18)), "b0": np.array([0.0, np.inf, 0.0])}, "not all finite"),
    ("text", "is not an .npz file"),
])
def test_read_transfer_errors_are_config_errors(tmp_path, arrays, words):
    path = tmp_path / "w.npz"
    if isinstance(arrays, dict):
        np.savez(path, **arrays)
    elif arrays == "text":
        path.write_text("W0 = 1\n")
    cfg = transfer_config(path)
    for build in (read_transfer, lambda c: FloatNet(c), lambda c: FixedNet(c)):
        with pytest.raises(ConfigError) as info:
            build(cfg)
        assert info.value.key == "[network] transfer" and words in info.value.problem, str(info.value)
        assert str(path) in info.value.problem and "; fix: " in str(info.value)


def test_read_transfer_of_an_npy_file_is_a_config_error(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.zeros((3, 18)))
    with pytest.raises(ConfigError):
        read_transfer(transfer_config(path))


def test_the_hardware_identity_holds_the_convolutions_and_not_the_transfer_file(tmp_path):
    """Two convolutions of one output size are two cores; where the frozen weights come from is not hardware."""
    base = {"network": {"input": [8, 8, 1], "sizes": [128, 10]},
            "conv": [{"channels": 8, "kernel": 3, "stride": 2, "padding": 1}]}
    wider = {**base, "conv": [{"channels": 8, "kernel": 5, "stride": 2, "padding": 2}]}
    assert config_from_dict(base).hardware_id() != config_from_dict(wider).hardware_id()
    ids = set()
    for name in ("a.npz", "b.npz"):
        path = tmp_path / name
        np.savez(path, W0=np.zeros((8, 9)), b0=np.zeros(8))
        frozen = {**base, "network": {**base["network"], "transfer": str(path)},
                  "conv": [{"channels": 8, "kernel": 3, "stride": 2, "padding": 1, "mode": "frozen"}]}
        ids.add(config_from_dict(frozen).hardware_id())
    assert len(ids) == 1
