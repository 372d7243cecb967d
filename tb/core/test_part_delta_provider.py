# amaranth: UnusedElaboratable=no
"""DeltaProvider with its error path (FeedbackErrorPath, or OutputErrorPath without a hidden layer).

The output errors and ``f'`` flags are loaded as the output error unit and the serialiser
would; the testbench plays the sweeper's claim / release. The groups delivered must be
golden's deltas (``feedback_delta`` for hidden layers, the output error for the last), last
layer first, zero-padded; the path's ``latency`` must be the measured request-to-delta time.
"""

import random

import numpy as np
import pytest
from amaranth import Module
from amaranth.lib import wiring

from trifactor.golden.feedback import feedback_matrices
from trifactor.golden.fixed_model import feedback_delta
from trifactor.hdl.core.delta_provider import DeltaProvider
from trifactor.hdl.rules.error_path import FeedbackErrorPath, OutputErrorPath, error_path
from trifactor.hdl.layout import WeightLayout

from conftest import make_config
from part_sim import CONFIGS, simulate, values

PATH_CONFIGS = {**CONFIGS, "no_hidden_fast": lambda: make_config([5, 7], hardware={"lanes": 2, "pipeline": "fast"})}


def model_groups(cfg, e, fprimes, wrong=False):
    """Per layer, last first, per group: the P deltas (zeros past the layer)."""
    tables = feedback_matrices(cfg)
    if wrong:  # the wrong model forgets f' and takes the output errors one class off
        fprimes, e_out = [np.ones_like(fp) for fp in fprimes], np.roll(e, 1)
    else:
        e_out = np.asarray(e)
    deltas = [feedback_delta(e, fp, fb, cfg)[1] for fp, fb in zip(fprimes, tables)] + [e_out]
    lay, out = WeightLayout(cfg), []
    for layer in reversed(range(cfg.n_layers)):
        d = [int(v) for v in deltas[layer]] + [0] * (lay.groups(layer) * cfg.lanes - cfg.sizes[layer + 1])
        out += [(layer, g, d[g * cfg.lanes:(g + 1) * cfg.lanes]) for g in range(lay.groups(layer))]
    return out


def check_provider(cfg, seed=0, wrong=False, samples=2):
    provider, path = DeltaProvider(cfg), error_path(cfg)
    assert isinstance(path, OutputErrorPath if cfg.n_layers == 1 else FeedbackErrorPath)
    m = Module()
    m.submodules.provider, m.submodules.path = provider, path
    wiring.connect(m, provider.request, path.request)
    wiring.connect(m, path.delta, provider.delta)
    rng = random.Random(seed)
    timing = {"requests": [], "deltas": [], "cycle": 0}

    async def watch(ctx):  # request and delta cycles; no output neuron's request before its error is in
        errors_in = 0
        while True:
            if ctx.get(path.request.valid) and ctx.get(path.request.ready):
                timing["requests"].append(timing["cycle"])
                layer, neuron = ctx.get(path.request.payload.layer), ctx.get(path.request.payload.neuron)
                assert neuron < errors_in if layer == cfg.n_layers - 1 else errors_in == cfg.n_classes, \
                    f"request {layer}/{neuron} taken with {errors_in} errors in"
            if ctx.get(path.clear):
                errors_in = 0
            if ctx.get(path.errors.valid) and ctx.get(path.errors.ready):
                errors_in += 1
            if ctx.get(path.delta.valid):
                timing["deltas"].append(timing["cycle"])
            await ctx.tick()
            timing["cycle"] += 1

    async def bench(ctx):
        for sample in range(samples):
            e = values(cfg.error, cfg.n_classes, rng, zeros=0.2 if sample else 0.9)
            fprimes = [[int(rng.random() < 0.6) for _ in range(n)] for n in cfg.sizes[1:-1]]
            ctx.set(path.clear, 1)  # a new sample
            await ctx.tick()
            ctx.set(path.clear, 0)
            # the f' flags at their running index (as the serialiser sends them), then the errors
            index = 0
            for fp in fprimes:
                for v in fp:
                    ctx.set(path.fprime.valid, 1)
                    ctx.set(path.fprime.payload, {"index": index, "value": v})
                    await ctx.tick()
                    index += 1
            ctx.set(path.fprime.valid, 0)
            # the provider starts first: its requests wait for the errors, which come with gaps
            ctx.set(provider.start, 1)
            await ctx.tick()
            ctx.set(provider.start, 0)
            for v in e:
                for _ in range(rng.randint(0, 6)):
                    await ctx.tick()
                ctx.set(path.errors.valid, 1)
                ctx.set(path.errors.payload, v)
                while not ctx.get(path.errors.ready):
                    await ctx.tick()
                await ctx.tick()
                ctx.set(path.errors.valid, 0)
            # the sweeper: claim a ready group, release it 0-3 cycles later (0: a skipped group)
            expected, got = model_groups(cfg, e, fprimes, wrong), []
            for layer, g, _ in expected:
                for _ in range(500):
                    if ctx.get(provider.group.ready):
                        break
                    await ctx.tick()
                else:
                    raise AssertionError(f"group {layer}/{g} never ready")
                for _ in range(rng.randint(0, 2)):
                    await ctx.tick()
                d = [ctx.get(provider.group.deltas[p]) for p in range(cfg.lanes)]
                assert ctx.get(provider.group.zero) == (not any(d)), (layer, g, d)
                got.append((layer, g, d))
                ctx.set(provider.group.claim, 1)
                hold = rng.randint(0, 3)
                ctx.set(provider.group.release, hold == 0)
                await ctx.tick()
                ctx.set(provider.group.claim, 0)
                ctx.set(provider.group.release, 0)
                assert not ctx.get(provider.group.ready)
                if hold:
                    for _ in range(hold - 1):
                        await ctx.tick()
                        assert [ctx.get(provider.group.deltas[p]) for p in range(cfg.lanes)] == d, "deltas moved before release"
                    ctx.set(provider.group.release, 1)
                    await ctx.tick()
                    ctx.set(provider.group.release, 0)
            assert got == expected, f"sample {sample}"
            for _ in range(10):
                assert not ctx.get(provider.group.ready) and not ctx.get(path.request.valid)
                await ctx.tick()
        assert len(timing["requests"]) == len(timing["deltas"]) == samples * sum(cfg.sizes[1:])
        assert {d - r for r, d in zip(timing["requests"], timing["deltas"])} == {path.latency}

    simulate(m, bench, background=[watch])


@pytest.mark.parametrize("name", sorted(PATH_CONFIGS))
def test_provider_delivers_goldens_deltas(name):
    check_provider(PATH_CONFIGS[name]())


@pytest.mark.parametrize("name", ["small", "no_hidden"])
def test_provider_test_catches_a_wrong_model(name):
    with pytest.raises(AssertionError):
        check_provider(PATH_CONFIGS[name](), wrong=True)
