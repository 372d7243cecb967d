"""cocotb: the learner core against golden.fixed_model.FixedNet, sample by sample, to the last weight bit.

The core starts from golden's initialisation and trains on the same samples in the same
order. Every prediction must be the golden one; every weight and bias is read back and
compared several times during training and at the end; then INFER predictions on held-out
samples, LOAD of other weights, the counters, and an unknown opcode. With ``[hardware]
cost_counters`` every cost counter must equal, to the event, the count :func:`expected_costs`
derives from golden's intermediates and the sweeper's walk.
"""

import numpy as np
import cocotb

from trifactor.golden.fixed_model import FixedNet
from trifactor.hdl.protocol import COST_NAMES, ERROR, Op, header, position
from trifactor.scripts.sim.drivers import CoreDriver

from cocotb_perf import write_perf
from golden_checks import assert_weights, expected_costs, sample_data
from sim import load_params
from unit_params import golden_config


@cocotb.test()
async def trains_bit_exactly(dut):
    params = load_params()
    cfg = golden_config(params)
    rng = np.random.default_rng(params["seed"])
    driver = CoreDriver(dut, cfg)
    await driver.start()
    golden = FixedNet(cfg, params["init_seed"])
    x, y = sample_data(cfg, params, rng)
    n_train = params["samples"]
    if cfg.bank_placement == "spram":  # SPRAM holds no initial weights: zeros until the host LOADs them
        assert_weights(await driver.read_weights(), [np.zeros_like(w) for w in golden.weights], "SPRAM at reset")
        if cfg.init != "zero":  # a zero start needs no LOAD: the banks cleared themselves (hdl/lanes/lane_banks.py)
            await driver.load_weights(golden.weights)
    assert_weights(await driver.read_weights(), golden.weights, "initial weights")
    before = await driver.counters()
    checks = set(np.linspace(0, n_train - 1, 4).astype(int).tolist())
    macs = 0  # the dense work: a BP sample's (golden's choice, for a hybrid) has a backward pass
    costs = dict.fromkeys(COST_NAMES, 0)
    for n in range(n_train):
        got = await driver.train(x[n], int(y[n]))
        step = golden.train_sample(x[n], int(y[n]))
        want = step["prediction"]
        macs += sum(cfg.macs_by_pass(step["backprop"]).values())
        assert got == want, f"sample {n}: core predicted {got}, golden {want}"
        for name, count in expected_costs(cfg, step).items():
            costs[name] += count
        if n in checks:
            assert_weights(await driver.read_weights(), golden.weights, f"after sample {n}")
            if cfg.rule == "ddfa":
                assert_weights(await driver.read_learned(), golden.learned, f"learned feedback after sample {n}")
    after = await driver.counters()
    test = range(n_train, len(y))
    got = [await driver.infer(x[n]) for n in test]
    assert got == golden.predict(x[n_train:]).tolist(), "INFER predictions differ from golden"

    trained = after["samples"] - before["samples"]
    assert trained == n_train, f"samples counter {trained}, expected {n_train}"
    done = after["macs_done"] - before["macs_done"]
    skipped = after["macs_skipped"] - before["macs_skipped"]
    assert done + skipped == macs, f"MACs done {done} + skipped {skipped} != the dense work {macs}"
    assert skipped == 0 or cfg.zero_skipping, "MACs skipped with zero skipping off"
    if cfg.cost_counters:
        got = {name: after[name] - before[name] for name in COST_NAMES}
        assert got == costs, f"cost counters {got}, expected {costs}"
        assert got["forward_macs"] + got["error_path_macs"] + got["update_macs"] == done, \
            "the passes' MACs must add up to MACs done"
    else:
        assert not set(COST_NAMES) & set(after), "cost counters without [hardware] cost_counters"
    cycles = (after["cycles"] - before["cycles"]) / n_train
    roofline = cfg.roofline_cycles
    write_perf({"unit": "core", "zero_skipping": cfg.zero_skipping, "cycles_per_sample": cycles,
                "roofline_cycles": roofline, "ratio": cycles / roofline, "macs_skipped_fraction": skipped / macs,
                "mac_utilization": done / ((after["cycles"] - before["cycles"]) * cfg.lanes)}, dut)


@cocotb.test()
async def loads_weights_and_answers_bad_opcodes(dut):
    params = load_params()
    cfg = golden_config(params)
    rng = np.random.default_rng(params["seed"] + 1)
    driver = CoreDriver(dut, cfg)
    await driver.start()
    golden = FixedNet(cfg, params["init_seed"])
    golden.weights = [rng.integers(cfg.weight.min, cfg.weight.max + 1, w.shape) for w in golden.weights]
    if cfg.rule == "ddfa":  # the learned feedback from saved values, on its mask
        golden.learned = [np.where(mask, rng.integers(cfg.weight.min, cfg.weight.max + 1, mask.shape), 0)
                          for mask in golden.masks]
    await driver.load_weights(golden.weights, getattr(golden, "learned", ()))
    assert_weights(await driver.read_weights(), golden.weights, "after LOAD")
    x, y = sample_data(cfg, {**params, "samples": 10, "test_samples": 0}, rng)
    for n in range(10):
        assert await driver.train(x[n], int(y[n])) == golden.train_sample(x[n], int(y[n]))["prediction"]
    assert_weights(await driver.read_weights(), golden.weights, "after training from loaded weights")
    if cfg.rule == "ddfa":
        assert_weights(await driver.read_learned(), golden.learned, "learned feedback after training from a LOAD")
    # a part of the banks, from a position inside an address (not at lane 0)
    mask = (1 << cfg.weight.width) - 1
    flat = driver.layout.to_banks(golden.weights).T.reshape(-1)
    start, count = 3 * cfg.lanes - 1, 2 * cfg.lanes + 3  # address 2, last lane; across two address ends
    fresh = rng.integers(cfg.weight.min, cfg.weight.max + 1, count)
    await driver.load_words(start, (fresh & mask).tolist())
    flat[start:start + count] = fresh
    golden.weights = driver.layout.from_banks(flat.reshape(-1, cfg.lanes).T)
    assert_weights(await driver.read_weights(), golden.weights, "after a partial LOAD")
    got = await driver.read_words(start - 1, count + 2)
    assert got == (flat[start - 1:start + count + 1] & mask).tolist(), "a partial READ differs"
    assert await driver.command(header(Op.READ, 0), replies=0) == []
    assert await driver.command(position(0, 0)) == [ERROR | Op.READ], "READ of 0 words must answer ERROR"
    assert await driver.command(0xF) == [ERROR | 0xF]
    assert await driver.command(0) == [ERROR]
