"""Epochs over the core's data store, bit for bit against golden in the same order (see cocotb_store.py)."""

from pathlib import Path

import pytest

from trifactor.hdl.core.learner import LearnerCore
from trifactor.hdl.boards.sim_board import SimulatedBoard

from sim import run_cocotb
from unit_params import CORE_CONFIGS, build_name, params_for

STORE_CONFIGS = ("default", "odd", "hybrid_two_hidden")
SLOW = {"hybrid_two_hidden", "default"}  # make test: odd (fast pipeline, odd sizes); default's store in test_rtl_backend


def run_store(name, samples=48, test_samples=24, perturb=None):
    make, data = CORE_CONFIGS[name]
    cfg = make()
    params = params_for(cfg, perturb=perturb, init_seed=2, samples=samples, test_samples=test_samples, data=data,
                        order_seed=5, epochs=2)
    core = LearnerCore(cfg, seed=2, store_samples=samples + test_samples)
    return run_cocotb(core, build_name("store", name, perturb), "cocotb_store", params)


@pytest.mark.parametrize("name", [pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else [])
                                  for name in STORE_CONFIGS])
def test_stored_epochs_equal_golden(name):
    run_store(name)


def test_store_testbench_catches_a_wrong_golden():
    with pytest.raises(AssertionError, match="failed"):
        run_store("odd", samples=12, test_samples=4, perturb="rounding")


def run_board_store(name, samples=24, test_samples=8, perturb=None):
    make, data = CORE_CONFIGS[name]
    cfg = make()
    top = SimulatedBoard(cfg, seed=2, store_samples=samples + test_samples)
    params = params_for(cfg, perturb=perturb, init_seed=2, samples=samples, test_samples=test_samples, data=data,
                        order_seed=5, idle_cycles=4 * top.timeout_cycles + 10_000 * samples)  # EPOCH answers at its end
    return run_cocotb(top, build_name("board_store", name, perturb), "cocotb_board_store", params)


@pytest.mark.slow  # byte by byte through the UARTs in cocotb; make test runs the native board-sim store (test_rtl_backend)
def test_stored_epoch_through_the_link():
    run_board_store("default")


def test_a_data_set_larger_than_the_store_is_refused_in_one_line(tmp_path):
    """2100 samples of 64 inputs and a label take 136500 bytes: more than the UP5K's 4 SPRAMs hold."""
    import numpy as np
    from conftest import run_trifactor
    from trifactor.golden.data import write_idx

    rng = np.random.default_rng(0)
    (tmp_path / "data").mkdir()
    write_idx(tmp_path / "data" / "train-images-idx3-ubyte", rng.integers(0, 256, (2100, 8, 8)))
    write_idx(tmp_path / "data" / "train-labels-idx1-ubyte", np.arange(2100) % 3)
    config = tmp_path / "wide.toml"
    config.write_text('name = "wide"\n[network]\nsizes = [64, 8, 3]\n[hardware]\nlanes = 2\n')
    result = run_trifactor("train", "--backend", "rtl", "--config", str(config), "--dataset",
                           f"idx:{tmp_path / 'data'}", "--epochs", "1", "--quiet")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    line, = result.stderr.strip().splitlines()
    assert "2100 samples" in line and "136500 bytes" in line and "holds 131072" in line and "--per-sample" in line, line
    assert not list((Path("build") / "rtl").glob("wide-*")), "nothing built"
