"""cocotb: the sparse-ternary feedback unit against golden.fixed_model.feedback_delta, exactly.

One sample: the output errors, then every hidden neuron of every hidden layer with its
f', then the error rows (each class's error back, whatever the f'); each delta is one
transaction. Edge samples first (all-zero errors, all most
positive, all most negative with every f' set), then random errors and flags.
"""


import cocotb
import numpy as np

from trifactor.golden.feedback import feedback_matrices
from trifactor.golden.fixed_model import feedback_delta
from trifactor.hdl.rules.feedback_unit import FeedbackUnit
from trifactor.scripts.sim.streams import CycleCounter, StreamSink, StreamSource, random_pause, start_clock

from cocotb_perf import write_perf
from sim import load_params
from unit_params import golden_config


def _sample(cfg, rng, n):
    kinds = ["zero", "max", "min"]
    if n < len(kinds):
        e = np.full(cfg.n_classes, {"zero": 0, "max": cfg.error.max, "min": cfg.error.min}[kinds[n]], dtype=np.int64)
        fprimes = [np.ones(cfg.sizes[l + 1], dtype=np.int64) for l in range(cfg.n_layers - 1)]
    else:
        e = rng.integers(cfg.error.min, cfg.error.max + 1, cfg.n_classes)
        fprimes = [rng.integers(0, 2, cfg.sizes[l + 1]) for l in range(cfg.n_layers - 1)]
    return e, fprimes


async def _run(dut, idle, stall, samples):
    params = load_params()
    rtl_cfg = golden_config({**params, "perturb": None})
    cfg = golden_config(params)
    unit = FeedbackUnit(rtl_cfg)
    tables = feedback_matrices(cfg)
    if params.get("perturb") == "sign":  # a one-entry slip in golden's B
        tables[0].sign[0, 0] *= -1
    await start_clock(dut)
    clock = CycleCounter(dut)
    rng = np.random.default_rng(params["seed"])
    errors = StreamSource(dut, "e", unit.e.payload.shape(), pause=random_pause(idle, params["seed"]))
    neurons = StreamSource(dut, "i", unit.i.payload.shape(), pause=random_pause(idle, params["seed"] + 1), clock=clock)
    sink = StreamSink(dut, "o", unit.o.payload.shape(), pause=random_pause(stall, params["seed"] + 2), clock=clock)
    expected, got, first_sent = [], [], None
    for n in range(samples):
        e, fprimes = _sample(cfg, rng, n)
        await errors.send([int(v) for v in e])
        for layer, (fb, fprime) in enumerate(zip(tables, fprimes)):
            expected += feedback_delta(e, fprime, fb, cfg)[1].tolist()
            await neurons.send([{"row": unit.row_base(layer) + j, "fprime": int(f)} for j, f in enumerate(fprime)])
            first_sent = first_sent if first_sent is not None else neurons.sent_at[0]
        expected += e.tolist()  # the error rows: the output layer's deltas are the errors
        await neurons.send([{"row": unit.error_base + c, "fprime": c % 2} for c in range(cfg.n_classes)])
        got += await sink.recv(len(expected) - len(got), idle_cycles=100_000)  # no new errors while deltas are in flight
    assert len(got) == len(expected)
    for n, (want, have) in enumerate(zip(expected, got)):
        assert have == want, f"delta {n}: {have} != golden {want}"
    return neurons, sink, samples


@cocotb.test()
async def random_samples_with_stalls(dut):
    await _run(dut, idle=0.2, stall=0.3, samples=load_params()["samples"])


@cocotb.test()
async def full_rate_latency_and_throughput(dut):
    neurons, sink, samples = await _run(dut, idle=0.0, stall=0.0, samples=4)
    per_sample = len(neurons.sent_at) // samples
    last = neurons.sent_at[per_sample - 1]
    write_perf({"unit": "feedback_unit", "latency_cycles": sink.received_at[0] - neurons.sent_at[0],
                "neurons_per_sample": per_sample,
                "cycles_per_sample_neurons": sink.received_at[per_sample - 1] - neurons.sent_at[0] + 1,
                "neurons_per_cycle": per_sample / (last - neurons.sent_at[0] + 1)}, dut)
