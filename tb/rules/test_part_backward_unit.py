# amaranth: UnusedElaboratable=no
"""The backward unit on its own: backward sweeps over random weights and deltas against golden's ``backprop_delta``.

A harness gives the unit P banks and a set of lane multipliers, as the bank arbiter does in
the core; the testbench plays the sweeper (groups in order, the layer input's list with
gaps and zeros skipped, the bias last in each group) and collects ``o`` and ``done``.
"""

import random

import numpy as np
import pytest
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory

from trifactor.golden.fixed_model import backprop_delta
from trifactor.hdl.rules.backward_unit import BackwardUnit, adder_tree
from trifactor.hdl.lanes.lane_multipliers import LaneMultipliers
from trifactor.hdl.layout import WeightLayout

from conftest import make_config
from part_sim import simulate

CONFIGS = {
    "two_lanes": lambda: make_config([5, 7, 3], hardware={"lanes": 2}, feedback={"rule": "bp"}),
    "five_lanes_deep": lambda: make_config([6, 9, 11, 4], hardware={"lanes": 5}, feedback={"rule": "bp"},
                                           fixed={"overflow": "wrap", "rounding": "truncate"}),
    "eight_lanes_narrow": lambda: make_config([4, 6, 13, 3], hardware={"lanes": 8}, feedback={"rule": "hybrid"},
                                              fixed={"error": {"width": 6, "frac": 4}}),
}


class Harness(wiring.Component):
    def __init__(self, config, banks):
        self.unit = BackwardUnit(config)
        self.mul = LaneMultipliers(config)
        self.banks = [Memory(shape=self.unit.read[0].data.shape(), depth=banks.shape[1], init=banks[p].tolist())
                      for p in range(config.lanes)]
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit, m.submodules.mul = self.unit, self.mul
        wiring.connect(m, self.unit.mul, self.mul)
        for p, bank in enumerate(self.banks):
            m.submodules[f"bank{p}"] = bank
            port = bank.read_port()
            m.d.comb += [port.addr.eq(self.unit.read[p].addr), port.en.eq(self.unit.read[p].en),
                         self.unit.read[p].data.eq(port.data)]
        return m


def check_backward(name, seed=0, wrong=False, sweeps=3):
    cfg = CONFIGS[name]()
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    layout = WeightLayout(cfg)
    weights = [nprng.integers(cfg.weight.min, cfg.weight.max + 1, size=(spec.n_out, spec.n_in + 1))
               for spec in cfg.layers]
    harness = Harness(cfg, layout.to_banks(weights))
    unit = harness.unit

    async def bench(ctx):
        for sweep in range(sweeps):
            layer = rng.randrange(1, cfg.n_layers)
            spec = cfg.layers[layer]
            d = nprng.integers(cfg.error.min, cfg.error.max + 1, size=spec.n_out)
            d[nprng.random(spec.n_out) < 0.2] = 0
            listed = sorted(rng.sample(range(spec.n_in), rng.randint(1, spec.n_in)))
            sums, want = backprop_delta(weights[layer], d, np.ones(spec.n_in, dtype=np.int64), cfg)
            if wrong:
                want = want + 1
            groups = layout.groups(layer)
            got, done_at, cycle = {}, None, 0
            elements = [(g, i) for g in range(groups) for i in listed + [spec.n_in]]
            queue = list(elements)
            while queue or done_at is None:
                if queue and rng.random() < 0.8:
                    g, i = queue.pop(0)
                    ctx.set(unit.i.valid, 1)
                    ctx.set(unit.i.payload, {
                        "addr": layout.address(layer, g, i), "index": i, "layer": layer,
                        "d": [int(d[g * cfg.lanes + p]) if g * cfg.lanes + p < spec.n_out else 0
                              for p in range(cfg.lanes)],
                        "first": g == 0, "last": g == groups - 1, "bias": i == spec.n_in})
                else:
                    ctx.set(unit.i.valid, 0)
                await ctx.tick()
                cycle += 1
                if ctx.get(unit.o.valid):
                    out = ctx.get(unit.o.payload)
                    assert out.layer == layer and done_at is None
                    got[out.index] = out.delta
                if ctx.get(unit.done):
                    done_at = cycle
                assert cycle < 20 * len(elements), "no done"
            ctx.set(unit.i.valid, 0)
            assert got == {i: int(want[i]) for i in listed}, f"sweep {sweep} of layer {layer}"
        ctx.set(unit.i.valid, 0)

    simulate(harness, bench)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_backward_sums_equal_golden(name):
    check_backward(name)


def test_backward_check_fails_on_a_wrong_model():
    with pytest.raises(AssertionError):
        check_backward("two_lanes", wrong=True, sweeps=1)


@pytest.mark.parametrize("lanes, levels, stages", [(1, 2, 1), (2, 2, 1), (4, 2, 1), (5, 2, 2), (8, 2, 2), (8, 3, 1),
                                                   (32, 2, 3)])
def test_adder_tree_stages(lanes, levels, stages):
    m = Module()
    _, got = adder_tree(m, [Signal(8) for _ in range(lanes)], levels)
    assert got == stages
    cfg = make_config([4, 6, 3], hardware={"lanes": lanes}, feedback={"rule": "bp"})
    assert BackwardUnit(cfg, tree_levels_per_stage=levels).tree_stages == stages
