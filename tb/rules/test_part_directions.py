# amaranth: UnusedElaboratable=no
"""The direction generator on its own: group after group of a layer's neurons, its bits are golden's
``golden.lfsr.Directions`` (a layer's last group may be short: the lanes past its end draw nothing)."""

import random

import pytest

from trifactor.golden.lfsr import Directions
from trifactor.hdl.rules.directions import DirectionGenerator

from conftest import make_config
from part_sim import simulate


def check_directions(lanes, sizes, seed, samples=20, wrong=False):
    cfg = make_config([5, *sizes, 3], feedback={"rule": "ddfa", "seed": seed}, hardware={"lanes": lanes})
    dut = DirectionGenerator(cfg)
    golden = Directions(seed + wrong)
    rng = random.Random(seed)

    async def bench(ctx):
        for n in range(samples):
            want = golden.next(sizes)
            for layer, size in enumerate(sizes):
                for start in range(0, size, lanes):
                    count = min(lanes, size - start)
                    for _ in range(rng.randint(0, 2)):  # the bits hold until taken
                        await ctx.tick()
                    bits = ctx.get(dut.bits)
                    got = [1 if bits >> p & 1 else -1 for p in range(count)]
                    assert got == want[layer][start:start + count], f"sample {n}, layer {layer}, neurons {start}.."
                    ctx.set(dut.next, 1)
                    ctx.set(dut.count, count)
                    await ctx.tick()
                    ctx.set(dut.next, 0)

    simulate(dut, bench)


@pytest.mark.parametrize("lanes, sizes, seed", [(8, [64], 0), (3, [7, 5], 11), (5, [4, 12, 8], 7), (1, [3, 2], 2)])
def test_directions_are_golden(lanes, sizes, seed):
    check_directions(lanes, sizes, seed)


def test_check_fails_on_a_wrong_model():
    with pytest.raises(AssertionError):
        check_directions(3, [7, 5], 3, wrong=True)
