"""Helpers for the per-part Amaranth simulations (tb/<room>/test_part_*.py): small configurations, one runner.

Every part test builds one part (or a small harness), drives it from async testbenches and
compares what it does with a Python model; ``wrong=True`` perturbs the model so a test can
show it fails.
"""

import random

from amaranth.sim import Simulator

from conftest import make_config

#: Small configurations: an odd one with 2 lanes, a deeper one with 3 lanes and the fast
#: pipeline (zero skipping off), a dense-feedback one with 4 lanes, one without a hidden layer,
#: one with its banks in single-port RAM (SPRAM: an update element every other cycle).
CONFIGS = {
    "no_hidden": lambda: make_config([6, 4], hardware={"lanes": 3}),
    "small": lambda: make_config([7, 5, 3], hardware={"lanes": 2}),
    "fast_dense": lambda: make_config([6, 7, 5, 3], hardware={"lanes": 3, "pipeline": "fast", "zero_skipping": False}),
    "spram3": lambda: make_config([9, 7, 4], hardware={"lanes": 3, "banks": "spram"}),
    "dfa4": lambda: make_config([9, 6, 4], hardware={"lanes": 4, "pipeline": "fast"}, feedback={"rule": "dfa"}),
    "balanced4": lambda: make_config([9, 6, 4], hardware={"lanes": 4, "pipeline": "balanced"}),
}


def simulate(dut, *testbenches, background=()):
    """Run ``dut`` with a 1 MHz clock until the testbenches end (``background`` ones run beside them)."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for bench in testbenches:
        sim.add_testbench(bench)
    for bench in background:
        sim.add_testbench(bench, background=True)
    sim.run()


def values(fmt, n, rng: random.Random, zeros=0.3):
    """``n`` raw values of ``fmt``, about ``zeros`` of them 0, the extremes among them."""
    out = [rng.choice([fmt.min, fmt.max, rng.randint(fmt.min, fmt.max)]) if rng.random() < 0.2
           else rng.randint(fmt.min, fmt.max) for _ in range(n)]
    return [0 if rng.random() < zeros else v for v in out]
