# amaranth: UnusedElaboratable=no
"""Serialiser on its own: MAC sum groups in, the model's activations as store / fprime / scores sequences and argmax out."""

import random

import numpy as np
import pytest

from trifactor.golden.fixed_model import activate

from trifactor.hdl.layout import WeightLayout
from trifactor.hdl.core.mac_array import MacArray
from trifactor.hdl.core.output_error import OutputErrorUnit
from trifactor.hdl.core.serialiser import Serialiser

from conftest import make_config
from part_sim import CONFIGS, simulate, values

def model(cfg, outputs, training, label, wrong=False):
    """store ``(layer, i, x)`` and fprime ``(index, value)`` for hidden layers, scores ``(y, label)``, the first argmax."""
    store, fprime, index = [], [], 0
    for layer, (h, fp) in enumerate(outputs[:-1]):
        for j, (v, f) in enumerate(zip(h, fp)):
            store.append((layer + 1, j, v))
            fprime.append((index, f))
            index += 1
    y = outputs[-1][0]
    scores = [(v, label) for v in y] if training else []
    prediction = int(np.argmax(y)) if not wrong else len(y) - 1 - int(np.argmax(y[::-1]))  # wrong: the last maximum
    return store, fprime, scores, prediction


def sums_of(cfg, width, n, rng):
    """``n`` sums ``a`` of ``width`` bits: activations (the extremes among them), values just past
    the activation format (saturation) and around 0 and 1.0 (ReLU, hard-tanh), and any."""
    top, one = (1 << (width - 1)) - 1, cfg.act.one
    edges = [v for v in [-top - 1, top, cfg.act.max + 1, cfg.act.min - 1, 1, -1, one, -one, one + 1, -one - 1]
             if -top - 1 <= v <= top]
    choices = [lambda: min(max(values(cfg.act, 1, rng, zeros=0.2)[0], -top - 1), top),
               lambda: rng.randint(-top - 1, top), lambda: rng.choice(edges)]
    return [rng.choice(choices)() for _ in range(n)]


def check_serialiser(cfg, seed=0, wrong=False, samples=3):
    mac = MacArray(cfg)
    dut = Serialiser(cfg, result_layout=mac.result_layout, score_layout=OutputErrorUnit(cfg).i.payload.shape())
    rng = random.Random(seed)
    lay = WeightLayout(cfg)
    seen = {"store": [], "fprime": [], "scores": []}

    async def watch(ctx):
        while True:
            ready = rng.random() < 0.6
            ctx.set(dut.scores.ready, ready)
            if ctx.get(dut.store.valid):
                p = ctx.get(dut.store.payload)
                seen["store"].append((p.layer, p.i, p.x))
            if ctx.get(dut.fprime.valid):
                p = ctx.get(dut.fprime.payload)
                seen["fprime"].append((p.index, p.value))
            if ctx.get(dut.scores.valid) and ready:
                p = ctx.get(dut.scores.payload)
                seen["scores"].append((p.y, p.label))
            await ctx.tick()

    async def bench(ctx):
        for sample in range(samples):
            training, label = sample != 1, rng.randrange(cfg.n_classes)
            sums, outputs = [], []  # per layer: the MAC array's sums a, and the model's (h, f') of them
            for layer in range(cfg.n_layers):
                a = sums_of(cfg, mac.result_width, cfg.sizes[layer + 1], rng)
                if layer == cfg.n_layers - 1 and sample == 0:  # ties: the first maximum wins
                    a = [5, 9, 9, 2, 9, 0, 1, 9, 1][:len(a)]
                sums.append(a)
                h, fp = activate(a, layer < cfg.n_layers - 1, cfg)
                outputs.append((h.tolist(), fp.tolist()))
            for key in seen:
                seen[key].clear()
            ctx.set(dut.clear, 1)
            ctx.set(dut.training, training)
            ctx.set(dut.label, label)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            assert ctx.get(dut.written) == 0
            for layer, a in enumerate(sums):
                a = a + sums_of(cfg, mac.result_width, lay.groups(layer) * cfg.lanes - len(a), rng)  # lanes past the layer
                for g in range(lay.groups(layer)):
                    while rng.random() < 0.3:
                        await ctx.tick()
                    ctx.set(dut.i.valid, 1)
                    ctx.set(dut.i.payload, {"a": [mac.sum_fields(v, rng.randint(0, 1))  # either carry
                                                  for v in a[g * cfg.lanes:(g + 1) * cfg.lanes]]})
                    while not ctx.get(dut.i.ready):
                        await ctx.tick()
                    await ctx.tick()
                    ctx.set(dut.i.valid, 0)
                    assert ctx.get(dut.written) == layer, "written before the layer's last group left"
            for _ in range(200):
                if ctx.get(dut.written) == cfg.n_layers:
                    break
                await ctx.tick()
            assert ctx.get(dut.written) == cfg.n_layers
            store, fprime, scores, prediction = model(cfg, outputs, training, label, wrong)
            assert seen["store"] == store and seen["fprime"] == fprime, f"sample {sample}"
            assert seen["scores"] == scores, f"sample {sample}"
            for _ in range(dut.prediction_delay):  # the prediction is final this many cycles after written
                await ctx.tick()
            assert ctx.get(dut.prediction) == prediction, f"sample {sample}"

    simulate(dut, bench, background=[watch])


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_serialiser_sends_the_models_sequences(name):
    check_serialiser(CONFIGS[name]())


@pytest.mark.parametrize("name", ["small", "no_hidden"])
def test_serialiser_test_catches_a_wrong_model(name):
    with pytest.raises(AssertionError):
        check_serialiser(CONFIGS[name](), wrong=True)


def test_balanced_argmax_over_nine_classes():
    """The balanced pipeline's argmax (each score compared with the one before it and with the best but for it) over
    nine classes and twelve samples: scores on consecutive cycles (inference) and with gaps (training), and ties."""
    cfg = make_config([9, 6, 9], hardware={"lanes": 4, "pipeline": "balanced"})
    for seed in range(2):
        check_serialiser(cfg, seed=seed, samples=12)
