"""``[training] order = "lfsr"`` end to end: the core draws each epoch's order itself, and ``trifactor train`` with
``--backend rtl`` and ``board-sim`` (from the data store, native) saves exactly ``--backend fixed``'s weights, on a
tiny IDX data set, 2 epochs (about a minute each, the first time: a Verilator build of its own)."""

import json

import numpy as np
import pytest

from trifactor.golden.config import config_from_dict
from trifactor.golden.order import seed_words
from trifactor.hdl.protocol import Op

from conftest import TINY_CONFIG, assert_one_line_error, run_trifactor, tiny_dataset

LFSR = TINY_CONFIG.replace("[hardware]", '[training]\norder = "lfsr"\n[hardware]')


@pytest.mark.parametrize("backend", ["rtl", pytest.param("board-sim", marks=pytest.mark.slow)])  # rtl: make test
def test_stored_training_with_the_lfsr_order_saves_exactly_the_fixed_weights(tmp_path, backend):
    config = tmp_path / "tiny.toml"
    config.write_text(LFSR)
    data = f"idx:{tiny_dataset(tmp_path / 'data')}"
    out = {}
    for name in ("fixed", backend):
        result = run_trifactor("train", "--backend", name, "--config", str(config), "--dataset", data, "--epochs",
                               "2", "--seed", "3", "--quiet", "--json", str(tmp_path / f"{name}.json"),
                               "--save-weights", str(tmp_path / f"{name}.npz"), timeout=900)
        assert result.returncode == 0, result.stderr[-2000:]
        out[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert out[backend]["fed"] == "stored" and out["fixed"]["config"]["training"]["order"] == "lfsr"
    assert out[backend]["train_history_online"] == out["fixed"]["train_history_online"]
    assert out[backend]["history"] == out["fixed"]["history"]
    weights, fixed = np.load(tmp_path / f"{backend}.npz"), np.load(tmp_path / "fixed.npz")
    for name in fixed.files:
        np.testing.assert_array_equal(weights[name], fixed[name], err_msg=name)


def test_the_run_seeds_the_lfsr_once_and_sends_no_order():
    """The stored run's plan: one ORDER (entries 0 and 1: golden's seed words) before the first epoch, none after."""
    from trifactor.scripts.sim.stored import plan

    cfg = config_from_dict({"network": {"sizes": [4, 3, 3]}, "training": {"order": "lfsr"}})
    x, y = np.zeros((40, 4), dtype=np.int64), np.arange(40) % 3
    steps = plan(cfg, x, y, x[:5], y[:5], epochs=3, seed=9, init_seed=9)
    orders = [command for tag, command in steps if tag == "order"]
    assert len(orders) == 1 and orders[0].words[0] & 0xF == Op.ORDER
    assert orders[0].words[2:] == seed_words(9, 40)
    assert [tag[1] for tag, _ in steps if isinstance(tag, tuple) and tag[0] == "epoch"] == [0, 1, 2]
    host = plan(config_from_dict({"network": {"sizes": [4, 3, 3]}}), x, y, x[:5], y[:5], epochs=3, seed=9,
                init_seed=9)
    assert sum(len(c.words) - 2 for tag, c in host if tag == "order") == 3 * 40, "host: an epoch's indices each"


def test_a_bad_order_is_one_line(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text(LFSR.replace('"lfsr"', '"shuffle"'))
    result = run_trifactor("train", "--backend", "fixed", "--config", str(config), "--epochs", "1", "--quiet")
    assert "Traceback" not in result.stderr
    assert_one_line_error(result.returncode, result.stderr, ["[training] order = 'shuffle'", "host, lfsr"])
