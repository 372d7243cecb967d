# amaranth: UnusedElaboratable=no
"""The epoch runner (hdl/store/epoch_runner.py) alone, in Amaranth simulation, against a model of its contract.

An EVALUATE run of ``count`` records from ``start`` (its positions offered one a record, as the command decoder
offers them, with ``gap`` cycles of nothing after each one taken) is fed from a scripted record source that takes
each request only after ``delay`` cycles and then hands a word over a cycle at a time, to a scripted core that
predicts and then stays busy for a while. The runner must ask for records ``start .. start + count - 1`` once each,
in order, start exactly ``count`` samples, and answer the count of right predictions. With a long delay (or gap)
the core finishes a sample before the next request: the run must not end there (it ends only once the walk has
taken the last position).
"""

import pytest

from trifactor.hdl.store import DataStore, EpochRunner

from part_sim import CONFIGS, simulate


def run_evaluate(runner, store, start, count, delay, busy, gap=0):
    """Drive one EVALUATE run; returns (the indices asked for, the samples started, the result's ``correct``)."""
    n_classes, n_in = runner._config.n_classes, runner._config.sizes[0]
    out = {}

    async def bench(ctx):
        asked, samples = [], 0
        wait, words = delay, []             # the source: cycles until it takes a request, the record it streams
        core, inputs, idle_in = "idle", 0, 0  # the core: its state, inputs taken, cycles until idle
        predicted = None
        position, pause = start, 0            # the run's next position; cycles until it is offered
        ctx.set(runner.run.payload.train, 0)
        for _ in range(200 * count * (delay + store.stride + busy + gap + 10)):
            offered = position < start + count and pause == 0
            ctx.set(runner.run.valid, offered)
            ctx.set(runner.run.payload.position, position if offered else 0)
            ctx.set(runner.run.payload.last, offered and position == start + count - 1)
            # inputs for this cycle
            ctx.set(runner.request.ready, not words and wait == 0)
            offering = bool(words)
            ctx.set(runner.words.valid, offering)
            ctx.set(runner.words.payload, words[0] if words else 0)
            ctx.set(runner.inputs_last, core == "inputs" and inputs == n_in - 1)
            ctx.set(runner.prediction.valid, core == "predict")
            ctx.set(runner.prediction.payload, predicted or 0)
            ctx.set(runner.sample_idle, core == "idle")
            ctx.set(runner.result.ready, 1)
            if ctx.get(runner.result.valid):
                out.update(asked=asked, samples=samples, correct=ctx.get(runner.result.payload.correct))
                return
            # handshakes
            if offering and ctx.get(runner.words.ready):
                words = words[1:]
            if ctx.get(runner.request.valid):
                if ctx.get(runner.request.ready):
                    index = ctx.get(runner.request.payload)
                    asked.append(index)
                    label = index % n_classes
                    words, wait = [label] + [(index + k) % 7 for k in range(n_in)], delay
                elif not words:
                    wait = max(0, wait - 1)
            if core == "idle" and ctx.get(runner.sample.valid):
                core, inputs, samples = "inputs", 0, samples + 1
                predicted = (asked[samples - 1] * 3) % n_classes  # right for some records, wrong for others
            elif core == "inputs" and ctx.get(runner.inputs.valid):
                inputs += 1
                if inputs == n_in:
                    core = "predict"
            elif core == "predict" and ctx.get(runner.prediction.ready):
                core, idle_in = "busy", busy
            elif core == "busy":
                idle_in -= 1
                if idle_in <= 0:
                    core = "idle"
            if offered and ctx.get(runner.run.ready):
                position, pause = position + 1, gap
            else:
                pause = max(0, pause - 1)
            await ctx.tick()
        raise AssertionError(f"the run did not end: asked {asked}, {samples} samples started")

    simulate(runner, bench)
    return out["asked"], out["samples"], out["correct"]


@pytest.mark.parametrize("delay, busy, gap", [(0, 0, 0), (3, 5, 0), (60, 0, 0), (200, 2, 0), (0, 0, 150)])
def test_a_run_asks_for_each_record_once_and_ends_after_its_last_sample(delay, busy, gap):
    cfg = CONFIGS["small"]()
    store = DataStore(cfg, samples=12)
    runner = EpochRunner(cfg, store=store)
    start, count = 3, 7
    asked, samples, correct = run_evaluate(runner, store, start, count, delay, busy, gap)
    expected = sum(index % cfg.n_classes == (index * 3) % cfg.n_classes for index in range(start, start + count))
    assert asked == list(range(start, start + count))
    assert samples == count
    assert correct == expected and 0 < expected < count
