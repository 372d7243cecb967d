"""``trifactor compare`` as a user runs it, on a tiny network and IDX data set: three files, one row per
rule, the fixed model's accuracy exactly, failures recorded, bad arguments refused before any work."""

import json
import tomllib

import pytest

from trifactor.golden.config import config_from_dict
from trifactor.golden.fixed_model import FixedNet
from trifactor.golden.train import load_data, train

from conftest import run_trifactor as run
from conftest import assert_user_error
from conftest import tiny_dataset

TINY = """name = "tiny"
[network]
sizes = [16, 7, 3]
[feedback]
nonzeros_per_row = 2
{feedback}
[training]
epochs = 1
[data]
dataset = "idx:{data}"
[hardware]
lanes = 3
"""
OUTPUTS = ("report.md", "compare.json", "compare.png")


def write_config(tmp_path, feedback=""):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY.format(feedback=feedback, data=tiny_dataset(tmp_path / "data")))
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
