# amaranth: UnusedElaboratable=no
"""PassSequencer on its own: the sweeper, serialiser and error path are played by the testbench.

The model: TRAIN starts forward sweeps of layers 0..L-1 (each once the sweeper is no longer
busy), offers the prediction once every layer is written (the errors may still be on
their way), then update sweeps of layers L-1..0 (each once the sweeper is empty), keeps ``update``
for ``drain_cycles`` cycles after the last one and ends with one ``sample_done`` cycle.
INFER stops after the prediction.
"""

import random

import pytest

from trifactor.hdl.core.sequencer import PassSequencer

from part_sim import CONFIGS, simulate


def model_sweeps(n_layers, train, wrong=False):
    forward = [(layer, 0) for layer in range(n_layers)]
    update = [(layer, 1) for layer in (range(n_layers) if wrong else reversed(range(n_layers)))]
    return forward + (update if train else [])


def check_sequencer(cfg, seed=0, wrong=False, update_latency=2, scored_wait=1):
    dut = PassSequencer(cfg, update_latency=update_latency, scored_wait=scored_wait)
    rng = random.Random(seed)
    L = cfg.n_layers
    log = {"sweeps": [], "cycle": 0, "update_high": [], "sample_done": 0, "busy": 0}
    fake = {"busy_until": 0, "empty_at": 0, "sweeps_seen": 0}

    async def sweeper(ctx):
        """A sweep is busy 2-8 cycles, then its elements leave 1-4 cycles later; the log of starts."""
        while True:
            now = log["cycle"]
            ctx.set(dut.sweeper_busy, now < fake["busy_until"])
            ctx.set(dut.sweeper_empty, now >= fake["empty_at"])
            if ctx.get(dut.sweep.valid):
                p = ctx.get(dut.sweep.payload)
                assert now >= fake["busy_until"], "a sweep started while the sweeper was busy"
                log["sweeps"].append((p.layer, p.update, now, fake["busy_until"], fake["empty_at"]))
                fake["busy_until"] = now + 1 + rng.randint(2, 8)
                fake["empty_at"] = fake["busy_until"] + rng.randint(1, 4)
            if ctx.get(dut.update):
                log["update_high"].append(now)
            log["sample_done"] += ctx.get(dut.sample_done)
            log["busy"] += ctx.get(dut.busy)
            await ctx.tick()
            log["cycle"] += 1

    async def run_sample(ctx, train, scored):
        log["sweeps"].clear()
        log["update_high"].clear()
        log["sample_done"] = 0
        assert ctx.get(dut.idle)
        ctx.set(dut.written, L)  # the last sample's count, until clear
        ctx.set(dut.start.valid, 1)
        ctx.set(dut.start.payload, {"train": train})
        assert ctx.get(dut.clear)
        await ctx.tick()
        ctx.set(dut.start.valid, 0)
        ctx.set(dut.written, 0)
        ctx.set(dut.scored, scored)
        assert not ctx.get(dut.idle) and ctx.get(dut.busy) and ctx.get(dut.training) == train
        # the serialiser writes a layer some cycles after its sweep
        written, written_at = 0, None
        for _ in range(400):
            sweeps = [s for s in log["sweeps"] if not s[1]]
            if written < len(sweeps) and log["cycle"] >= fake["empty_at"] + 2:
                written += 1
                ctx.set(dut.written, written)
                if written == L:
                    written_at = log["cycle"]
            assert not ctx.get(dut.prediction.valid) or written == L
            if ctx.get(dut.prediction.valid):
                break
            await ctx.tick()
        else:
            raise AssertionError("no prediction")
        # the prediction is read scored_wait cycles after written == L is seen (the sweeper idle by then)
        assert log["cycle"] - written_at == dut.scored_wait
        assert ctx.get(dut.prediction.payload) == scored
        for _ in range(rng.randint(0, 4)):  # the host is slow to take it
            await ctx.tick()
            assert ctx.get(dut.prediction.valid) and not ctx.get(dut.update)
        ctx.set(dut.prediction.ready, 1)
        assert ctx.get(dut.provide) == train
        await ctx.tick()
        ctx.set(dut.prediction.ready, 0)
        assert not ctx.get(dut.prediction.valid)
        for _ in range(400):
            if ctx.get(dut.idle):
                break
            assert not ctx.get(dut.provide)
            await ctx.tick()
        else:
            raise AssertionError("never idle")
        assert [s[:2] for s in log["sweeps"]] == model_sweeps(L, train, wrong)
        assert log["sample_done"] == train
        for before, sweep in zip(log["sweeps"], log["sweeps"][1:]):  # each sweep as early as allowed
            if sweep[1] == before[1]:
                assert sweep[2] == (sweep[4] if sweep[1] else sweep[3]), (before, sweep)
        if train:
            # update sweeps start only once the sweeper is empty; update is held drain_cycles after the last
            high = log["update_high"]
            assert high == list(range(high[0], high[-1] + 1))
            assert high[-1] - fake["empty_at"] == dut.drain_cycles  # cycles after the first empty one
            first_update = [s for s in log["sweeps"] if s[1]][0][2]
            assert high[0] == first_update + 1  # from the edge that starts the first update sweep
        else:
            assert not any(log["update_high"])

    async def bench(ctx):
        for train in (1, 0, 1, 1, 0):
            await run_sample(ctx, train, rng.randrange(cfg.n_classes))
            for _ in range(rng.randint(0, 3)):
                await ctx.tick()
        assert not ctx.get(dut.busy)

    simulate(dut, bench, background=[sweeper])


@pytest.mark.parametrize("update_latency", [1, 2, 4])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_sequencer_runs_the_models_passes(name, update_latency):
    check_sequencer(CONFIGS[name](), update_latency=update_latency)


@pytest.mark.parametrize("name", ["small", "fast_dense"])
def test_sequencer_test_catches_a_wrong_model(name):
    with pytest.raises(AssertionError):
        check_sequencer(CONFIGS[name](), wrong=True)


@pytest.mark.parametrize("scored_wait", [2, 3])
def test_sequencer_waits_for_the_prediction(scored_wait):
    """``scored_wait`` above 1 (the balanced pipeline's argmax: 2): the prediction is read that many cycles after the
    last layer is written, the passes otherwise the same."""
    check_sequencer(CONFIGS["balanced4"](), scored_wait=scored_wait)


def test_sequencer_refuses_a_scored_wait_below_one():
    with pytest.raises(ValueError, match="scored_wait must be a positive integer, not 0"):
        PassSequencer(CONFIGS["small"](), update_latency=2, scored_wait=0)
