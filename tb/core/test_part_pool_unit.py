# amaranth: UnusedElaboratable=no
"""The pool unit against golden's pooling: a pooled convolution's outputs in walk order, maxima out in HWC order."""

import numpy as np
import pytest

from trifactor.golden.config import config_from_dict
from trifactor.hdl.core.pool_unit import PoolUnit

from part_sim import simulate


def pooled_config(pool, channels=3):
    return config_from_dict({"network": {"input": [6, 6, 1], "sizes": [(6 // pool) ** 2 * channels, 4]},
                             "conv": [{"channels": channels, "kernel": 3, "padding": 1, "pool": pool}],
                             "hardware": {"lanes": 2}})


@pytest.mark.parametrize("pool", [2, 3])
def test_pool_unit_stores_each_window_maximum(pool, wrong=False):
    cfg = pooled_config(pool)
    conv = cfg.convs[0]
    rng = np.random.default_rng(pool)
    h = rng.integers(0, cfg.act.max + 1, conv.neurons)  # the activations, in walk order
    want = conv.pool_output(h)
    dut, got = PoolUnit(cfg), []
    window = pool * pool

    async def bench(ctx):
        for neuron, value in enumerate(h.tolist()):
            position, channel = divmod(neuron, conv.channels)
            place = position % window
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, {"layer": 1, "i": (position // window) * conv.channels + channel, "x": int(value),
                                    "channel": channel, "first": int(place == 0 and not wrong),
                                    "last": int(place == window - 1)})
            if ctx.get(dut.o.valid):
                got.append((ctx.get(dut.o.payload.i), ctx.get(dut.o.payload.x)))
            await ctx.tick()

    simulate(dut, bench)
    assert got == list(enumerate(want.tolist()))


def test_pool_unit_test_catches_a_missing_window_start():
    with pytest.raises(AssertionError):
        test_pool_unit_stores_each_window_maximum(2, wrong=True)
