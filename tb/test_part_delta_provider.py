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
from trifactor.hdl.delta_provider import DeltaProvider
from trifactor.hdl.error_path import FeedbackErrorPath, OutputErrorPath, error_path
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

    async def watch(ctx):  # request and delta cycles
        while True:
            if ctx.get(path.request.valid):
                timing["requests"].append(timing["cycle"])
            if ctx.get(path.delta.valid):
                timing["deltas"].append(timing["cycle"])
            await ctx.tick()
            timing["cycle"] += 1

    async def bench(ctx):
        for sample in range(samples):
            e = values(cfg.error, cfg.n_classes, rng, zeros=0.2 if sample else 0.9)
            fprimes = [[int(rng.random() < 0.6) for _ in range(n)] for n in cfg.sizes[1:-1]]
            # the f' flags at their running index (as the serialiser sends them), then the errors
            index = 0
            for fp in fprimes:
                for v in fp:
                    ctx.set(path.fprime.valid, 1)
                    ctx.set(path.fprime.payload, {"index": index, "value": v})
                    await ctx.tick()
                    index += 1
            ctx.set(path.fprime.valid, 0)
            primed = 0
            for c, v in enumerate(e):
                ctx.set(path.errors.valid, 1)
                ctx.set(path.errors.payload, v)
                while not ctx.get(path.errors.ready):
                    await ctx.tick()
                primed += ctx.get(path.primed)
                assert ctx.get(path.primed) == (c == cfg.n_classes - 1)
                await ctx.tick()
            ctx.set(path.errors.valid, 0)
            assert primed == 1
            ctx.set(provider.start, 1)
            await ctx.tick()
            ctx.set(provider.start, 0)
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
