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
from trifactor.golden.fixedpoint import Overflow
from trifactor.golden.train import load_data
from trifactor.hdl.layout import WeightLayout
from trifactor.hdl.protocol import COST_NAMES, ERROR, Op, header, position
from trifactor.scripts.sim.drivers import CoreDriver

from cocotb_perf import write_perf
from sim import load_params
from unit_params import golden_config


def sample_data(cfg, params, rng):
    """A real data set (``digits``, ``mnist5k``) when the net fits it, else random inputs over the input format (many zeros)."""
    n = params["samples"] + params["test_samples"]
    if params["data"] in ("digits", "mnist5k"):
        split = load_data(cfg, params["data"])
        x = cfg.input.quantize(np.concatenate([split.x_train, split.x_test])[:n])
        y = np.concatenate([split.y_train, split.y_test])[:n]
    else:
        x = rng.integers(cfg.input.min, cfg.input.max + 1, (n, cfg.sizes[0]))
        x[rng.random(x.shape) < 0.3] = 0
        y = rng.integers(0, cfg.n_classes, n)
    return x, y


def list_entries(cfg, step, layer) -> int:
    """Entries of weight layer ``layer``'s input list (``hdl/input_lists.py``): the non-zero inputs with zero
    skipping, else all; a backpropagating core keeps its hidden zeros unless ReLU saturates."""
    exact = cfg.activation == "relu" and cfg.overflow is Overflow.SATURATE
    skips = cfg.zero_skipping and (layer == 0 or exact or not cfg.backprop)
    return int(np.count_nonzero(step["inputs"][layer])) if skips else cfg.sizes[layer]


def expected_costs(cfg, step) -> dict:
    """One training sample's cost counters (``hdl.protocol.COST_NAMES``) from golden's ``train_sample`` intermediates.

    As the sweeper walks (``hdl/sweeper.py``): a sweep of layer ``l`` walks its neuron
    groups of ``lanes`` neurons; each group issues one element per entry of the layer
    input's list (:func:`list_entries`) and one for the bias. Each element is a MAC in each
    used lane (the group's neurons; none for a backward sweep's bias) and a bank word read
    in every lane (past the layer's last neuron too); an update element also writes every
    lane. The forward sweep walks every group; the update skips a group whose deltas are all
    0 (zero skipping). On a backpropagation sample every layer but the first is swept
    backward before its update (every group), and the delta provider asks for its deltas
    twice (``hdl.layout.sweeps_backward``). A feedback sample's error path reads a hidden
    neuron's k feedback values (one ROM row; the output layer's error rows hold none); it
    delivers one delta per request of a hidden neuron.
    """
    lay, lanes, backprop = WeightLayout(cfg), cfg.lanes, bool(step["backprop"])
    costs = dict.fromkeys(COST_NAMES, 0)
    for l, spec in enumerate(cfg.layers):
        entries = list_entries(cfg, step, l)
        deltas = np.asarray(step["delta"][l])
        walks = 2 if backprop and l > 0 else 1  # the provider's walks over the layer
        if spec.hidden:
            costs["error_path_deltas"] += walks * spec.n_out
        if spec.hidden and not backprop:  # k entries of B per hidden neuron
            costs["error_path_feedback_reads"] += spec.n_out * cfg.nonzeros_per_row
        for g in range(lay.groups(l)):
            used = min(lanes, spec.n_out - g * lanes)
            costs["forward_macs"] += used * (entries + 1)
            costs["forward_weight_reads"] += lanes * (entries + 1)
            if walks == 2:
                costs["error_path_macs"] += used * entries
                costs["error_path_weight_reads"] += lanes * (entries + 1)
            if cfg.zero_skipping and not deltas[g * lanes:g * lanes + used].any():
                continue
            costs["update_macs"] += used * (entries + 1)
            costs["update_weight_reads"] += lanes * (entries + 1)
            costs["update_weight_writes"] += lanes * (entries + 1)
    return costs


def assert_weights(got, want, when):
    for layer, (g, w) in enumerate(zip(got, want)):
        if not np.array_equal(g, w):
            rows, cols = np.nonzero(g != w)
            raise AssertionError(f"{when}: layer {layer} differs at {len(rows)} weights, first W[{rows[0]}, {cols[0]}] "
                                 f"= {g[rows[0], cols[0]]}, golden {w[rows[0], cols[0]]}")


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
    await driver.load_weights(golden.weights)
    assert_weights(await driver.read_weights(), golden.weights, "after LOAD")
    x, y = sample_data(cfg, {**params, "samples": 10, "test_samples": 0}, rng)
    for n in range(10):
        assert await driver.train(x[n], int(y[n])) == golden.train_sample(x[n], int(y[n]))["prediction"]
    assert_weights(await driver.read_weights(), golden.weights, "after training from loaded weights")
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
