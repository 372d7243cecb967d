# amaranth: UnusedElaboratable=no
"""The LFSR order source (hdl/store/lfsr_order.py) against golden's order (golden/order.py), in Amaranth simulation.

Seeded as the host seeds it (ORDER entries 0 and 1, :func:`golden.order.seed_words`), it must give golden's indices,
epoch after epoch, to a consumer that stalls: each held (valid, payload stable) until taken, valid the cycle after
the one before was taken when the next candidate is below N, one cycle later per candidate passed over. Sizes: N = 1,
powers of two and their neighbours, N the whole store and N much smaller than it (the widths and taps are chosen at
run time). Broken on purpose: the model with another seed, or another N, differs.
"""

import random

import pytest

from trifactor.golden.order import START, TAPS, LfsrOrder, index_bits, seed_words, step
from trifactor.hdl.store.lfsr_order import LfsrOrder as LfsrOrderPart

from part_sim import simulate


def golden_steps(seed, n, count):
    """Golden's first ``count`` indices of (seed, n), each with the state steps it took (from the docstring of
    golden/order.py, step by step; its indices must be :class:`golden.order.LfsrOrder`'s)."""
    order, bits = LfsrOrder(seed, n), index_bits(n)
    taps, top = TAPS[bits + 1], 1 << bits
    state, key = order.state, order.key
    feedback = lambda s: -(s & 1) & taps  # noqa: E731
    out = []
    for _ in range(count):
        steps = 0
        while True:
            state, steps = step(state, feedback), steps + 1
            if state == START:
                key = step(key, feedback)
            if state ^ top ^ (key & (top - 1)) < n:
                break
        out.append((state ^ top ^ (key & (top - 1)), steps))
        assert out[-1][0] == order.next(), "the docstring's steps are not golden's"
    return out


async def seed(ctx, dut, words, entries=(0, 1)):
    for entry in entries:
        ctx.set(dut.write.addr, entry)
        ctx.set(dut.write.data, words[entry])
        ctx.set(dut.write.en, 1)
        await ctx.tick()
    ctx.set(dut.write.en, 0)


async def take(ctx, dut, count, rng, stall=0.3):
    """``count`` indices with ``ready`` low a random share of the cycles; per index (value, cycles from the one
    before it was taken until it was valid). Checks that a valid index holds while stalled."""
    out, waited, held = [], 0, None
    while len(out) < count:
        ready = rng.random() >= stall
        ctx.set(dut.o.ready, ready)
        valid, payload = ctx.get(dut.o.valid), ctx.get(dut.o.payload)
        if held is not None:
            assert valid and payload == held, f"index {held} dropped or changed before it was taken"
        if valid and ready:
            out.append((payload, waited))
            held, waited = None, 0
        elif valid:
            held = payload
        else:
            waited += 1
        await ctx.tick()
    ctx.set(dut.o.ready, 0)
    return out


def run(samples, n, seed_value, count, *, stall=0.3, entries=(0, 1), wrong=None):
    dut = LfsrOrderPart(samples=samples)
    got = []

    async def bench(ctx):
        words = seed_words(seed_value, n)
        # a stale configuration first: the second seeding must restart the sequence from START
        await seed(ctx, dut, seed_words(seed_value + 7, max(1, n // 2)))
        for _ in range(5):
            await ctx.tick()
        await seed(ctx, dut, words, entries)
        got.extend(await take(ctx, dut, count, random.Random(seed_value), stall))

    simulate(dut, bench)
    want = golden_steps(*(wrong or (seed_value, n)), count)
    assert [index for index, _ in got] == [index for index, _ in want], "the indices differ from golden's"
    for k, ((_, waited), (_, steps)) in enumerate(zip(got, want)):
        # waiting cycles: the candidates passed over since the last index was taken; the first index also waits
        # for the cycle at START, where the seeding left the state
        passed = steps if k == 0 else steps - 1
        assert waited == passed, f"index {k}: valid after {waited} cycles, golden passed over {passed}"
    return [index for index, _ in got]


@pytest.mark.parametrize("samples, n", [(1, 1), (2, 2), (5, 3), (8, 8), (9, 9), (40, 17), (40, 32), (40, 33),
                                        (100, 4), (300, 257)])
def test_indices_are_golden_s_epoch_after_epoch(samples, n):
    indices = run(samples, n, seed_value=n, count=3 * n + 2)
    for epoch in range(3):
        assert sorted(indices[epoch * n:(epoch + 1) * n]) == list(range(n)), "an epoch is a permutation"


def test_full_speed_consumer_and_reversed_seeding():
    """ready always high, and the ORDER entries written 1 then 0: the same sequence."""
    run(64, 50, seed_value=3, count=120, stall=0.0, entries=(1, 0))


def test_average_cycles_per_index_are_between_2_and_4():
    dut = LfsrOrderPart(samples=1000)
    cycles = []

    async def bench(ctx):
        await seed(ctx, dut, seed_words(1, 900))
        ctx.set(dut.o.ready, 1)
        for _ in range(2000):
            await ctx.tick()
            cycles.append(ctx.get(dut.o.valid))

    simulate(dut, bench)
    per_index = len(cycles) / sum(cycles)
    assert 2 <= per_index <= 4 * 1.1, per_index  # (2**11 - 1) / 900 = 2.27 on average


def test_part_refuses_a_bad_size():
    with pytest.raises(ValueError, match="samples must be"):
        LfsrOrderPart(samples=0)


@pytest.mark.parametrize("wrong", [(4, 20), (3, 21)])
def test_testbench_catches_a_wrong_model(wrong):
    """Broken on purpose: golden with another seed, or another N, than the part was given."""
    with pytest.raises(AssertionError, match="differ"):
        run(40, 20, seed_value=3, count=25, wrong=wrong)


def test_state_and_taps_are_the_documented_ones():
    assert START == 1 and LfsrOrderPart(samples=5000).state_bits == 14 == index_bits(5000) + 1
