"""cocotb: epochs over the core's data store (STORE, ORDER, EPOCH, EVALUATE) against golden.fixed_model.FixedNet.

The samples go into the core's data store once; then the core trains whole epochs in
golden's order for a seed (``golden.train.sample_orders``, sent with ORDER) and infers
over the stored test records by itself. After each epoch the number of right predictions
and every weight must equal golden's, trained on the same samples in the same order; so
must EVALUATE's count. Then a part of an order from inside it, the host's own TRAIN after
a run, the counters, and the zero-count errors.
"""

import cocotb
import numpy as np

from trifactor.golden.fixed_model import FixedNet
from trifactor.golden.train import sample_orders
from trifactor.hdl.store.data_store import record_bytes
from trifactor.hdl.store.epoch_runner import run_checksum
from trifactor.hdl.protocol import ERROR, Op, header, position
from trifactor.scripts.sim.drivers import CoreDriver

from golden_checks import assert_weights, golden_epoch, sample_data
from sim import load_params
from unit_params import golden_config


@cocotb.test()
async def stored_epochs_equal_golden(dut):
    params = load_params()
    cfg = golden_config(params)
    driver = CoreDriver(dut, cfg)
    await driver.start()
    golden = FixedNet(cfg, params["init_seed"])
    x, y = sample_data(cfg, params, np.random.default_rng(params["seed"]))
    n_train, n = params["samples"], len(y)
    await driver.store(0, x, y)
    before = await driver.counters()
    run_cycles = 0
    for epoch, order in enumerate(sample_orders(params["order_seed"], n_train, params["epochs"])):
        await driver.order(0, order)
        correct, cycles, checksum = await driver.epoch(0, n_train)
        run_cycles += cycles
        assert checksum == run_checksum(record_bytes(cfg, x[order], y[order])), f"epoch {epoch}: the records read"
        want = golden_epoch(golden, x, y, order)
        assert correct == want, f"epoch {epoch}: the core got {correct} right, golden {want}"
        assert_weights(await driver.read_weights(), golden.weights, f"after stored epoch {epoch}")
        correct, cycles, checksum = await driver.evaluate(n_train, n - n_train)
        assert checksum == run_checksum(record_bytes(cfg, x[n_train:], y[n_train:])), "EVALUATE: the records read"
        run_cycles += cycles
        want = int(np.sum(golden.predict(x[n_train:]) == y[n_train:]))
        assert correct == want, f"EVALUATE after epoch {epoch}: the core got {correct} right, golden {want}"
    after = await driver.counters()
    trained = after["samples"] - before["samples"]
    assert trained == params["epochs"] * n_train, f"samples counter {trained}"
    busy = after["cycles"] - before["cycles"]
    assert busy < run_cycles <= busy + 10 * n * params["epochs"], \
        f"the runs took {run_cycles} cycles, the samples were busy {busy}: a few cycles a sample apart"

    # part of an order, from inside it; then the host's own samples pass through again
    order = sample_orders(params["order_seed"] + 1, n_train, 1)[0]
    await driver.order(0, order)
    correct, _, _ = await driver.epoch(3, 5)
    assert correct == golden_epoch(golden, x, y, order[3:8]), "EPOCH of order entries 3..7"
    assert await driver.train(x[0], int(y[0])) == golden.train_sample(x[0], int(y[0]))["prediction"]
    assert_weights(await driver.read_weights(), golden.weights, "after a part of an order and a host TRAIN")
    correct, _, _ = await driver.evaluate(0, n)
    assert correct == int(np.sum(golden.predict(x) == y)), "EVALUATE over every record"
    for op in (Op.STORE, Op.ORDER, Op.EPOCH, Op.EVALUATE):
        assert await driver.command(header(op, 0), replies=0) == []
        assert await driver.command(position(0, 0)) == [ERROR | op], f"{op.name} of 0 must answer ERROR"
