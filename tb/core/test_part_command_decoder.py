# amaranth: UnusedElaboratable=no
"""CommandDecoder on its own: a stream of every command against the protocol's model of the replies.

One testbench plays, cycle by cycle, the host (words with idle gaps, replies with random
``ready``), the pass sequencer (prediction, ``sample_idle``), the input lists
(``inputs_last``), the banks (words ``read_latency`` cycles after their address, held by
``hold``) and the counters (a word per ``counter_select``).
"""

import dataclasses
import random

import pytest

from trifactor.hdl.core.command_decoder import CommandDecoder
from trifactor.hdl.layout import WeightLayout
from trifactor.hdl.protocol import ACK, ERROR, Op, counter_words, header, position

from part_sim import CONFIGS, simulate


def signed_bits(word, width):
    word &= (1 << width) - 1
    return word - (1 << width) if word >> (width - 1) else word


def walk(cfg, addr, lane, count):
    """LOAD / READ positions: lane by lane within an address."""
    out = []
    for _ in range(count):
        out.append((addr, lane))
        lane += 1
        if lane == cfg.lanes:
            lane, addr = 0, addr + 1
    return out


def check_decoder(cfg, read_latency, seed=0, wrong=False):
    dut = CommandDecoder(cfg, read_latency=read_latency)
    rng = random.Random(seed)
    lay = WeightLayout(cfg)
    n_in, wmask = cfg.sizes[0], (1 << cfg.weight.width) - 1
    bank = [[rng.randint(cfg.weight.min, cfg.weight.max) for _ in range(lay.depth)] for _ in range(cfg.lanes)]
    counters = [rng.getrandbits(32) for _ in range(counter_words(cfg))]
    model_latency = read_latency + (1 if wrong else 0)

    words, replies, load_counts = [], [], []  # what the host sends; the replies the model expects
    samples, inputs, writes = [], [], []  # expected (train, label); input values; (addr, lane, data)
    predictions = []

    def sample(op, label):
        words.append(header(op, label))
        raw = [rng.getrandbits(32) for _ in range(n_in)]
        words.extend(raw)
        samples.append((int(op == Op.TRAIN), label))
        inputs.extend(signed_bits(w, cfg.input.width) for w in raw)
        predictions.append(rng.randrange(cfg.n_classes))
        replies.append(predictions[-1])

    def load(addr, lane, count):
        words.extend([header(Op.LOAD, count), position(addr, lane)])
        load_counts.append(count)
        for a, p in walk(cfg, addr, lane, count):
            w = rng.getrandbits(32)
            words.append(w)
            writes.append((a, p, signed_bits(w, cfg.weight.width)))
        replies.append(ACK)

    def read(addr, lane, count):
        words.extend([header(Op.READ, count), position(addr, lane)])
        replies.extend(("read", a, p) for a, p in walk(cfg, addr, lane, count))  # resolved after the loads

    sample(Op.TRAIN, cfg.n_classes - 1)
    read(0, 0, cfg.lanes + 1)
    load(1, cfg.lanes - 1, 2 * cfg.lanes + 1)
    read(1, cfg.lanes - 1, 2 * cfg.lanes + 1)
    words.append(header(Op.COUNTERS))
    replies.extend(counters)
    for op in (0, 6, 15):
        words.append(op | (7 << 8))
        replies.append(ERROR | op)
    sample(Op.INFER, 0)
    words.extend([header(Op.LOAD, 0), position(3, 0)])
    replies.append(ERROR | Op.LOAD)
    words.extend([header(Op.READ, 0), position(3, 0)])
    replies.append(ERROR | Op.READ)
    read(lay.depth - 2, 0, 2 * cfg.lanes)
    load(0, 1 % cfg.lanes, 1)
    read(0, 1 % cfg.lanes, 1)
    sample(Op.TRAIN, 1)
    words.append(header(Op.COUNTERS))
    replies.extend(counters)
    # a read before the load sees the old words: resolve in order
    resolved, model = [], [row[:] for row in bank]
    load_writes = iter(writes)
    for r in replies:
        if r == ACK:
            for _ in range(load_counts.pop(0)):
                a, p, v = next(load_writes)
                model[p][a] = v
        resolved.append(model[r[2]][r[1]] & wmask if isinstance(r, tuple) else r)

    async def bench(ctx):
        got = {"o": [], "samples": [], "inputs": [], "writes": []}
        pipe = [[0] * cfg.lanes for _ in range(model_latency)]  # the bank model's read registers
        live = [row[:] for row in bank]
        k, loaded, idle, pred_at, idle_at, inputs_done = 0, 0, 1, None, None, True
        cycle = 0
        for cycle in range(20_000):
            if len(got["o"]) == len(resolved) and k == len(words) and idle:
                break
            # the host's word, the sequencer, the lists, the banks and the counters
            valid = k < len(words) and rng.random() < 0.7
            ctx.set(dut.i.valid, valid)
            ctx.set(dut.i.payload, words[k] if k < len(words) else 0)
            ready = rng.random() < 0.7
            ctx.set(dut.o.ready, ready)
            ctx.set(dut.sample_idle, idle)
            ctx.set(dut.inputs_last, loaded == n_in - 1)
            ctx.set(dut.prediction.valid, pred_at is not None and cycle >= pred_at)
            ctx.set(dut.prediction.payload, predictions[len(got["samples"]) - 1] if got["samples"] else 0)
            # (the select runs one past the last word after COUNTERS when the word count is no power of 2)
            ctx.set(dut.counter_word, counters[min(ctx.get(dut.counter_select), len(counters) - 1)])
            # (lane may run one past the last lane after a walk: Amaranth's Array then takes the last)
            ctx.set(dut.banks.word, pipe[-1][min(ctx.get(dut.banks.lane), cfg.lanes - 1)])
            # what the decoder does this cycle
            taken = valid and ctx.get(dut.i.ready)
            if taken and inputs_done and not idle:
                raise AssertionError(f"cycle {cycle}: a word taken while the sample's update runs")
            if ctx.get(dut.sample.valid):
                got["samples"].append((ctx.get(dut.sample.payload.train), None))
                idle, loaded, inputs_done = 0, 0, False
            if ctx.get(dut.inputs.valid):
                got["inputs"].append(ctx.get(dut.inputs.payload))
                loaded += 1
                if loaded == n_in:
                    inputs_done, pred_at = True, cycle + 1 + rng.randint(0, 5)
            if ctx.get(dut.o.valid) and ready:
                got["o"].append(ctx.get(dut.o.payload))
                if ctx.get(dut.prediction.valid):
                    assert ctx.get(dut.prediction.ready)
                    pred_at = None
                    idle_at = cycle + 1 + (rng.randint(0, 8) if got["samples"][-1][0] else 0)
            else:  # the prediction is taken only as the reply is
                assert not (ctx.get(dut.prediction.valid) and ctx.get(dut.prediction.ready))
            if ctx.get(dut.banks.write):
                assert ctx.get(dut.banks.own)
                a, p, v = ctx.get(dut.banks.addr), ctx.get(dut.banks.lane), ctx.get(dut.banks.data)
                got["writes"].append((a, p, v))
                live[p][a] = v
            own, hold, addr = ctx.get(dut.banks.own), ctx.get(dut.banks.hold), ctx.get(dut.banks.addr)
            if got["samples"] and got["samples"][-1][1] is None and not ctx.get(dut.sample.valid):
                got["samples"][-1] = (got["samples"][-1][0], ctx.get(dut.label))
            await ctx.tick()
            k += taken
            if idle_at is not None and cycle + 1 >= idle_at:
                idle, idle_at = 1, None
            first = [live[p][addr] for p in range(cfg.lanes)] if own and not hold and addr < lay.depth else pipe[0]
            pipe = [first] + pipe[:-1]
        else:
            raise AssertionError("the command stream never finished")
        assert got["samples"] == samples
        assert got["inputs"] == inputs
        assert got["writes"] == writes
        assert got["o"] == resolved
        assert not ctx.get(dut.banks.own)

    simulate(dut, bench)


@pytest.mark.parametrize("read_latency", [1, 3])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_decoder_answers_as_the_protocol(name, read_latency):
    check_decoder(CONFIGS[name](), read_latency)


def test_decoder_sends_the_cost_counters():
    """With ``[hardware] cost_counters`` COUNTERS answers every counter's two words (26, not 8)."""
    cfg = dataclasses.replace(CONFIGS["small"](), cost_counters=True)
    assert counter_words(cfg) == 26
    check_decoder(cfg, 3)


@pytest.mark.parametrize("read_latency", [1, 3])
def test_decoder_test_catches_a_wrong_model(read_latency):
    with pytest.raises(AssertionError):
        check_decoder(CONFIGS["small"](), read_latency, wrong=True)


def test_decoder_refuses_a_bad_read_latency():
    with pytest.raises(ValueError, match="read_latency"):
        CommandDecoder(CONFIGS["small"](), read_latency=0)


# -- the store commands ----------------------------------------------------------------------------

def store_sequence(samples):
    """(words, replies, order writes, sample writes, runs) of a store's first commands: runs before anything was
    stored, ORDER with indices outside the store (at its size, all ones, past it in the middle), then good ones."""
    from trifactor.hdl.store import RESULT_FIELDS

    result = list(range(0xC0DE00, 0xC0DE00 + len(RESULT_FIELDS)))
    words, replies, order, records, runs = [], [], [], [], []

    def command(op, count, at, values=(), reply=None):
        words.extend([header(op, count), position(at, 0), *values])
        replies.extend(reply)

    command(Op.EPOCH, 1, 0, reply=[ERROR | Op.EPOCH])              # nothing stored, no order
    command(Op.EVALUATE, 1, 0, reply=[ERROR | Op.EVALUATE])
    command(Op.STORE, 2, 3, [11, 12], reply=[ACK])
    records += [(3, 11), (4, 12)]
    command(Op.EVALUATE, 2, 1, reply=result)
    runs += [(0, 1, 0), (0, 2, 1)]  # (train, position, last): a position a record
    command(Op.EPOCH, 1, 0, reply=[ERROR | Op.EPOCH])              # no order yet
    command(Op.ORDER, 3, 0, [1, samples, 2], reply=[ERROR | Op.ORDER])
    order.append((0, 1))                                           # before the bad one; nothing after it
    command(Op.ORDER, 1, 0, [0xFFFF_FFFF], reply=[ERROR | Op.ORDER])
    command(Op.EPOCH, 1, 0, reply=[ERROR | Op.EPOCH])              # no ORDER has succeeded
    command(Op.ORDER, 2, 5, [samples - 1, 0], reply=[ACK])
    order += [(5, samples - 1), (6, 0)]
    command(Op.EPOCH, 2, 5, reply=result)
    runs += [(1, 5, 0), (1, 6, 1)]
    return words, replies, order, records, runs, result


@pytest.mark.parametrize("samples", [5, 8])
def test_decoder_store_commands_refuse_what_is_outside_or_never_written(samples):
    """An ORDER index outside the store is not written and the command answers ERROR; EPOCH and EVALUATE before any
    ORDER / STORE answer ERROR and start no run (5: indices up to 7 fit the order memory's 3 bits; 8: none past)."""
    from trifactor.hdl.store import RESULT_FIELDS, DataStore

    cfg = CONFIGS["small"]()
    dut = CommandDecoder(cfg, read_latency=1, store=DataStore(cfg, samples=samples))
    words, replies, order, records, runs, result = store_sequence(samples)

    async def bench(ctx):
        got = {"o": [], "order": [], "records": [], "runs": []}
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.run.ready, 1)
        ctx.set(dut.sample_idle, 1)
        for name, value in zip(RESULT_FIELDS, result):
            ctx.set(dut.result.payload[name], value)
        k = 0
        for _ in range(2000):
            ctx.set(dut.i.valid, k < len(words))
            ctx.set(dut.i.payload, words[k] if k < len(words) else 0)
            ctx.set(dut.result.valid, bool(got["runs"]))
            if ctx.get(dut.order_write.en):
                got["order"].append((ctx.get(dut.order_write.addr), ctx.get(dut.order_write.data)))
            if ctx.get(dut.sample_write.en):
                got["records"].append((ctx.get(dut.sample_write.addr), ctx.get(dut.sample_write.data)))
            if ctx.get(dut.run.valid):
                run = ctx.get(dut.run.payload)
                got["runs"].append((run.train, run.position, run.last))
            if ctx.get(dut.o.valid):
                got["o"].append(ctx.get(dut.o.payload))
            taken = k < len(words) and ctx.get(dut.i.ready)
            await ctx.tick()
            k += taken
            if ctx.get(dut.result.ready):
                got["runs"].append("done")
            if k == len(words) and len(got["o"]) == len(replies):
                break
        assert [hex(w) for w in got["o"]] == [hex(w) for w in replies]
        assert got["order"] == order, "order writes"
        assert got["records"] == records, "record writes"
        assert [r for r in got["runs"] if r != "done"] == runs, "runs"

    simulate(dut, bench)
