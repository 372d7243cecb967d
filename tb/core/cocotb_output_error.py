"""cocotb: the output error unit against golden.fixed_model.output_error (softmax or MSE), exactly.

Each sample (scores and label in, errors out) is one transaction. Edge samples first:
all scores equal (a tie everywhere), all most positive, all most negative, one score
far above the rest, the extremes alternating; then random scores, some of them close
together and some far apart.
"""


import cocotb
import numpy as np

from trifactor.golden.fixed_model import output_error
from trifactor.hdl.core.output_error import OutputErrorUnit
from trifactor.scripts.sim.streams import CycleCounter, StreamSink, StreamSource, random_pause, start_clock

from cocotb_perf import write_perf
from sim import load_params
from unit_params import golden_config


def _scores(cfg, rng, n):
    classes, fmt = cfg.n_classes, cfg.act
    edges = [np.zeros(classes), np.full(classes, fmt.max), np.full(classes, fmt.min),
             np.where(np.arange(classes) == 1, fmt.max, fmt.min),
             np.where(np.arange(classes) % 2 == 0, fmt.max, fmt.min)]
    if n < len(edges):
        return edges[n].astype(np.int64)
    spread = int(rng.choice([4 * fmt.one, 16 * fmt.one, fmt.max - fmt.min]))
    centre = int(rng.integers(fmt.min, fmt.max + 1))
    return np.clip(centre + rng.integers(-spread // 2, spread // 2 + 1, classes), fmt.min, fmt.max)


async def _run(dut, idle, stall, samples):
    params = load_params()
    cfg = golden_config(params)
    unit = OutputErrorUnit(golden_config({**params, "perturb": None}))
    await start_clock(dut)
    clock = CycleCounter(dut)
    rng = np.random.default_rng(params["seed"])
    source = StreamSource(dut, "i", unit.i.payload.shape(), pause=random_pause(idle, params["seed"]), clock=clock)
    sink = StreamSink(dut, "o", unit.o.payload.shape(), pause=random_pause(stall, params["seed"] + 1), clock=clock)
    expected = []
    for n in range(samples):
        y = _scores(cfg, rng, n)
        label = n % cfg.n_classes if n < 2 * cfg.n_classes else int(rng.integers(cfg.n_classes))
        expected.append(output_error(y, label, cfg)["e"].tolist())
        await source.send([{"y": int(v), "label": label} for v in y])
    got = await sink.recv(samples * cfg.n_classes, idle_cycles=100_000)
    assert len(got) == samples * cfg.n_classes, f"{len(got)} errors arrived, expected {samples * cfg.n_classes}"
    for n, want in enumerate(expected):
        have = got[n * cfg.n_classes:(n + 1) * cfg.n_classes]
        assert have == want, f"sample {n}: e {have} != golden {want}"
    return source, sink, samples


@cocotb.test()
async def random_samples_with_stalls(dut):
    await _run(dut, idle=0.2, stall=0.3, samples=load_params()["samples"])


@cocotb.test()
async def full_rate_latency_and_throughput(dut):
    source, sink, samples = await _run(dut, idle=0.0, stall=0.0, samples=20)
    classes = len(source.sent_at) // samples
    write_perf({"unit": "output_error", "classes": classes,
                "latency_cycles": sink.received_at[0] - source.sent_at[classes - 1],
                "cycles_per_sample": (sink.received_at[-1] - source.sent_at[0] + 1) / samples}, dut)
