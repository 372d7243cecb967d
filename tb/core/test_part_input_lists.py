# amaranth: UnusedElaboratable=no
"""InputLists on its own: loaded inputs and stored hidden outputs read back as the model's lists."""

import random

import pytest

from trifactor.hdl.core.input_lists import InputLists

from part_sim import CONFIGS, simulate, values


def model_list(x, zero_skipping):
    """A layer input's list: ``(index, value)`` of its non-zero elements (zero skipping) or of all."""
    return [(i, v) for i, v in enumerate(x) if v != 0 or not zero_skipping]


def check_input_lists(cfg, seed=0, wrong=False):
    dut = InputLists(cfg)
    rng = random.Random(seed)
    layer_inputs = [values(spec.x, spec.n_in, rng, zeros=0.4) for spec in cfg.layers]
    zero_skipping = cfg.zero_skipping != wrong  # the wrong model forgets (or invents) zero skipping
    lists = [model_list(x, zero_skipping) for x in layer_inputs]

    async def read_all(ctx, layer):
        got = []
        ctx.set(dut.read.layer, layer)
        for k in range(ctx.get(dut.read.fill)):
            ctx.set(dut.read.k, k)
            ctx.set(dut.read.en, 1)
            await ctx.tick()
            ctx.set(dut.read.en, 0)
            for _ in range(dut.read_latency - 1):
                await ctx.tick()
            entry = ctx.get(dut.read.data)
            got.append((entry.i, entry.x))
        return got

    async def bench(ctx):
        for sample in range(2):  # the second sample checks that clear empties every list
            ctx.set(dut.clear, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            ctx.set(dut.written, 0)
            for layer in range(cfg.n_layers):
                ctx.set(dut.read.layer, layer)
                assert ctx.get(dut.read.fill) == 0 and not ctx.get(dut.read.complete)
            # layer 0: the inputs, one a cycle, with idle cycles between
            ctx.set(dut.read.layer, 0)
            for n, v in enumerate(layer_inputs[0]):
                assert ctx.get(dut.load_last) == (n == cfg.sizes[0] - 1)
                assert not ctx.get(dut.read.complete)
                assert ctx.get(dut.read.fill) == len(model_list(layer_inputs[0][:n], zero_skipping))
                ctx.set(dut.load.valid, 1)
                ctx.set(dut.load.payload, v)
                await ctx.tick()
                ctx.set(dut.load.valid, 0)
                if rng.random() < 0.3:
                    await ctx.tick()
            assert ctx.get(dut.read.complete) and ctx.get(dut.read.fill) == len(lists[0])
            # every hidden layer's outputs, stored in neuron order; complete once written
            for layer in range(1, cfg.n_layers):
                ctx.set(dut.read.layer, layer)
                for i, v in enumerate(layer_inputs[layer]):
                    assert ctx.get(dut.read.fill) == len(model_list(layer_inputs[layer][:i], zero_skipping))
                    ctx.set(dut.store.valid, 1)
                    ctx.set(dut.store.payload, {"layer": layer, "i": i, "x": v})
                    await ctx.tick()
                    ctx.set(dut.store.valid, 0)
                assert not ctx.get(dut.read.complete)
                ctx.set(dut.written, layer)
                assert ctx.get(dut.read.complete)
            for layer in range(cfg.n_layers):
                assert await read_all(ctx, layer) == lists[layer], (sample, layer)
            layer_inputs[:] = [values(spec.x, spec.n_in, rng, zeros=0.4) for spec in cfg.layers]
            lists[:] = [model_list(x, zero_skipping) for x in layer_inputs]

    simulate(dut, bench)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_input_lists_hold_the_models_lists(name):
    check_input_lists(CONFIGS[name]())


@pytest.mark.parametrize("name", ["small", "fast_dense"])
def test_input_lists_test_catches_a_wrong_model(name):
    with pytest.raises(AssertionError):
        check_input_lists(CONFIGS[name](), wrong=True)
