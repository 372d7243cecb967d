# amaranth: UnusedElaboratable=no
"""Counters on its own: random increments against a Python count, read back in ``COUNTER_NAMES`` order, low word first."""

import random

import pytest

from trifactor.hdl.counters import Counters
from trifactor.hdl.protocol import COUNTER_BITS, COUNTER_NAMES

from part_sim import simulate


def model_words(counts, wrong=False):
    """Two 32-bit words per counter (low first), in ``COUNTER_NAMES`` order; the counters wrap at ``COUNTER_BITS``."""
    words = []
    for name in COUNTER_NAMES:
        v = counts[name] % (1 << COUNTER_BITS)
        words += [v >> 32, v & 0xFFFF_FFFF] if wrong else [v & 0xFFFF_FFFF, v >> 32]
    return words


def check_counters(max_step, seed=0, wrong=False, cycles=300):
    dut = Counters(max_step=max_step)
    rng = random.Random(seed)
    counts = dict.fromkeys(COUNTER_NAMES, 0)

    async def read(ctx):
        out = []
        for n in range(Counters.words):
            ctx.set(dut.select, n)
            out.append(ctx.get(dut.word))
        return out

    async def bench(ctx):
        assert Counters.words == 2 * len(COUNTER_NAMES)
        assert await read(ctx) == [0] * Counters.words
        for cycle in range(cycles):
            step = {"cycles": rng.random() < 0.8, "samples": rng.random() < 0.1,
                    "macs_done": rng.choice([0, max_step, rng.randint(0, max_step)]),
                    "macs_skipped": rng.choice([0, max_step, rng.randint(0, max_step)])}
            if cycle > cycles - 5:
                step = dict.fromkeys(COUNTER_NAMES, 0)  # counting stops with the inputs low
            ctx.set(dut.busy, step["cycles"])
            ctx.set(dut.sample, step["samples"])
            ctx.set(dut.macs_done, step["macs_done"])
            ctx.set(dut.macs_skipped, step["macs_skipped"])
            await ctx.tick()
            for name in COUNTER_NAMES:
                counts[name] += int(step[name])
            if cycle % 37 == 0:  # the word is combinational: readable at any time
                assert await read(ctx) == model_words(counts, wrong), f"cycle {cycle}"
        assert await read(ctx) == model_words(counts, wrong)

    simulate(dut, bench)


@pytest.mark.parametrize("max_step", [1, 12, 255])
def test_counters_count_as_the_model(max_step):
    check_counters(max_step)


def test_counters_test_catches_a_wrong_model():
    with pytest.raises(AssertionError):
        check_counters(12, wrong=True)


def test_counters_refuse_a_bad_max_step():
    with pytest.raises(ValueError, match="max_step"):
        Counters(max_step=0)
