"""The ``trifactor`` command as a user runs it: clean errors (exit 2, one line, no traceback, no output) and complete results."""

import json
import os
import subprocess

import numpy as np
import pytest

from conftest import DIGITS, TRIFACTOR, assert_user_error
from conftest import run_trifactor as run
from test_depth import netlist

@pytest.mark.parametrize("toml, words", [
    ("[network]\nsizes = [64]\n", ["[network] sizes", "at least two", "fix:"]),
    ("[network]\nsizes = [64, 64, 10]\n[feedback]\nnonzeros_per_row = 12\n", ["[feedback] nonzeros_per_row", "larger than the output count 10"]),
    ("[network]\nsizes = [64, 64, 10]\n[hardware]\nlanes = 0\n", ["[hardware] lanes", "out of range"]),
    ("[network]\nsizes = [64, 64, 10]\nspeed = 3\n", ["[network] speed", "not a known key"]),
    ("[network]\nsizes = [64, 64, 10]\n[fixed]\nweight = {width = 4, frac = 2}\n", ["[fixed] weight"]),
    ("[network]\nsizes = [60, 64, 10]\n", ["[network] sizes", "64 features"]),
    ("[network]\nsizes = [64, 64, 10\n", ["not valid TOML"]),
    ("[network]\nsizes = [64, 64, 10]\n[feedback]\nvalues = 'continuous'\n", ["--backend fixed", "continuous"]),
])
def test_bad_config_is_one_line_exit_2_and_writes_nothing(tmp_path, toml, words):
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    out = tmp_path / "out"
    result = run("train", "--backend", "fixed", "--config", str(config), "--epochs", "1", "--quiet",
                 "--json", str(out / "r.json"), "--save-weights", str(out / "w.npz"))
    assert_user_error(result, *words)
    assert not out.exists()


@pytest.mark.parametrize("args, words", [
    (["--config", "nowhere.toml"], ["nowhere.toml", "does not exist"]),
    (["--config", DIGITS, "--dataset", "idx:/no/such/folder"], ["is not a folder"]),
    (["--config", DIGITS, "--dataset", "cifar"], ["unknown data set"]),
    (["--config", DIGITS, "--epochs", "0"], ["--epochs"]),
    (["--config", DIGITS, "--backend", "gpu"], ["invalid choice"]),
])
def test_bad_options(args, words):
    if "--backend" not in args:
        args = ["--backend", "fixed", *args]
    assert_user_error(run("train", *args, "--quiet"), *words)


@pytest.mark.parametrize("backend, dtype", [("fixed", np.integer), ("float", np.floating)])
def test_train_writes_json_and_weights(tmp_path, backend, dtype):
    result = run("train", "--backend", backend, "--config", DIGITS, "--epochs", "2", "--seed", "1", "--quiet",
                 "--json", str(tmp_path / "r.json"), "--save-weights", str(tmp_path / "w.npz"))
    assert result.returncode == 0, result.stderr
    assert "epoch   2" in result.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert len(report["history"]) == 2 and report["seed"] == 1 and report["backend"] == backend
    assert 0.85 < report["test_accuracy"] <= 1 and 0.85 < report["train_accuracy"] <= 1
    assert report["config"]["network"]["sizes"] == [64, 64, 10]
    assert report["config"]["derived"]["layers"][0]["accumulator_width"] == 30
    weights = np.load(tmp_path / "w.npz")
    assert sorted(weights.files) == ["W0", "W1", "b0", "b1"]
    assert weights["W0"].shape == (64, 64) and weights["b1"].shape == (10,)
    assert np.issubdtype(weights["W0"].dtype, dtype)
    assert not list(tmp_path.glob(".*.tmp")), "temporary files left behind"


def test_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0 and "train" in result.stdout and "demo" in result.stdout


@pytest.mark.parametrize("unbuffered", ["", "1"], ids=["buffered", "unbuffered"])
def test_output_into_a_closed_pipe_ends_quietly(tmp_path, unbuffered):
    """``trifactor depth ... | head``: a reader that left is no traceback (stdout buffered, the pipe breaks at the
    last flush; unbuffered, at the first print)."""
    (tmp_path / "top.json").write_text(json.dumps(netlist()))
    env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
    reader, writer = os.pipe()
    os.close(reader)  # gone before the first line
    try:
        result = subprocess.run([str(TRIFACTOR), "depth", str(tmp_path / "top.json"), "--levels", "0", "--paths"],
                                stdout=writer, stderr=subprocess.PIPE, text=True, env=env, timeout=300)
    finally:
        os.close(writer)
    assert result.returncode == 1 and result.stderr == "", result.stderr
