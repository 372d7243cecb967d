# amaranth: UnusedElaboratable=no
"""The rule chooser on its own: its choices, sample after sample, are golden's (``golden.lfsr.RuleChooser``)."""

import random

import pytest

from trifactor.golden.lfsr import RuleChooser as GoldenChooser
from trifactor.hdl.rules.rule_chooser import RuleChooser

from conftest import make_config
from part_sim import simulate


def check_choices(fraction, seed, samples=300, wrong=False):
    cfg = make_config([5, 4, 3], feedback={"rule": "hybrid", "bp_fraction": fraction, "seed": seed})
    dut = RuleChooser(cfg)
    golden = GoldenChooser(seed + wrong, fraction)
    rng = random.Random(seed)

    async def bench(ctx):
        for n in range(samples):
            for _ in range(rng.randint(0, 3)):  # the choice holds between samples
                await ctx.tick()
            ctx.set(dut.step, 1)
            await ctx.tick()
            ctx.set(dut.step, 0)
            assert ctx.get(dut.backprop) == golden.next(), f"sample {n}"

    simulate(dut, bench)


@pytest.mark.parametrize("fraction, seed", [(0.25, 0), (0.5, 7), (0.0, 1), (1.0, 2), (0.9, 12345)])
def test_choices_are_golden(fraction, seed):
    check_choices(fraction, seed)


def test_check_fails_on_a_wrong_model():
    with pytest.raises(AssertionError):
        check_choices(0.5, 3, wrong=True)
