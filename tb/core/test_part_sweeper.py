# amaranth: UnusedElaboratable=no
"""Sweeper beside a real InputLists: forward and update sweeps against the model's transfer sequences.

The loader / serialiser side (filling the lists while the sweeper reads them) and the delta
provider side of the group hand-over are played by the testbench.
"""

import random

import pytest
from amaranth import Module
from amaranth.lib import wiring

from trifactor.hdl.core.input_lists import InputLists
from trifactor.hdl.layout import WeightLayout
from trifactor.hdl.core.mac_array import MacArray
from trifactor.hdl.core.sweeper import Sweeper
from trifactor.hdl.core.update_unit import UpdateUnit

from part_sim import CONFIGS, simulate, values


def model_forward(cfg, layer, x, wrong=False):
    """Per neuron group: the list entries ``(x, addr, layer, last)`` in order, then the bias (1.0, ``i = n_in``)."""
    lay, spec = WeightLayout(cfg), cfg.layers[layer]
    entries = [(i, v) for i, v in enumerate(x) if v != 0 or not cfg.zero_skipping]
    out = []
    for g in range(lay.groups(layer)):
        out += [(v, lay.address(layer, g, i), layer, 0) for i, v in entries]
        out.append((spec.x.one if not wrong else 0, lay.address(layer, g, spec.n_in), layer, 1))
    return out


def model_update(cfg, layer, x, deltas, wrong=False):
    """Per group not skipped: ``(x, addr, layer, deltas)`` for the list entries and the bias."""
    lay, spec = WeightLayout(cfg), cfg.layers[layer]
    entries = [(i, v) for i, v in enumerate(x) if v != 0 or not cfg.zero_skipping]
    out = []
    for g, d in enumerate(deltas):
        if cfg.zero_skipping and not any(d) and not wrong:
            continue
        out += [(v, lay.address(layer, g, i), layer, tuple(d)) for i, v in entries + [(spec.n_in, spec.x.one)]]
    return out


def group_lanes(cfg, layer, g):
    return min(cfg.lanes, cfg.sizes[layer + 1] - g * cfg.lanes)


def check_sweeper(cfg, seed=0, wrong=False, stall=0.3, zero_input=False):
    lists = InputLists(cfg)
    sw = Sweeper(cfg, mac_layout=MacArray(cfg).cmd_layout, update_layout=UpdateUnit(cfg).cmd_layout)
    m = Module()
    m.submodules.lists, m.submodules.sweeper = lists, sw
    wiring.connect(m, sw.lists, lists.read)
    rng = random.Random(seed)
    lay = WeightLayout(cfg)
    xs = [values(spec.x, spec.n_in, rng, zeros=0.4) for spec in cfg.layers]
    if zero_input:  # with zero skipping an empty list: the bias only
        xs[0] = [0] * cfg.sizes[0]
    deltas = []  # per layer, per group: P deltas (zeros past the layer); some groups all zero
    for layer, spec in enumerate(cfg.layers):
        groups = []
        for g in range(lay.groups(layer)):
            d = values(cfg.error, group_lanes(cfg, layer, g), rng, zeros=0.3)
            if g % 2 == 1 or rng.random() < 0.3:
                d = [0] * len(d)
            groups.append(d + [0] * (cfg.lanes - len(d)))
        deltas.append(groups)
    state = {"fwd": [], "upd": [], "done": 0, "skipped": 0, "cycle": 0, "claims": [], "upd_cycles": []}

    async def collect(ctx):  # forward backpressure, the transfers and the MAC counts
        while True:
            ready = rng.random() >= stall
            ctx.set(sw.forward.ready, ready)
            if ctx.get(sw.forward.valid) and ready:
                p = ctx.get(sw.forward.payload)
                state["fwd"].append((p.x, p.addr, p.layer, p.last))
            if ctx.get(sw.deltas.claim) and not ctx.get(sw.deltas.release):  # a group's first read (not skipped)
                state["claims"].append(state["cycle"])
            if ctx.get(sw.update.valid):
                p = ctx.get(sw.update.payload)
                state["upd_cycles"].append((state["cycle"], p.addr))
                state["upd"].append((p.x, p.addr, p.layer, tuple(p.d[q] for q in range(cfg.lanes))))
            state["done"] += ctx.get(sw.macs_done)
            state["skipped"] += ctx.get(sw.macs_skipped)
            await ctx.tick()
            state["cycle"] += 1

    async def fill(ctx, layer):
        """The loader (layer 0) or the serialiser (others): the layer input, with idle cycles, while the sweep runs."""
        for i, v in enumerate(xs[layer]):
            while rng.random() < 0.3:
                await ctx.tick()
            if layer == 0:
                ctx.set(lists.load.valid, 1)
                ctx.set(lists.load.payload, v)
            else:
                ctx.set(lists.store.valid, 1)
                ctx.set(lists.store.payload, {"layer": layer, "i": i, "x": v})
            await ctx.tick()
            ctx.set(lists.load.valid, 0)
            ctx.set(lists.store.valid, 0)
        ctx.set(lists.written, layer)

    async def provide(ctx, layer):
        """The delta provider's side: each group's deltas until released; the next after a random pause."""
        for d in deltas[layer]:
            for _ in range(rng.randint(0, 3)):
                await ctx.tick()
            ctx.set(sw.deltas.deltas, d)
            ctx.set(sw.deltas.zero, int(not any(d)))
            ctx.set(sw.deltas.ready, 1)
            while not ctx.get(sw.deltas.claim):
                await ctx.tick()
            released = ctx.get(sw.deltas.release)
            await ctx.tick()
            ctx.set(sw.deltas.ready, 0)
            while not released:
                released = ctx.get(sw.deltas.release)
                await ctx.tick()
            ctx.set(sw.deltas.deltas, [rng.randint(cfg.error.min, cfg.error.max) for _ in range(cfg.lanes)])

    async def start(ctx, layer, update):
        assert not ctx.get(sw.busy)
        ctx.set(sw.start.valid, 1)
        ctx.set(sw.start.payload, {"layer": layer, "update": update})
        await ctx.tick()
        ctx.set(sw.start.valid, 0)

    async def wait_empty(ctx):
        for _ in range(2000):
            if ctx.get(sw.empty):
                return
            await ctx.tick()
        raise AssertionError("the sweep never ended")

    async def bench(ctx):
        ctx.set(lists.clear, 1)
        await ctx.tick()
        ctx.set(lists.clear, 0)
        for layer in range(cfg.n_layers):  # forward: each layer right behind its filler
            before = (len(state["fwd"]), state["done"], state["skipped"])
            await start(ctx, layer, 0)
            await fill(ctx, layer)
            await wait_empty(ctx)
            for _ in range(3):  # the MAC counts are registered
                await ctx.tick()
            assert state["fwd"][before[0]:] == model_forward(cfg, layer, xs[layer], wrong), f"forward layer {layer}"
            spec = cfg.layers[layer]
            n_listed = sum(1 for v in xs[layer] if v != 0 or not cfg.zero_skipping)
            assert state["done"] - before[1] == spec.n_out * (n_listed + 1), f"macs_done layer {layer}"
            assert state["done"] + state["skipped"] - before[1] - before[2] == spec.n_out * (spec.n_in + 1)
        state["done"] = state["skipped"] = 0
        for layer in reversed(range(cfg.n_layers)):  # update: last layer first
            before = (len(state["upd"]), state["done"], state["skipped"])
            await start(ctx, layer, 1)
            await provide(ctx, layer)
            await wait_empty(ctx)
            for _ in range(3):
                await ctx.tick()
            assert state["upd"][before[0]:] == model_update(cfg, layer, xs[layer], deltas[layer], wrong), f"update layer {layer}"
            spec = cfg.layers[layer]
            n_listed = sum(1 for v in xs[layer] if v != 0 or not cfg.zero_skipping)
            done = sum(group_lanes(cfg, layer, g) * (n_listed + 1) for g, d in enumerate(deltas[layer])
                       if any(d) or not cfg.zero_skipping)
            assert state["done"] - before[1] == done, f"macs_done layer {layer}"
            assert state["done"] + state["skipped"] - before[1] - before[2] == spec.n_out * (spec.n_in + 1)
        # latency: a group's first element leaves on update this many cycles after its list read (the claim)
        firsts = set()
        for layer, spec in enumerate(cfg.layers):
            first = next((i for i, v in enumerate(xs[layer]) if v != 0 or not cfg.zero_skipping), spec.n_in)
            firsts |= {lay.address(layer, g, first) for g in range(lay.groups(layer))}
        group_starts = [c for c, addr in state["upd_cycles"] if addr in firsts]
        assert state["claims"] and group_starts == [c + sw.latency for c in state["claims"]]
        # single-port banks: an update element at most every update_interval cycles (its write between two reads)
        cycles = [c for c, _ in state["upd_cycles"]]
        assert all(b - a >= cfg.update_interval for a, b in zip(cycles, cycles[1:])), "update elements too close"
        assert not state["fwd"][sum(len(model_forward(cfg, l, xs[l])) for l in range(cfg.n_layers)):]

    simulate(m, bench, background=[collect])


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_sweeper_sweeps_as_the_model(name):
    check_sweeper(CONFIGS[name]())


def test_sweeper_without_backpressure():
    check_sweeper(CONFIGS["fast_dense"](), seed=3, stall=0.0)


@pytest.mark.parametrize("name", ["small", "fast_dense"])
def test_sweeper_with_an_all_zero_input(name):
    check_sweeper(CONFIGS[name](), seed=4, zero_input=True)


@pytest.mark.parametrize("name", ["small", "fast_dense"])
def test_sweeper_test_catches_a_wrong_model(name):
    with pytest.raises(AssertionError):
        check_sweeper(CONFIGS[name](), wrong=True)
