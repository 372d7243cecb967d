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


def test_orders_outside_the_store_are_refused_through_the_simulated_board(tmp_path):
    """Raw frames into the simulated board (UARTs, link, core; native, from the Verilator build that
    test_rtl_backend's board-sim run shares): ORDER of sample ``n`` (the store's size), of all ones, and of a good
    index then ``n``: each OUT_OF_RANGE. EPOCH and EVALUATE before any STORE, and EPOCH before any ORDER:
    NOT_STORED. The weights after an EPOCH in golden's order then equal golden's."""
    import tomllib

    import numpy as np

    from trifactor.golden.config import config_from_dict
    from trifactor.golden.fixed_model import FixedNet
    from trifactor.golden.train import load_data, sample_orders
    from trifactor.hdl.boards.sim_board import SimulatedBoard
    from trifactor.hdl.layout import WeightLayout
    from trifactor.hdl.link.frames import CHUNK, REQUEST_SYNC, Command, Error, encode, order_bytes
    from trifactor.hdl.protocol import position
    from trifactor.scripts.host import commands
    from trifactor.scripts.host.client import READ_CHUNK, signed_values
    from trifactor.scripts.sim import native

    from conftest import ROOT, TINY_CONFIG, tiny_dataset
    from golden_checks import assert_weights, golden_epoch

    cfg = config_from_dict(tomllib.loads(TINY_CONFIG))
    split = load_data(cfg, f"idx:{tiny_dataset(tmp_path / 'data')}")
    n_train, n = len(split.y_train), len(split.y_train) + len(split.y_test)
    x = cfg.input.quantize(np.concatenate([split.x_train, split.x_test]))
    y = np.concatenate([split.y_train, split.y_test])
    build_dir = ROOT / "build" / "rtl" / f"{cfg.name}-board-sim-native-{cfg.hardware_id():08x}-{n}"
    binary = native.build(SimulatedBoard(cfg, store_samples=n), f"{cfg.name}_board", build_dir,
                          streams=("host_tx", "host_rx"))

    def refuse(command, at, payload, error):
        """A request the board must refuse with ``error``."""
        return encode(REQUEST_SYNC, command, position(at, 0).to_bytes(4, "little") + payload), error

    def run(count):
        return count.to_bytes(2, "little")

    def order(*indices):
        return b"".join(i.to_bytes(order_bytes(n), "little") for i in indices)

    golden = FixedNet(cfg, 7)
    permutation = sample_orders(5, n_train, 1)[0]
    plan = [
        *commands.load_words(cfg, golden.weights, CHUNK),
        refuse(Command.EPOCH, 0, run(1), Error.NOT_STORED), refuse(Command.EVALUATE, 0, run(1), Error.NOT_STORED),
        *commands.store(cfg, 0, x, y, CHUNK),
        refuse(Command.EPOCH, 0, run(1), Error.NOT_STORED),
        refuse(Command.ORDER, 0, order(n), Error.OUT_OF_RANGE),
        refuse(Command.ORDER, 0, order((1 << 8 * order_bytes(n)) - 1), Error.OUT_OF_RANGE),
        refuse(Command.ORDER, 0, order(3, n), Error.OUT_OF_RANGE),
        refuse(Command.EPOCH, 0, run(1), Error.NOT_STORED),  # no ORDER has succeeded
        *commands.order(0, permutation, CHUNK), commands.epoch(0, n_train), *commands.read_words(cfg, READ_CHUNK),
    ]
    requests = [(list(step[0]), 6) if isinstance(step, tuple) else commands.to_frame(cfg, n, step) for step in plan]
    requests = [(list(frame), length) for frame, length in requests]
    replies = bytes(word for word, *_ in native.run(binary, requests, 10**8, tmp_path / "job"))

    words, at = [], 0
    for step, (_, length) in zip(plan, requests):
        frame = replies[at:at + length]
        at += length
        if isinstance(step, tuple):
            assert frame[3] == step[1], f"{Command(step[0][3]).name}: answered {frame.hex()}, not {step[1].name}"
        else:
            words.append(commands.from_frame(cfg, n, step, frame))
    layout = WeightLayout(cfg)
    banks = signed_values(np.concatenate(words[-len(commands.read_words(cfg, READ_CHUNK)):]), cfg.weight.width)
    epoch_words = words[-len(commands.read_words(cfg, READ_CHUNK)) - 1]
    assert epoch_words[0] == golden_epoch(golden, x, y, permutation), "EPOCH's right predictions"
    assert_weights(layout.from_banks(banks.reshape(layout.depth, cfg.lanes).T), golden.weights,
                   "after the refused requests and an EPOCH")


def test_a_flash_store_is_bounded_by_the_flash_not_the_sprams(tmp_path, monkeypatch):
    """board-sim with ``--store-in flash``: the records go to the simulated board's flash, so a data set larger
    than the UP5K's SPRAMs (mnist5k: 3925000 bytes) is taken (the run gets as far as the build), and one larger
    than the flash from its data offset is refused, naming the flash."""
    import numpy as np
    from trifactor.golden.config import config_from_dict
    from trifactor.golden.data import split_arrays
    from trifactor.hdl.boards.sim_board import FLASH_BOARD
    from trifactor.scripts.sim import backend, native
    from trifactor.scripts.util.errors import UsageError

    class Built(Exception):
        pass

    def build(top, *args, **kwargs):
        from amaranth.hdl import Fragment
        Fragment.get(top, None)  # elaborated, so its parts are used (no UnusedElaboratable noise in a later test)
        raise Built

    monkeypatch.setattr(native, "build", build)
    monkeypatch.setattr(backend, "job_folder", lambda path: __import__("contextlib").nullcontext(tmp_path))
    cfg = config_from_dict({"name": "wide", "network": {"sizes": [64, 8, 3]}, "hardware": {"lanes": 2}})
    rng = np.random.default_rng(0)

    def split(n):
        return split_arrays("big", rng.integers(0, 256, (n, 64)).astype(float), np.arange(n) % 3)

    with pytest.raises(Built):  # 2100 samples: more than the SPRAMs hold, far less than the flash
        backend.train_native(cfg, split(2100), 1, 0, kind="board-sim", flash=True, build_root=tmp_path, quiet=True)
    room = (1 << 24) - FLASH_BOARD.data_offset
    with pytest.raises(UsageError, match="16 MB flash"):
        backend.train_native(cfg, split(room // 65 + 10), 1, 0, kind="board-sim", flash=True, build_root=tmp_path,
                             quiet=True)


def test_the_runner_s_checksum_takes_as_few_bits_a_step_as_its_source_allows():
    """From the SPI flash (a byte each 16 cycles, a record's FIFO in front) a bit a cycle: a Galois shift register
    instead of a CRC-32 network over a byte; from the sample memory (a word a cycle, no FIFO) a word a step.
    The checksum's value is the same either way (test_rtl_backend's board-sim-flash run checks it, and fails
    with the bits fed high first)."""
    from amaranth.hdl import Fragment

    from trifactor.hdl.store import DataStore, EpochRunner, FlashPlacement
    from trifactor.hdl.store.record_source import FlashRecords, MemoryRecords

    cfg = CORE_CONFIGS["default"][0]()
    flash_store = DataStore(cfg, samples=40, flash=FlashPlacement(offset=0x100000, clk_hz=24e6))
    store = DataStore(cfg, samples=40)
    runners = {(prefetch, k): EpochRunner(cfg, store=store, prefetch=prefetch, word_interval=k)
               for prefetch, k in ((65, 1), (65, 2), (65, 4), (65, 8), (0, 16))}
    sources = [FlashRecords(flash_store), MemoryRecords(store)]
    try:
        assert [source.word_interval for source in sources] == [16, 1]
        assert [runners[65, k].checksum_width for k in (1, 2, 4, 8)] == [8, 4, 2, 1]
        assert runners[0, 16].checksum_width == 8  # no FIFO to hold a word back
        with pytest.raises(ValueError, match="word_interval must be a positive integer, not 0"):
            EpochRunner(cfg, store=store, word_interval=0)
    finally:  # elaborated, so that no UnusedElaboratable warning lands in another test
        for part in [flash_store, store, *runners.values(), *sources]:
            Fragment.get(part, None)
