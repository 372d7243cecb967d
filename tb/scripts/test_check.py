"""Debugging a mismatch: ``--trace`` waveforms (read back with pywellen) and ``trifactor check`` on a core broken on
purpose, as a user runs them, on the tiny IDX data set.

The configuration is the tiny core with a small learning rate (``learning_rate_shift = 12``): the update shifts by
11 bits, so a tie in its rounding is rare, and the broken core (``--inject-fault update-rounding:L``: ties round
down in layer L) first differs from golden well into the run, at a sample the test computes by itself.
The traced build is shared by the tests that trace the healthy core; each broken core is a build of its own.
"""

import json

import numpy as np
import pytest
import pywellen

import trifactor
from trifactor.golden.fixed_model import FixedNet, with_bias_input
from trifactor.golden.fixedpoint import narrow
from trifactor.golden.train import sample_orders

from conftest import TINY_CONFIG, assert_one_line_error, tiny_dataset
from conftest import run_trifactor as run

TINY12 = TINY_CONFIG + """[fixed]
learning_rate_shift = 12
"""
EPOCHS, SEED = 2, 0


@pytest.fixture
def work(tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY12)
    tiny_dataset(tmp_path / "data")
    return tmp_path


def options(work, *more):
    return ["--config", str(work / "tiny.toml"), "--dataset", f"idx:{work / 'data'}", "--epochs", str(EPOCHS),
            "--seed", str(SEED), "--quiet", *more]


def changes(path, name: str) -> tuple:
    """(the waveform, ``[(time, value), ...]`` of the variable ``name``) from an FST file."""
    wave = pywellen.Waveform(str(path))
    variables = {var.full_name: var for var in wave.all_vars()}
    assert name in variables, sorted(variables)[:40]
    values = []
    wave.stream_changes(lambda time, _, value: values.append((time, value)), [variables[name]])
    return wave, values


def first_faulty_sample(work, layer: int) -> tuple:
    """Golden's run with the fault applied by hand, independently of the check: the first sample whose update of
    ``layer``, rounded half down instead of half up, writes another weight; (sample, neuron, input, golden's
    weight, the broken core's)."""
    config = trifactor.load_config(work / "tiny.toml")
    data = trifactor.datasets.load(config, f"idx:{work / 'data'}")
    net, x = FixedNet(config, SEED), config.input.quantize(data.x_train)
    spec = config.layers[layer]
    order = np.concatenate(sample_orders(SEED, len(data.y_train), EPOCHS))
    for sample, index in enumerate(order):
        before = net.weights[layer].copy()
        result = net.train_sample(x[index], int(data.y_train[index]))
        product = np.outer(result["delta"][layer], with_bias_input(result["inputs"][layer], spec))
        half_down = (product + (1 << (spec.update_shift - 1)) - 1) >> spec.update_shift
        broken = narrow(before - half_down, config.weight, config.overflow)
        differ = np.argwhere(broken != net.weights[layer])
        if differ.size:
            j, i = differ[0]
            return sample, int(j), int(i), int(net.weights[layer][j, i]), int(broken[j, i])
    raise AssertionError("the fault never shows")


def test_rtl_trace_holds_the_window_and_trains_as_without(work):
    """``--trace --trace-samples 2:4`` on the native (data store) path: an FST of exactly samples 2 and 3 (the core's
    sample counter goes 2, 3, 4 in it), time in ns from the window's start, the clock's period 10 ns; the EPOCH cut
    at the window trains as the whole: the same accuracies as --backend fixed."""
    trace = work / "out.fst"
    result = run("train", "--backend", "rtl", *options(work, "--trace", str(trace), "--trace-samples", "2:4",
                                                       "--json", str(work / "rtl.json")), timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"trace: {trace} holds training samples 2..3" in result.stdout and "gtkwave" in result.stdout
    window = json.loads((work / "rtl.json").read_text())["trace"]
    assert window["samples"] == [2, 4] and window["path"] == str(trace)
    wave, clock = changes(trace, "TOP.clk")
    assert (wave.timescale.factor, str(wave.timescale.unit)) == (1, "ns")
    assert clock[0][0] == window["start_ns"] and clock[-1][0] <= window["end_ns"]
    assert [t for t, _ in clock[:5]] == [window["start_ns"] + 5 * k for k in range(5)]
    assert [v for _, v in clock[:4]] == [0, 1, 0, 1]
    _, samples = changes(trace, "TOP.tiny.counters.samples")  # the core's own count of trained samples
    assert [v for _, v in samples] == [2, 3, 4]
    fixed = run("train", "--backend", "fixed", *options(work, "--json", str(work / "fixed.json")))
    assert fixed.returncode == 0, fixed.stderr
    rtl, golden = (json.loads((work / f"{name}.json").read_text()) for name in ("rtl", "fixed"))
    assert rtl["history"] == golden["history"] and rtl["train_history_online"] == golden["train_history_online"]


@pytest.mark.slow  # make test's time; the native core's trace is in make test (test_rtl_trace_holds_the_window_...)
def test_per_sample_trace_holds_the_window(work):
    """The cocotb path (``--per-sample``) writes its FST too: the core's clock and counter, samples 2 and 3."""
    trace = work / "cocotb.fst"
    result = run("train", "--backend", "rtl", "--per-sample",
                 *options(work, "--trace", str(trace), "--trace-samples", "2:4", "--epochs", "1"), timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"trace: {trace} holds training samples 2..3" in result.stdout
    wave, clock = changes(trace, "tiny.clk")
    assert str(wave.timescale.unit) == "ps" and clock[1][0] - clock[0][0] == 5000  # cocotb's 10 ns clock
    _, samples = changes(trace, "tiny.counters.samples")
    assert [v for _, v in samples] == [2, 3, 4]


def test_check_passes_on_the_healthy_core(work):
    """``train --backend rtl --check``: every sample matches, exit 0, and no waveform (nothing diverged)."""
    result = run("train", "--backend", "rtl", "--check", *options(work, "--trace", str(work / "none.fst")),
                 timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert f"all {EPOCHS * 36} training samples matched golden" in result.stdout
    assert "every weight read back after each sample" in result.stdout
    assert not (work / "none.fst").exists()


@pytest.mark.parametrize("layer", [0, pytest.param(1, marks=pytest.mark.slow)])  # layer 1: another build
def test_check_names_the_sample_and_layer_of_a_broken_core(work, layer):
    """The core broken on purpose (ties round down in one layer's update): exit 1, and the report names the sample,
    layer, neuron, input, golden's weight and the hardware's that golden with the fault applied by hand predicts.
    With --trace (layer 0), the waveform holds that sample: the core's counter goes from it to the next."""
    sample, j, i, good, bad = first_faulty_sample(work, layer)
    assert sample > 0  # samples before it matched: the check must find the sample, not just the first
    trace = work / "fault.fst"
    more = ["--trace", str(trace)] if layer == 0 else []
    result = run("check", str(work / "tiny.toml"), *options(work, *more, "--inject-fault", f"update-rounding:{layer}",
                                                            "--json", str(work / "check.json"))[2:], timeout=900)
    assert result.returncode == 1, result.stdout + result.stderr[-2000:]
    print(result.stdout)
    assert f"DIVERGES at training sample {sample} (" in result.stdout and f"\n  layer {layer} (" in result.stdout
    assert f"samples 0..{sample - 1} matched" in result.stdout
    report = json.loads((work / "check.json").read_text())
    divergence = report["divergence"]
    assert (divergence["sample"], divergence["pass"]) == (sample, "update")
    assert report["matched"] == sample and report["fault"] == f"update-rounding:{layer}"
    first = divergence["layers"][0]
    assert [entry["layer"] for entry in divergence["layers"]] == [layer]
    assert (first["neuron"], first["input"], first["golden"], first["hardware"]) == (j, i, good, bad)
    if layer == 0:
        window = report["trace"]
        assert window["sample"] == sample and f"trace: {trace} holds sample {sample}" in result.stdout
        _, clock = changes(trace, "TOP.clk")
        assert clock[0][0] == window["start_ns"]
        _, samples = changes(trace, "TOP.tiny.counters.samples")
        assert [v for _, v in samples] == [sample, sample + 1]
        assert window["start_ns"] < window["train_ns"][0] < window["train_ns"][1] < window["end_ns"]


def test_check_in_chunks_runs_the_chunk_again_sample_by_sample(work):
    """Weights read every 5 samples (as on a large run): the first run finds the chunk, a second one the sample in
    it, and the report is the one of a check that reads after each sample (the build of layer 0's broken core)."""
    from trifactor.scripts.sim.check import check_core

    sample, j, i, good, bad = first_faulty_sample(work, 0)
    assert sample % 5  # inside a chunk, not at its start
    config = trifactor.load_config(work / "tiny.toml")
    data = trifactor.datasets.load(config, f"idx:{work / 'data'}")
    report = check_core(config, data, EPOCHS, SEED, fault="update-rounding:0", chunk=5, quiet=True)
    divergence = report["divergence"]
    assert (report["chunk"], divergence["sample"], divergence["pass"]) == (5, sample, "update")
    first = divergence["layers"][0]
    assert (first["layer"], first["neuron"], first["input"], first["golden"], first["hardware"]) == (0, j, i, good, bad)


@pytest.mark.parametrize("args, words", [
    (["train", "--backend", "rtl", "--trace", "{work}/out.fst", "--trace-samples", "5:2"], ["--trace-samples 5:2"]),
    (["train", "--backend", "rtl", "--trace", "{work}/no/such/out.fst"], ["does not exist", "mkdir -p"]),
    (["train", "--backend", "fixed", "--trace", "{work}/out.fst"], ["--trace", "--backend fixed"]),
    (["train", "--backend", "rtl", "--trace", "{work}/out.vcd"], ["out.vcd", ".fst"]),
    (["train", "--backend", "rtl", "--trace-samples", "2:4"], ["--trace-samples", "add --trace"]),
    (["train", "--backend", "rtl", "--trace", "{work}/out.fst", "--trace-samples", "70:80"], ["72 training samples"]),
    (["train", "--backend", "rtl", "--per-sample", "--check"], ["--check", "--per-sample"]),
    (["train", "--backend", "board-sim", "--check"], ["--check", "board-sim"]),
    (["check", "{work}/tiny.toml", "--trace", "{work}/no/out.fst"], ["does not exist"]),
    (["check", "{work}/tiny.toml", "--inject-fault", "update-rounding:7"], ["--inject-fault", "0..1"]),
])
def test_bad_trace_and_check_arguments_are_one_line(work, args, words):
    args = [arg.format(work=work) for arg in args]
    if args[0] == "train":
        args += ["--config", str(work / "tiny.toml")]
    result = run(*args, "--dataset", f"idx:{work / 'data'}", "--epochs", str(EPOCHS), "--quiet")
    assert_one_line_error(result.returncode, result.stderr, words)
    assert not list(work.glob("*.fst")) and not (work / "no").exists()


def test_check_compares_the_forward_pass_first():
    """The comparison alone, on replies made up from golden (no simulator): an INFER prediction that differs at
    sample 3 is reported as the forward pass of sample 3, with golden's prediction and scores; the same run with
    one weight off after sample 3 (the predictions right) as the update of sample 3, with its layer and neuron."""
    from trifactor.hdl.layout import WeightLayout
    from trifactor.hdl.protocol import ACK
    from trifactor.scripts.sim import check

    config = trifactor.config_from_dict({"name": "tiny", "network": {"sizes": [4, 3, 2]}, "hardware": {"lanes": 2}})
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 32, (5, 4)), np.arange(5) % 2
    orders = sample_orders(0, 5, 1)
    steps = check.plan(config, x, y, orders, 5, 1, range(5))
    layout = WeightLayout(config)

    def made_up(wrong_prediction=None, wrong_weight=None):
        net, words = FixedNet(config, 0), []
        for tag, command in steps:
            if tag[0] in ("store", "order"):
                words += [ACK] * command.replies
            elif tag[0] == "infer":
                prediction = int(net.predict(x[orders[0][tag[1]]][None])[0])
                words.append(prediction ^ (tag[1] == wrong_prediction))
            elif tag[0] == "train":
                index = orders[0][tag[1]]
                words += [int(net.train_sample(x[index], int(y[index]))["prediction"] == y[index]), 100, 0]
            else:
                weights = [w.copy() for w in net.weights]
                if tag[1] - 1 == wrong_weight:
                    weights[1][1, 2] += 1
                words += (layout.to_banks(weights).T.reshape(-1) & ((1 << config.weight.width) - 1)).tolist()
        return check._replies_by_step(steps, [(word, 0.0, 0.0) for word in words])

    golden = check._Golden(config, 0, x, y, orders)
    found = check._compare(config, golden, made_up(wrong_prediction=3), layout, 5)
    assert (found["pass"], found["sample"], found["record"]) == ("forward", 3, int(orders[0][3]))
    assert found["prediction"]["hardware"] == found["prediction"]["golden"] ^ 1 and len(found["golden_scores"]) == 2
    golden = check._Golden(config, 0, x, y, orders)
    found = check._compare(config, golden, made_up(wrong_weight=3), layout, 5)
    assert (found["pass"], found["layers"], golden.done) == ("update", [1], 4)
    update = check._update(config, golden, found, 5)
    assert update["sample"] == 3 and (update["layers"][0]["neuron"], update["layers"][0]["input"]) == (1, 2)
    text = check.report_text({"samples": 5, "chunk": 1, "fault": None, "divergence": update, "matched": 3},
                             config, "made up", 0, 1)
    assert "training sample 3 (" in text and "layer 1 (3 inputs + bias -> 2 neurons)" in text
