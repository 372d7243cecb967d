"""cocotb: the update unit against golden.fixed_model.update_layer, exactly, word by word and in memory.

Each pass updates every weight of every layer once (one transaction per bank word: P
weights) from fresh inputs and deltas: edge passes first (all-zero deltas, most positive
and most negative x and d on full-scale weights, so steps saturate), then random values
with many zeros. Every written word is compared as it is written, and the banks are read
back at the end.
"""


import cocotb
import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge

from trifactor.golden.fixed_model import update_layer
from trifactor.hdl.layout import WeightLayout
from trifactor.hdl.core.update_unit import UpdateUnit
from trifactor.scripts.sim.streams import CycleCounter, StreamSource, random_pause, start_clock, unpack

from cocotb_perf import write_perf
from harness import written_layout
from sim import load_params
from unit_params import format_values, golden_config


# (x, d) per edge pass: no change, steps that saturate downwards and upwards, min * min
EDGE_PASSES = [("random", "zero"), ("max", "max"), ("max", "min"), ("min", "min")]


def _stimulus(cfg, weights, passes, rng):
    layout = WeightLayout(cfg)
    lanes = cfg.lanes
    commands, expected = [], []
    for n_pass in range(passes):
        for layer, spec in enumerate(cfg.layers):
            x_kind, d_kind = EDGE_PASSES[n_pass] if n_pass < len(EDGE_PASSES) else ("random", "random")
            x = format_values(spec.x, spec.n_in, rng, x_kind)
            d = format_values(cfg.error, spec.n_out, rng, d_kind)
            weights[layer] = update_layer(weights[layer], x, d, spec, cfg)
            banks = layout.to_banks(weights)
            for group in range(layout.groups(layer)):
                d_group = [int(v) for v in d[group * lanes:(group + 1) * lanes]]
                d_group += [0] * (lanes - len(d_group))
                for i in range(spec.n_in + 1):
                    addr = layout.address(layer, group, i)
                    commands.append({"x": int(x[i]) if i < spec.n_in else spec.x.one, "d": d_group,
                                     "addr": addr, "layer": layer})
                    expected.append((addr, banks[:, addr].tolist()))
    return commands, expected, layout.to_banks(weights)


class WriteMonitor:
    def __init__(self, dut, layout, clock):
        self.dut, self.layout, self.clock, self.items, self.at = dut, layout, clock, [], []
        cocotb.start_soon(self._run())

    async def _run(self):
        while True:
            await ReadOnly()
            value = self.dut.written.value
            if str(value)[-1] == "1":  # valid is bit 0; data may be X (Icarus) while it is low
                word = unpack(self.layout, int(value))
                self.items.append((word["addr"], word["data"]))
                self.at.append(self.clock.now)
            await RisingEdge(self.dut.clk)


async def read_banks(dut, cfg, words_layout):
    """Every bank word through the peek port (``lanes x depth``)."""
    layout = WeightLayout(cfg)
    banks = np.zeros((cfg.lanes, layout.depth), dtype=np.int64)
    for addr in range(layout.depth):
        dut.peek_addr.value = addr
        await RisingEdge(dut.clk)
        await ReadOnly()
        banks[:, addr] = unpack(words_layout, int(dut.peek_data.value))
        await RisingEdge(dut.clk)
    return banks


async def _run(dut, idle, passes):
    params = load_params()
    cfg = golden_config(params)
    unit = UpdateUnit(cfg)
    harness_layout = written_layout(cfg)
    await start_clock(dut)
    # start from what the memories hold now (an earlier test in this simulation may have updated them)
    weights = WeightLayout(cfg).from_banks(await read_banks(dut, cfg, harness_layout["data"].shape))
    clock = CycleCounter(dut)
    source = StreamSource(dut, "i", unit.cmd_layout, pause=random_pause(idle, params["seed"]), clock=clock)
    monitor = WriteMonitor(dut, harness_layout, clock)
    commands, expected, final_banks = _stimulus(cfg, weights, passes, np.random.default_rng(params["seed"]))
    await source.send(commands)
    for _ in range(5):
        await RisingEdge(dut.clk)
    assert len(monitor.items) == len(expected), f"{len(monitor.items)} words written, expected {len(expected)}"
    for n, ((addr, want), (got_addr, got)) in enumerate(zip(expected, monitor.items)):
        assert (got_addr, got) == (addr, want), f"word {n}: wrote {got} at {got_addr}, golden {want} at {addr}"
    # the memories hold what was written
    banks = await read_banks(dut, cfg, harness_layout["data"].shape)
    for addr in range(banks.shape[1]):
        assert banks[:, addr].tolist() == final_banks[:, addr].tolist(), \
            f"bank word {addr}: {banks[:, addr].tolist()} != golden {final_banks[:, addr].tolist()}"
    return commands, source, monitor


@cocotb.test()
async def random_updates_with_idle_cycles(dut):
    await _run(dut, idle=0.2, passes=load_params()["passes"])


@cocotb.test()
async def full_rate_latency_and_throughput(dut):
    commands, source, monitor = await _run(dut, idle=0.0, passes=len(EDGE_PASSES) + 1)
    cycles = monitor.at[-1] - source.sent_at[0] + 1
    write_perf({"unit": "update_unit", "latency_cycles": monitor.at[0] - source.sent_at[0],
                "words": len(commands), "cycles": cycles, "words_per_cycle": len(commands) / cycles,
                "weight_updates_per_cycle": load_params()["config"]["hardware"]["lanes"] * len(commands) / cycles}, dut)
