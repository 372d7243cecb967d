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


def walk_entries(cfg, layer, x):
    """Per group of the sweep (a convolution's: per position, per channel group): its ``(column, x)`` entries, the
    list's (the non-zero ones with zero skipping), or a convolution's window inside the image (zeros too)."""
    lay, spec = WeightLayout(cfg), cfg.layers[layer]
    if spec.conv is None:
        entries = [(i, v) for i, v in enumerate(x) if v != 0 or not cfg.zero_skipping]
        return [entries] * lay.groups(layer)
    return [[(col, x[a]) for col, a in enumerate(window) if a >= 0]
            for window in spec.conv.windows() for _ in range(lay.groups(layer))]


def model_forward(cfg, layer, x, wrong=False):
    """Per neuron group: the list entries ``(x, addr, layer, last)`` in order, then the bias (1.0, ``i = n_in``)."""
    lay, spec = WeightLayout(cfg), cfg.layers[layer]
    out = []
    for walk, entries in enumerate(walk_entries(cfg, layer, x)):
        g = walk % lay.groups(layer)
        out += [(v, lay.address(layer, g, i), layer, 0) for i, v in entries]
        out.append((spec.x.one if not wrong else 0, lay.address(layer, g, spec.n_in), layer, 1))
    return out


def model_update(cfg, layer, x, deltas, wrong=False):
    """Per group not skipped: ``(x, addr, layer, deltas)`` for the list entries and the bias."""
    lay, spec = WeightLayout(cfg), cfg.layers[layer]
    out = []
    for walk, (d, entries) in enumerate(zip(deltas, walk_entries(cfg, layer, x))):
        if cfg.zero_skipping and not any(d) and not wrong:
            continue
        g = walk % lay.groups(layer)
        out += [(v, lay.address(layer, g, i), layer, tuple(d)) for i, v in entries + [(spec.n_in, spec.x.one)]]
    return out


def group_lanes(cfg, layer, g):
    groups = WeightLayout(cfg).groups(layer)
    return min(cfg.lanes, cfg.layers[layer].n_out - (g % groups) * cfg.lanes)


def check_sweeper(cfg, seed=0, wrong=False, stall=0.3, zero_input=False, eager=False):
    """``eager``: the list cleared in the cycle the sweep starts (after a full previous sample), as the core's
    sequencer does, and layer 0's inputs loaded from the next cycle on, one a cycle, as the core's loader does.
    (The lists' one write port is the testbench's to share: the forward checks hold the hidden layers' stores
    until the walk ends.)"""
    lists = InputLists(cfg)
    sw = Sweeper(cfg, mac_layout=MacArray(cfg).cmd_layout, update_layout=UpdateUnit(cfg).cmd_layout)
    m = Module()
    m.submodules.lists, m.submodules.sweeper = lists, sw
    wiring.connect(m, sw.lists, lists.read)
    rng = random.Random(seed)
    lay = WeightLayout(cfg)
    xs = [values(spec.x, cfg.sizes[layer], rng, zeros=0.4) for layer, spec in enumerate(cfg.layers)]
    if zero_input:  # with zero skipping an empty list: the bias only
        xs[0] = [0] * cfg.sizes[0]
    deltas = []  # per layer, per group: P deltas (zeros past the layer); some groups all zero
    for layer, spec in enumerate(cfg.layers):
        groups = []
        for g in range(lay.groups(layer) * spec.positions):
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
            while rng.random() < 0.3 and not (eager and layer == 0):
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
        if eager:  # a previous sample's full lists, then the clear with the sweep's start and the first load
            await fill(ctx, 0)
            ctx.set(lists.written, cfg.n_layers)
            await ctx.tick()
        for layer in range(cfg.n_layers):  # forward: each layer right behind its filler
            before = (len(state["fwd"]), state["done"], state["skipped"])
            if eager and layer == 0:
                ctx.set(lists.clear, 1)
                ctx.set(lists.written, 0)
                ctx.set(sw.start.valid, 1)
                ctx.set(sw.start.payload, {"layer": 0, "update": 0})
                await ctx.tick()
                ctx.set(lists.clear, 0)
                ctx.set(sw.start.valid, 0)
                await fill(ctx, 0)
            else:
                await start(ctx, layer, 0)
                await fill(ctx, layer)
            await wait_empty(ctx)
            for _ in range(3):  # the MAC counts are registered
                await ctx.tick()
            assert state["fwd"][before[0]:] == model_forward(cfg, layer, xs[layer], wrong), f"forward layer {layer}"
            spec = cfg.layers[layer]
            walks = walk_entries(cfg, layer, xs[layer])
            assert state["done"] - before[1] == sum(group_lanes(cfg, layer, g) * (len(entries) + 1)
                                                    for g, entries in enumerate(walks)), f"macs_done layer {layer}"
            assert state["done"] + state["skipped"] - before[1] - before[2] == spec.forward_macs
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
            walks = walk_entries(cfg, layer, xs[layer])
            done = sum(group_lanes(cfg, layer, g) * (len(walks[g]) + 1) for g, d in enumerate(deltas[layer])
                       if any(d) or not cfg.zero_skipping)
            assert state["done"] - before[1] == done, f"macs_done layer {layer}"
            assert state["done"] + state["skipped"] - before[1] - before[2] == spec.forward_macs
        # latency: a group's first element leaves on update this many cycles after its list read (the claim)
        firsts = set()
        for layer, spec in enumerate(cfg.layers if not cfg.convs else ()):
            first = next((i for i, v in enumerate(xs[layer]) if v != 0 or not cfg.zero_skipping), spec.n_in)
            firsts |= {lay.address(layer, g, first) for g in range(lay.groups(layer))}
        group_starts = [c for c, addr in state["upd_cycles"] if addr in firsts]
        assert cfg.convs or state["claims"] and group_starts == [c + sw.latency for c in state["claims"]]
        # a convolution's update reads a weight again at the next position: never before its write has landed
        last_seen = {}
        for cycle, addr in state["upd_cycles"]:
            distance = 2 + sw.conv_gap  # UpdateUnit: 2 transfers apart with "compact", 3 with "fast"
            assert cycle - last_seen.get(addr, -99) >= distance, f"weight {addr} updated again {cycle - last_seen[addr]} cycles on"
            last_seen[addr] = cycle
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


def conv_config(conv, image, lanes, **hardware):
    from trifactor.golden.config import config_from_dict
    from trifactor.golden.config.conv import ConvSpec

    spec = ConvSpec(in_shape=tuple(image), pool=1, mode="trained", feedback="rom", dilation=0,
                    groups=conv["channels"], **{"kernel": 3, "stride": 1, "padding": 0, **conv})
    return config_from_dict({"network": {"input": image, "sizes": [spec.outputs, 3]}, "conv": [conv],
                             "hardware": {"lanes": lanes, **hardware}})


CONV_CONFIGS = {
    "stride2_pad1": lambda: conv_config({"channels": 4, "kernel": 3, "stride": 2, "padding": 1}, [5, 5, 1], 4),
    "channels_past_lanes": lambda: conv_config({"channels": 5, "kernel": 3, "padding": 1}, [3, 4, 2], 3,
                                               zero_skipping=False),
    "kernel1": lambda: conv_config({"channels": 2, "kernel": 1}, [3, 3, 1], 2),
}


@pytest.mark.parametrize("name", sorted(CONV_CONFIGS))
def test_sweeper_walks_convolution_windows_as_the_model(name):
    check_sweeper(CONV_CONFIGS[name]())


@pytest.mark.parametrize("name", sorted(CONV_CONFIGS))
def test_sweeper_walks_convolution_windows_behind_the_loader(name):
    check_sweeper(CONV_CONFIGS[name](), seed=5, eager=True)
