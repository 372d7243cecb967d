# amaranth: UnusedElaboratable=no
"""Counters on its own: random increments against a Python count, read back in reply order, low word first.

The basic counters (``COUNTER_NAMES``) always; the cost counters (``COST_NAMES``, the
table the core and the host share) when given. Then the same table from the other sides:
which counters a configuration has (in the core and in ``counter_names``) and the host's
summary per sample by pass.
"""

import random

import pytest

from trifactor.hdl.core import counters
from trifactor.hdl.core.counters import Counters, SpramCounters
from trifactor.hdl.protocol import COST_NAMES, COUNTER_BITS, COUNTER_NAMES, counter_names, counter_words

from conftest import make_config
from part_sim import simulate

#: The basic counters' inputs, by counter name.
INPUTS = {"cycles": "busy", "samples": "sample", "macs_done": "macs_done", "macs_skipped": "macs_skipped"}


def model_words(names, counts, wrong=False):
    """Two 32-bit words per counter (low first), in ``names`` order; the counters wrap at ``COUNTER_BITS``
    and then set the bit above them for good."""
    words = []
    for name in names:
        v = counts[name] % (1 << COUNTER_BITS) | (1 << COUNTER_BITS if counts[name] >> COUNTER_BITS else 0)
        words += [v >> 32, v & 0xFFFF_FFFF] if wrong else [v & 0xFFFF_FFFF, v >> 32]
    return words


def check_counters(max_step, costs=None, seed=0, wrong=False, cycles=300, every=37, late=None, halves=False):
    dut = Counters(max_step=max_step, costs=costs, halves=halves)
    costs = costs or {}
    names = COUNTER_NAMES + tuple(costs)
    steps = {"cycles": 1, "samples": 1, "macs_done": max_step, "macs_skipped": max_step, **costs}
    ports = {name: getattr(dut, INPUTS[name]) if name in INPUTS else getattr(dut.costs, name) for name in names}
    rng = random.Random(seed)
    counts = dict.fromkeys(names, 0)
    # the counters that step by several bits show their count of a cycle ago (two halves, a carry between)
    late = dut.late if late is None else late
    shown = dict(counts)

    async def read(ctx):
        out = []
        for n in range(dut.words):
            ctx.set(dut.select, n)
            out.append(ctx.get(dut.word))
        return out

    async def bench(ctx):
        assert dut.names == names and dut.words == 2 * len(names)
        assert await read(ctx) == [0] * dut.words
        for cycle in range(cycles):
            step = {name: rng.choice([0, top, rng.randint(0, top)]) if top > 1 else int(rng.random() < 0.5)
                    for name, top in steps.items()}
            if cycle > cycles - 5:
                step = dict.fromkeys(names, 0)  # counting stops with the inputs low
            for name in names:
                ctx.set(ports[name], step[name])
            await ctx.tick()
            shown.update({name: counts[name] for name in late})  # the count of a cycle ago
            for name in names:
                counts[name] += int(step[name])
            shown.update({name: counts[name] for name in names if name not in late})
            if cycle % every == 0:  # the word is combinational: readable at any time
                assert await read(ctx) == model_words(names, shown, wrong), f"cycle {cycle}"
        assert await read(ctx) == model_words(names, counts, wrong)  # the inputs low: caught up

    simulate(dut, bench)


@pytest.mark.parametrize("halves", [False, True], ids=["one_adder", "halves"])
@pytest.mark.parametrize("max_step", [1, 12, 255])
def test_counters_count_as_the_model(max_step, halves):
    check_counters(max_step, halves=halves)


@pytest.mark.parametrize("lanes", [1, 8])
def test_cost_counters_count_as_the_model(lanes):
    """The cost counters of :data:`COST_NAMES` after the basic ones: per-lane events (up to ``lanes``) and single ones."""
    costs = {name: 1 if name.startswith("error_path") else lanes for name in COST_NAMES}
    check_counters(12, costs, seed=lanes)


@pytest.mark.parametrize("halves", [False, True], ids=["one_adder", "halves"])
@pytest.mark.parametrize("max_step, low_bits", [(1, 3), (12, 4), (255, 5)])
def test_counters_carry_into_the_upper_half_exactly(max_step, low_bits, halves, monkeypatch):
    """The counters that step by 1 (cycles, samples): the upper half steps from the flag that says the lower half
    is all ones; the others: the upper half a cycle behind, from the lower half's registered carry, shown with the
    lower half as it was a cycle ago. With a lower half of a few bits they carry often; every cycle's read equals
    the count (a cycle ago for the second kind)."""
    monkeypatch.setattr(counters, "LOW_BITS", low_bits)
    check_counters(max_step, {"update_macs": 3}, seed=low_bits, cycles=400, every=1, halves=halves)


def test_counters_test_catches_a_late_carry(monkeypatch):
    """Broken on purpose: the flag set a cycle late (from the lower half as it was, not as it will be)."""
    monkeypatch.setattr(counters, "LOW_BITS", 5)
    elaborate = Counters.elaborate

    def late(self, platform):
        m = elaborate(self, platform)
        for name, ones in self._ones.items():
            m.d.sync += ones.eq(self.registers[name][:counters.LOW_BITS].all())
        return m

    monkeypatch.setattr(Counters, "elaborate", late)
    with pytest.raises(AssertionError):
        check_counters(12, seed=5, cycles=400, every=1)


def test_counters_test_catches_a_wrong_model():
    with pytest.raises(AssertionError):
        check_counters(12, wrong=True)
    with pytest.raises(AssertionError):  # halves: MACs read as counted this cycle, not a cycle ago
        check_counters(12, every=1, late=(), halves=True)
    with pytest.raises(AssertionError):
        check_counters(12, {name: 8 for name in COST_NAMES}, wrong=True)


def test_cost_counters_follow_the_config():
    """``counter_names(config)``, the one list the hardware and the host read: the cost counters only when configured."""
    assert counter_names(make_config()) == COUNTER_NAMES and counter_words(make_config()) == 8
    on = make_config(hardware={"cost_counters": True})
    assert counter_names(on) == COUNTER_NAMES + COST_NAMES and counter_words(on) == 2 * (4 + len(COST_NAMES))


def test_counters_refuse_a_bad_max_step():
    with pytest.raises(ValueError, match="max_step"):
        Counters(max_step=0)
    with pytest.raises(ValueError, match="forward_macs"):
        Counters(max_step=1, costs={"forward_macs": 0})
    with pytest.raises(ValueError, match="cycles"):
        Counters(max_step=1, costs={"cycles": 1})


def test_the_core_has_cost_counters_only_when_configured():
    """Off (the default), no part of the core has an event output or a cost counter: the core is the one without them."""
    from amaranth.back import verilog

    from trifactor.hdl.core.learner import LearnerCore

    for on in (False, True):
        core = LearnerCore(make_config([9, 6, 4], hardware={"lanes": 4, "cost_counters": on}))
        assert core.counters.names == counter_names(core.config) and list(core.cost_events()) == list(COST_NAMES if on else ())
        text = verilog.convert(core, name="core", emit_src=False)
        for name in ("weight_reads", "weight_writes", "rom_reads", "hidden_deltas", "forward_macs", *COST_NAMES):
            assert (name in text) == on, (on, name)


def test_host_summarises_the_cost_counters_per_sample_by_pass():
    from trifactor.scripts.host.model import counter_summary

    base = {"cycles": 1000, "samples": 4, "macs_done": 400, "macs_skipped": 0}
    assert "costs_per_sample" not in counter_summary(make_config(), base)
    on = make_config(hardware={"cost_counters": True})
    counts = {**base, **{name: 8 * (k + 1) for k, name in enumerate(COST_NAMES)}}
    costs = counter_summary(on, counts)["costs_per_sample"]
    assert costs == {"forward": {"macs": 2.0, "weight_reads": 4.0},
                     "error_path": {"macs": 6.0, "weight_reads": 8.0, "feedback_reads": 10.0, "deltas": 12.0},
                     "update": {"macs": 14.0, "weight_reads": 16.0, "weight_writes": 18.0}}


def check_spram_counters(max_step, costs=None, seed=0, cycles=2000, dumps=3, preset=None, wrong=False):
    """SpramCounters against the model: bursts of random increments (each counter at its largest step for a while,
    so that accumulators overflow in the same cycles), then a quiet spell and a dump of every reply word, ``dumps``
    times. ``preset``: counts to start from (written into the memory once it is cleared), near a carry or the wrap."""
    dut = SpramCounters(max_step=max_step, costs=costs)
    costs = costs or {}
    names = dut.names
    steps = {"cycles": 1, "samples": 1, "macs_done": max_step, "macs_skipped": max_step, **costs}
    ports = {name: getattr(dut, INPUTS[name]) if name in INPUTS else getattr(dut.costs, name) for name in names}
    rng = random.Random(seed)
    counts = dict.fromkeys(names, 0)
    mask = (1 << dut.accumulator_bits) - 1

    async def bench(ctx):
        await ctx.tick().repeat(4 * len(names) + 2)  # the clear
        for k, name in enumerate(names):
            start = (preset or {}).get(name, 0) & ~mask  # the accumulators start at zero
            counts[name] = start
            for w in range(4):
                ctx.set(dut.data[4 * k + w], start >> 16 * w & 0xFFFF)
        for _ in range(dumps):
            burst = 0
            for _ in range(cycles):
                if burst == 0:
                    burst, full = rng.randint(1, 60), rng.random() < 0.5
                burst -= 1
                for name in names:
                    step = steps[name] if full else rng.randint(0, steps[name])
                    ctx.set(ports[name], step)
                    counts[name] += step
                await ctx.tick()
            for name in names:
                ctx.set(ports[name], 0)
            ctx.set(dut.dump, 1)
            got = []
            while len(got) < dut.words:
                ctx.set(dut.o.ready, rng.random() < 0.7)
                if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                    got.append(ctx.get(dut.o.payload))
                await ctx.tick()
            ctx.set(dut.dump, 0)
            ctx.set(dut.o.ready, 0)
            await ctx.tick()
            assert got == model_words(names, counts, wrong), (got, model_words(names, counts))

    simulate(dut, bench)


@pytest.mark.parametrize("max_step", [1, 8, 16])
def test_spram_counters_count_as_the_model(max_step):
    check_spram_counters(max_step, seed=max_step)


def test_spram_cost_counters_count_as_the_model():
    cfg = make_config([9, 6, 4], hardware={"lanes": 4, "cost_counters": True})
    costs = {name: 4 for name in counter_names(cfg)[len(COUNTER_NAMES):]}
    check_spram_counters(4, costs=costs, cycles=600, dumps=2)


def test_spram_counters_carry_through_every_word_and_wrap_for_good():
    """Counts just below a 16-bit word's carry, below bit 48 (the wrap), and past it."""
    top = 1 << COUNTER_BITS
    check_spram_counters(8, preset={"cycles": (1 << 32) - 300, "samples": top - 100, "macs_done": top - 3000,
                                    "macs_skipped": top + (1 << 40)}, cycles=1500, dumps=2)


def test_spram_counters_test_catches_a_wrong_model():
    with pytest.raises(AssertionError):
        check_spram_counters(8, cycles=300, dumps=1, wrong=True)


def test_spram_accumulators_cannot_overflow_twice_in_a_round():
    """The accumulator is a whole number of nibbles, wide enough for the largest step over a servicer's round."""
    for steps, n in (([1, 1, 8, 8], 4), ([1, 1, 9, 9], 4), ([1, 1, 8, 8, *[16] * 9], 13)):
        bits = counters.accumulator_bits(steps, n)
        assert bits % 4 == 0 and (1 << bits) > max(steps) * counters.SERVICE_CYCLES * n
        assert bits == 4 or (1 << bits - 4) <= max(steps) * counters.SERVICE_CYCLES * n


def test_only_a_store_core_s_basic_counters_with_narrow_accumulators_go_to_spram():
    """``counter_placement``: beside a data store with the banks in block RAM; not without a store, with SPRAM banks,
    with cost counters, or when a skipped group is too large for a 16-bit accumulator (MNIST's 785 inputs)."""
    from trifactor.hdl.core.counters import counter_placement
    small = make_config([9, 6, 4], hardware={"lanes": 4})
    assert counter_placement(small, 100) == "spram" and counter_placement(small) == "registers"
    assert counter_placement(make_config([9, 6, 4], hardware={"lanes": 4, "banks": "spram"}), 100) == "registers"
    assert counter_placement(make_config([9, 6, 4], hardware={"lanes": 4, "cost_counters": True}), 100) == "registers"
    assert counter_placement(make_config([784, 16, 10], hardware={"lanes": 8}), 100) == "registers"
    with pytest.raises(ValueError, match="need 20-bit accumulators, more than a memory word's 16"):
        SpramCounters(max_step=785 * 8)
