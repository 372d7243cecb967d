"""cocotb: the forward MAC array against golden.fixed_model.forward_layer, exactly.

Every pass runs every layer over fresh inputs; each neuron group's P sums ``a`` (the
activation is the serialiser's, tested with it) are one transaction. Edge passes first (all zeros, all most-positive, all most-negative, with
full-scale weights), then random inputs with many zeros. The first test randomises
valid and ready (stalls everywhere); the second runs at full rate and measures latency
and sustained throughput.
"""


import cocotb
import numpy as np

from trifactor.golden.fixed_model import forward_layer
from trifactor.hdl.layout import WeightLayout
from trifactor.hdl.core.mac_array import MacArray
from trifactor.scripts.sim.streams import CycleCounter, StreamSink, StreamSource, random_pause, start_clock

from cocotb_perf import write_perf
from sim import load_params
from unit_params import format_values, golden_config


EDGE_PASSES = ["zero", "max", "min"]  # then random inputs


def _stimulus(cfg, weights, passes, rng):
    """Commands for the array and, per neuron group, the expected sums ``a`` of its valid lanes."""
    layout = WeightLayout(cfg)
    lanes = cfg.lanes
    commands, expected = [], []
    for n_pass in range(passes):
        for layer, spec in enumerate(cfg.layers):
            x = format_values(spec.x, spec.n_in, rng, EDGE_PASSES[n_pass] if n_pass < len(EDGE_PASSES) else "random")
            _, a, _, _ = forward_layer(weights[layer], x, spec, cfg)
            for group in range(layout.groups(layer)):
                for i in range(spec.n_in + 1):
                    commands.append({"x": int(x[i]) if i < spec.n_in else spec.x.one,
                                     "addr": layout.address(layer, group, i), "layer": layer, "last": int(i == spec.n_in)})
                rows = slice(group * lanes, min((group + 1) * lanes, spec.n_out))
                expected.append(a[rows].tolist())
    return commands, expected


def _check(mac, expected, got):
    assert len(got) == len(expected), f"{len(got)} results, expected {len(expected)}"
    for n, (a, result) in enumerate(zip(expected, got)):
        valid = len(a)
        sums = [mac.sum_value(fields) for fields in result["a"][:valid]]
        assert sums == a, f"group {n}: a {sums} != golden {a}"


async def _run(dut, idle, stall, passes):
    params = load_params()
    cfg = golden_config(params)
    weights = [np.array(w, dtype=np.int64) for w in params["weights"]]
    mac = MacArray(cfg)
    await start_clock(dut)
    clock = CycleCounter(dut)
    rng = np.random.default_rng(params["seed"])
    source = StreamSource(dut, "i", mac.cmd_layout, pause=random_pause(idle, params["seed"]), clock=clock)
    sink = StreamSink(dut, "o", mac.result_layout, pause=random_pause(stall, params["seed"] + 1), clock=clock)
    commands, expected = _stimulus(cfg, weights, passes, rng)
    start = clock.now
    await source.send(commands)
    got = await sink.recv(len(expected), idle_cycles=100_000)
    _check(mac, expected, got)
    return commands, expected, source, sink, start


@cocotb.test()
async def random_traffic_with_stalls(dut):
    params = load_params()
    await _run(dut, idle=0.2, stall=0.3, passes=params["passes"])


@cocotb.test()
async def full_rate_latency_and_throughput(dut):
    params = load_params()
    commands, expected, source, sink, start = await _run(dut, idle=0.0, stall=0.0, passes=max(4, params["passes"] // 4))
    last_inputs = [t for t, c in zip(source.sent_at, commands) if c["last"]]
    latency = sink.received_at[0] - last_inputs[0]
    cycles = sink.received_at[-1] - start
    lanes = params["config"]["hardware"]["lanes"]
    perf = {"unit": "mac_array", "latency_cycles": latency, "elements": len(commands), "cycles": cycles,
            "elements_per_cycle": len(commands) / cycles, "macs_per_cycle": lanes * len(commands) / cycles}
    write_perf(perf, dut)
    assert all(b - a == 1 for a, b in zip(source.sent_at, source.sent_at[1:])), "input stalled at full rate"

