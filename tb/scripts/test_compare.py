"""``trifactor compare`` as a user runs it, on a tiny network and IDX data set: three files, one row per
rule, the fixed model's accuracy exactly, failures recorded, bad arguments refused before any work."""

import json
import tomllib

import numpy as np
import pytest

from trifactor.golden.config import config_from_dict
from trifactor.golden.data import Split
from trifactor.golden.fixed_model import FixedNet
from trifactor.golden.float_model import FloatNet
from trifactor.golden.train import load_data, train
from trifactor.training import ANGLE_WINDOWS, nan_means, train_with_angles

from conftest import run_trifactor as run
from conftest import assert_user_error, make_config
from conftest import tiny_dataset, tiny_run_config

OUTPUTS = ("report.md", "compare.json", "compare.png")


def write_config(tmp_path, feedback=""):
    path = tmp_path / "tiny.toml"
    path.write_text(tiny_run_config(tiny_dataset(tmp_path / "data"), feedback=feedback))
    return path


def rule_config(path, rule):
    """The configuration file with another rule, built independently of the command's own variant code."""
    raw = tomllib.loads(path.read_text())
    raw["feedback"]["rule"] = rule
    if rule in ("dfa", "bp"):  # k follows the rule
        del raw["feedback"]["nonzeros_per_row"]
    return config_from_dict(raw)


def golden_accuracy(config, seed):
    return train(FixedNet(config, seed), load_data(config), config.epochs, seed)["test_accuracy"]


def compare(tmp_path, config, *args):
    out = tmp_path / "out"
    result = run("compare", "--config", str(config), "--out", str(out), "--quiet", *args, cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)  # no temporary file left behind
    return out, json.loads((out / "compare.json").read_text()), (out / "report.md").read_text()


def summary_rows(report):
    """The rules named by the rows of the report's first table (the summary)."""
    table = report.split("## Summary", 1)[1].split("\n\n")[1]
    return [line.split("|")[1].strip() for line in table.splitlines()[2:]]


def test_failing_measurements_are_recorded_and_the_rest_measured(tmp_path):
    # continuous feedback: neither the fixed model nor the core implement it for ssdfa, bp has no feedback
    config = write_config(tmp_path, 'values = "continuous"')
    out, report, text = compare(tmp_path, config, "--rules", "ssdfa,hybrid,bp", "--seeds", "2", "--samples", "1")
    assert list(report["rules"]) == ["ssdfa", "hybrid", "bp"] and summary_rows(text) == ["ssdfa", "hybrid", "bp"]
    ssdfa, hybrid, bp = (report["rules"][rule] for rule in ("ssdfa", "hybrid", "bp"))
    # hybrid keeps the network's sparse k, and takes its own share of BP samples
    assert (hybrid["nonzeros_per_row"], hybrid["bp_fraction"]) == (2, 0.25)
    assert hybrid["analytic"]["macs_by_pass"]["backward"] == 0.25 * 7 * 3 and "error" in hybrid["accuracy"]
    assert "continuous" in ssdfa["accuracy"]["error"] and "continuous" in ssdfa["core"]["error"]
    assert "\n" not in ssdfa["accuracy"]["error"]
    assert bp["accuracy"]["per_seed"] == [golden_accuracy(rule_config(config, "bp"), seed) for seed in (0, 1)]
    assert bp["nonzeros_per_row"] == 3 and bp["analytic"]["macs_by_pass"]["backward"] == 7 * 3
    assert "## Not measured" in text and ssdfa["accuracy"]["error"] in text
    assert report["command"].startswith("trifactor compare --config")


@pytest.mark.slow
def test_every_rule_one_row_exact_accuracy_and_core_counters(tmp_path):
    config = write_config(tmp_path)
    rules = ["ssdfa", "dfa", "hybrid", "bp"]
    out, report, text = compare(tmp_path, config, "--seeds", "2", "--samples", "4")
    assert list(report["rules"]) == rules and summary_rows(text) == rules
    for rule in rules:
        entry = report["rules"][rule]
        expected = [golden_accuracy(rule_config(config, rule), seed) for seed in (0, 1)]
        assert entry["accuracy"]["per_seed"] == expected, rule
        assert entry["core"].get("per_sample", {}).get("cycles", 0) > 0 or entry["core"]["error"], rule
    for rule in rules:  # the core implements every rule: their counters were read
        core = report["rules"][rule]["core"]
        assert core["samples"] == 4 and core["per_sample"]["cycles"] > core["per_sample"]["roofline_cycles_per_sample"]
    # a BP sample sweeps every layer but the first once more
    assert report["rules"]["bp"]["core"]["per_sample"]["cycles"] > report["rules"]["ssdfa"]["core"]["per_sample"]["cycles"]
    dfa = report["ratios"]["dfa"]
    assert dfa["core: cycles"] == report["rules"]["dfa"]["core"]["per_sample"]["cycles"] / \
        report["rules"]["ssdfa"]["core"]["per_sample"]["cycles"]
    assert "| core: cycles |" in text and "dfa / ssdfa" in text and "bp / ssdfa" in text


@pytest.mark.parametrize("args, words", [
    (["--rules", "ssdfa,backprop"], ["--rules", "'backprop' is not a learning rule", "fix:"]),
    (["--rules", "ssdfa,,bp"], ["--rules", "'' is not a learning rule"]),
    (["--rules", "bp,ssdfa,bp"], ["bp more than once"]),
    (["--seeds", "0"], ["--seeds 0 is not a positive number"]),
    (["--samples", "-5"], ["--samples -5"]),
    (["--epochs", "-1"], ["--epochs -1"]),
    (["--synth-seeds", "0"], ["--synth-seeds 0"]),
    (["--target", "virtex"], ["invalid choice"]),
    (["--out", "{tmp}/a_file/report"], ["a_file is a file, not a folder", "fix:"]),
    (["--out", "{tmp}/a_file"], ["a_file is a file, not a folder"]),
])
def test_bad_arguments_are_one_line_exit_2_and_write_nothing(tmp_path, args, words):
    config = write_config(tmp_path)
    (tmp_path / "a_file").write_text("")
    before = sorted(tmp_path.rglob("*"))
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    assert_user_error(run("compare", "--config", str(config), "--quiet", *args, cwd=tmp_path), *words)
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.slow  # a Verilator build of the ddfa core (the core test ddfa is in make test)
def test_ddfa_is_compared_with_its_own_passes_and_its_angles_to_backprop(tmp_path):
    """Rule ddfa (learned feedback): the fixed model's accuracy exactly, the analytic tangent and feedback passes,
    the core's figures or the one-line reason it has none, and the float model's angles plotted and linked."""
    config = write_config(tmp_path)
    out = tmp_path / "out"
    result = run("compare", "--config", str(config), "--out", str(out), "--quiet", "--rules", "ddfa",
                 "--seeds", "2", "--samples", "1", cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == sorted((*OUTPUTS, "angles.png"))
    report, text = json.loads((out / "compare.json").read_text()), (out / "report.md").read_text()
    ddfa = report["rules"]["ddfa"]
    assert summary_rows(text) == ["ddfa"] and report["ratios"] == {}
    raw = tomllib.loads(config.read_text())
    raw["feedback"] = {"rule": "ddfa"}  # dense: the tiny network's k = 2 belongs to ssdfa
    expected = config_from_dict(raw)
    assert ddfa["nonzeros_per_row"] == 3
    assert ddfa["accuracy"]["per_seed"] == [golden_accuracy(expected, seed) for seed in (0, 1)]
    # the core's counters: its tangent and feedback passes in the error path's
    core = ddfa["core"]
    assert core["per_sample"]["cycles"] > 0 and core["per_sample"]["error_path_macs"] > 0, core
    # analytic costs: the configuration's, with ddfa's tangent and feedback passes (7 x 3 on 16-7-3)
    by_pass = ddfa["analytic"]["macs_by_pass"]
    assert by_pass == expected.macs_by_pass() and by_pass["tangent"] == 7 * 3 and by_pass["feedback"] > 0
    assert ddfa["analytic"]["macs_per_sample"] == sum(by_pass.values()) == expected.macs_per_sample
    cells = " / ".join(f"{by_pass[p]:g}" for p in ("forward", "backward", "update", "tangent", "feedback"))
    assert f"| {cells}" in text
    # the angles: one per epoch and hidden layer, in degrees, from the float model; the plot linked
    angles = ddfa["angles"]
    assert len(angles["per_epoch"]) == 1 and len(angles["per_epoch"][0]) == 1
    assert all(0 <= a <= 180 for window in angles["windows"] for a in window if a is not None)
    assert angles["window_samples"] == 36 // ANGLE_WINDOWS and len(angles["history"]) == 1
    assert "![angle to backpropagation over training](angles.png)" in text and "## ddfa: angle" in text


def test_angles_are_the_float_models_and_their_means_leave_out_samples_without_one():
    means = nan_means(np.array([[10.0, np.nan], [20.0, np.nan], [np.nan, 30.0], [40.0, 50.0]]), np.array([0, 2]))
    assert means == [[15.0, None], [40.0, 40.0]]
    # a zero start gives no angle until B has grown; the epoch means are those of the model's own angles
    config = make_config((8, 6, 5, 3), feedback={"rule": "ddfa"}, training={"epochs": 2})
    x = np.random.default_rng(1).random((30, 8))
    split = split_of(x, np.arange(30) % 3)
    angles = train_with_angles(config, split, 2, seed=3, windows=4)
    model = FloatNet(config, 3, track_angles=True)
    result = train(model, split, 2, 3)
    assert angles["test_accuracy"] == result["test_accuracy"] and angles["history"] == result["history"]
    reference = np.asarray(model.angles)
    for epoch in range(2):
        block = reference[24 * epoch:24 * (epoch + 1)]
        assert angles["per_epoch"][epoch] == pytest.approx([float(np.nanmean(column)) for column in block.T])
    assert angles["window_samples"] == 6 and len(angles["windows"]) == 8 and angles["window_epochs"][0] == 0.125
    with pytest.raises(ValueError, match="no learned feedback"):
        train_with_angles(make_config((8, 6, 3)), split, 1)


def split_of(x, y):
    return Split(x_train=x[:24], y_train=y[:24], x_test=x[24:], y_test=y[24:], name="random")


def test_the_analytic_costs_of_other_rules_do_not_change_and_ddfa_adds_its_tangent_and_feedback():
    forward = 65 * 32 + 2 * 33 * 32 + 33 * 10
    backward = 2 * 32 * 32 + 32 * 10  # every layer above the first, no bias column
    for rule, back in (("ssdfa", 0), ("dfa", 0), ("hybrid", 0), ("bp", backward)):
        config = make_config((64, 32, 32, 32, 10), feedback={"rule": rule})
        assert config.macs_by_pass() == {"forward": forward, "backward": back, "update": forward}, rule
    for k in (10, 1):
        config = make_config((64, 32, 32, 32, 10), feedback={"rule": "ddfa", "nonzeros_per_row": k})
        by_pass = config.macs_by_pass()
        assert {key: by_pass[key] for key in ("forward", "backward", "update", "tangent")} == {
            "forward": forward, "backward": 0, "update": forward, "tangent": backward}
        assert by_pass["feedback"] in (96 * k, 960)  # B e over the k entries a row keeps, or every class's
        assert config.macs_per_sample == sum(by_pass.values())
        assert config.roofline_cycles == config.macs_per_sample / config.lanes


def write_conv_config(tmp_path):
    """A tiny convolutional network on the tiny data set's 4x4 images: a 3x3 convolution of 3 channels, stride 2
    (2x2x3 = 12), then the dense output layer."""
    path = tmp_path / "tiny_conv.toml"
    path.write_text('name = "tiny_conv"\n[network]\ninput = [4, 4, 1]\nsizes = [12, 3]\n'
                    '[[conv]]\nchannels = 3\nkernel = 3\nstride = 2\npadding = 1\n[feedback]\nnonzeros_per_row = 1\n'
                    f'[training]\nepochs = 1\n[data]\ndataset = "idx:{tiny_dataset(tmp_path / "data")}"\n'
                    '[hardware]\nlanes = 3\n')
    return path


@pytest.mark.parametrize("rules, refused", [("ssdfa,hybrid", "hybrid"), ("bp", "bp"), ("dfa,ddfa", "ddfa")])
def test_a_conv_network_refuses_the_rules_it_does_not_take_before_any_work(tmp_path, rules, refused):
    config = write_conv_config(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    result = run("compare", "--config", str(config), "--rules", rules, "--out", str(tmp_path / "out"), "--quiet",
                 cwd=tmp_path)
    assert_user_error(result, f"--rules {rules}: tiny_conv does not take rule {refused}", "[[conv]]",
                      "fix: compare the rules it takes: --rules ssdfa,dfa")
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.slow  # two Verilator builds of the convolutional core (ssdfa, dfa)
def test_a_conv_network_compares_the_rules_it_takes_with_its_layers(tmp_path):
    """By default a convolutional network compares ssdfa and dfa (one line for each default rule left out): the
    fixed model's accuracy exactly, the core's cycles and MACs, and a table of its layers."""
    config = write_conv_config(tmp_path)
    out = tmp_path / "out"
    result = run("compare", "--config", str(config), "--out", str(out), "--quiet", "--seeds", "2", "--samples", "3",
                 cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    skipped = [line for line in result.stdout.splitlines() if line.startswith("skipped rule")]
    assert [line.split(":")[0] for line in skipped] == ["skipped rule hybrid", "skipped rule bp"], result.stdout
    report, text = json.loads((out / "compare.json").read_text()), (out / "report.md").read_text()
    assert list(report["rules"]) == ["ssdfa", "dfa"] and summary_rows(text) == ["ssdfa", "dfa"]
    assert list(report["skipped"]) == ["hybrid", "bp"] and "## Not compared" in text
    assert report["network"]["sizes"] == "4x4x1-c3k3s2-12-3"
    for rule in ("ssdfa", "dfa"):
        entry = report["rules"][rule]
        assert entry["accuracy"]["per_seed"] == [golden_accuracy(rule_config(config, rule), seed) for seed in (0, 1)]
        core = entry["core"]["per_sample"]
        assert core["cycles"] > core["roofline_cycles_per_sample"] > 0 and core["macs_done"] > 0, entry["core"]
        # the analytic MACs: the convolution's 4 positions of a 3x3 window (padding left out) and a bias, 3 channels
        assert entry["analytic"]["macs_by_pass"]["forward"] == 3 * ((4 + 6 + 6 + 9) + 4) + 3 * 13
    assert report["layers"][0]["kind"].startswith("conv 3x3, stride 2") and report["layers"][0]["output"] == "2x2x3"
    assert "## Layers" in text
    assert "| 0 | conv 3x3, stride 2, padding 1, rom feedback | 4x4x1 | 2x2x3 | 3 x 10 |" in text
