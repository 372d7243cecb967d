"""Bad input as a new user gives it, across the subcommands: one line naming the problem and the fix, exit
code 2, no traceback, nothing written (issue 15). Most cases run ``trifactor``'s ``main()`` in this process
(an exception escaping it is the traceback a user would see); the signal cases run it in a child process
and send it SIGTERM or SIGINT, as ``kill PID`` and a CI cancel do.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from trifactor.golden.config import ConfigError, PART_RAM_BITS, config_from_dict, load_config
from trifactor.golden.data import write_idx
from trifactor.golden.fixed_model import FixedNet
from trifactor.scripts.cli import main
from trifactor.scripts.cli import train as train_command
from trifactor.scripts.util.errors import UsageError
from trifactor.scripts.util.output import write_all

from conftest import ROOT, TINY_CONFIG, assert_one_line_error

DIGITS = str(ROOT / "configs" / "digits.toml")
TINY = TINY_CONFIG


def idx_folder(folder: Path, labels, test_labels=None):
    """A 4x4-pixel IDX data set with these labels (and a t10k test pair with ``test_labels``)."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    for prefix, y in (("train", labels), ("t10k", test_labels)):
        if y is not None:
            write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (len(y), 4, 4)))
            write_idx(folder / f"{prefix}-labels-idx1-ubyte", np.asarray(y))


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A folder of bad (and good) inputs, made the working directory."""
    (tmp_path / "binary.toml").write_bytes(bytes(range(256)))
    np.savez(tmp_path / "weights.npz", W0=np.arange(6))
    (tmp_path / "tiny.toml").write_text(TINY)
    (tmp_path / "huge.toml").write_text("[network]\nsizes = [64, 60000, 10]\n")
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "adir").mkdir()
    idx_folder(tmp_path / "good", [0, 1, 2] * 15)
    idx_folder(tmp_path / "single", [0] * 10 + [1] * 10 + [2])
    idx_folder(tmp_path / "label200", [0] * 10 + [1] * 10 + [200] * 10)
    idx_folder(tmp_path / "testlabel", [0, 1, 2] * 10, test_labels=[0, 1, 5])
    idx_folder(tmp_path / "fewtest", [0, 1, 2] * 2)
    idx_folder(tmp_path / "empty", [])
    (tmp_path / "top.bin").write_bytes(b"\0" * 64)
    for case, (section, lines, _) in CONFIG_NUMBERS.items():
        (tmp_path / f"{case}.toml").write_text(tiny_with(section, lines))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tiny_with(section: str, lines: str) -> str:
    """The tiny configuration with ``lines`` in ``[section]`` (its own, or added)."""
    if f"[{section}]\n" in TINY:
        return TINY.replace(f"[{section}]\n", f"[{section}]\n{lines}\n")
    return f"{TINY}[{section}]\n{lines}\n"


# Issue 27: every number of a configuration that reaches NumPy or scikit-learn, past its range, and NaN or
# infinity (TOML has nan and inf) where a number is expected. id -> (section, lines, words of the one line)
CONFIG_NUMBERS = {
    "feedback-seed-2**32": ("feedback", "seed = 4294967296", ["[feedback] seed = 4294967296 is out of range",
                                                              "0..4294967295"]),
    "feedback-seed-nan": ("feedback", "seed = nan", ["[feedback] seed must be an integer, not nan"]),
    "split-seed-2**32": ("data", "split_seed = 4294967296", ["[data] split_seed = 4294967296 is out of range",
                                                             "0..4294967295"]),
    "split-seed-2**63-1": ("data", "split_seed = 9223372036854775807", ["[data] split_seed", "0..4294967295"]),
    "clip-nan": ("data", "clip = nan", ["[data] clip = nan", "positive finite number"]),
    "clip-inf": ("data", "clip = inf", ["[data] clip = inf", "positive finite number"]),
    "clip-minus-inf": ("data", "clip = -inf", ["[data] clip = -inf"]),
    "test-fraction-nan": ("data", "test_fraction = nan", ["[data] test_fraction = nan", "(0, 1)"]),
    "test-fraction-inf": ("data", "test_fraction = inf", ["[data] test_fraction = inf"]),
    "learning-rate-nan": ("training", "learning_rate = nan", ["[training] learning_rate = nan", "(0, 10)"]),
    "learning-rate-inf": ("training", "learning_rate = inf", ["[training] learning_rate = inf"]),
    "epochs-10**9": ("training", "epochs = 1000000000", ["[training] epochs = 1000000000 is out of range",
                                                          "1..100000"]),
    "epochs-inf": ("training", "epochs = inf", ["[training] epochs must be an integer, not inf"]),
    "bp-fraction-nan": ("feedback", 'rule = "hybrid"\nbp_fraction = nan', ["[feedback] bp_fraction = nan", "[0, 1]"]),
    "scale-shift-inf": ("feedback", "scale_shift = inf", ["[feedback] scale_shift must be an integer, not inf"]),
    "input-width-nan": ("fixed", "input = {width = nan, frac = 5}", ["[fixed] input.width must be an integer"]),
    "learning-rate-shift-2**40": ("fixed", "learning_rate_shift = 1099511627776", ["[fixed] learning_rate_shift",
                                                                                   "0..24"]),
}


def files(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


FIXED = ["train", "--backend", "fixed", "--epochs", "1", "--quiet"]
TRAIN_DIGITS = [*FIXED, "--config", DIGITS]
RTL = ["train", "--config", "tiny.toml", "--dataset", "idx:good", "--quiet"]

# id -> (argv, words the one line must hold): the list first, then more of our own
CASES = {
    # a configuration that is not text
    "config-binary": ([*FIXED, "--config", "binary.toml"], ["binary.toml", "not UTF-8", "TOML"]),
    "config-npz": ([*FIXED, "--config", "weights.npz"], ["weights.npz", "not UTF-8"]),
    # output paths, checked before any work
    "json-unwritable-folder": ([*TRAIN_DIGITS, "--json", "/proc/trifactor-none/r.json"], ["--json", "cannot write in /proc"]),
    "json-under-a-file": ([*TRAIN_DIGITS, "--json", "afile/sub/r.json"], ["--json", "afile is a file, not a folder"]),
    "json-at-a-folder": ([*TRAIN_DIGITS, "--json", "adir"], ["--json adir is a folder"]),
    "weights-at-a-folder": ([*TRAIN_DIGITS, "--json", "ok.json", "--save-weights", "adir"], ["--save-weights adir is a folder"]),
    "weights-unwritable": ([*TRAIN_DIGITS, "--save-weights", "/proc/w.npz"], ["--save-weights", "cannot write in /proc"]),
    "json-same-as-weights": ([*TRAIN_DIGITS, "--json", "same.out", "--save-weights", "./same.out"],
                             ["--json and --save-weights both name"]),
    # --seed -1 on every backend and every command that takes a seed
    **{f"seed-negative-{backend}": (["train", "--backend", backend, "--config", DIGITS, "--seed", "-1", "--quiet",
                                     "--port", "/dev/null"], ["--seed -1 is negative", "--seed 0 or more"])
       for backend in ("fixed", "float", "rtl", "board-sim", "board")},
    "seed-negative-generate": (["generate", "--config", "tiny.toml", "--seed", "-1", "--out", "gen"], ["--seed -1"]),
    "seed-negative-build": (["build", "--config", "tiny.toml", "--board", "icebreaker", "--seed", "-1", "--quiet"], ["--seed -1"]),
    "seed-negative-demo": (["demo", "--seed", "-1", "--out", "demo"], ["--seed -1"]),
    # generate --out
    "generate-out-a-file": (["generate", "--config", "tiny.toml", "--out", "afile"], ["--out afile", "is a file"]),
    "generate-out-unwritable": (["generate", "--config", "tiny.toml", "--out", "/proc/gen"], ["--out", "cannot write"]),
    # IDX data sets
    "idx-single-image-class": ([*FIXED, "--config", "tiny.toml", "--dataset", "idx:single"],
                               ["class 2 has a single sample", "at least 2"]),
    "idx-label-200": ([*FIXED, "--config", "tiny.toml", "--dataset", "idx:label200"],
                      ["3 values (0, 1, 200)", "201 classes", "0..2"]),
    # bench --seeds
    "bench-seeds-0": (["bench", "--seeds", "0", "--configs", DIGITS, "--out", "bench"], ["--seeds 0"]),
    "bench-seeds-negative": (["bench", "--seeds", "-2", "--configs", DIGITS, "--out", "bench"], ["--seeds -2"]),
    # a network no supported part can hold: refused with the numbers, at once
    "size-generate": (["generate", "--config", "huge.toml", "--out", "gen"], ["72,000,160 bits", "ECP5 LFE5U-85F"]),
    "size-rtl": (["train", "--backend", "rtl", "--config", "huge.toml", "--quiet"], ["4,500,010 weights"]),
    "size-synth": (["synth", "--config", "huge.toml", "--target", "up5k", "--quiet"], ["[network] sizes", "bits"]),
    # more of our own
    "idx-empty": ([*FIXED, "--config", "tiny.toml", "--dataset", "idx:empty"], ["idx:", "empty", "(0, 4, 4) images"]),
    "board-baud-0": (["train", "--backend", "board", "--config", DIGITS, "--port", "/dev/null", "--baud", "0", "--quiet"],
                     ["--baud 0 is not a positive number"]),
    "idx-test-label-unseen": ([*FIXED, "--config", "tiny.toml", "--dataset", "idx:testlabel"], ["test label 5", "0..2"]),
    "idx-too-few-for-a-split": ([*FIXED, "--config", "tiny.toml", "--dataset", "idx:fewtest"],
                                ["2 test and 4 training samples for 3 classes"]),
    "demo-epochs-0": (["demo", "--epochs", "0", "--out", "demo"], ["--epochs 0"]),
    "demo-out-a-file": (["demo", "--out", "afile"], ["--out afile", "is a file"]),
    "bench-out-a-file": (["bench", "--seeds", "1", "--configs", DIGITS, "--out", "afile"], ["--out afile"]),
    "synth-json-at-a-folder": (["synth", "--config", DIGITS, "--target", "up5k", "--json", "adir", "--quiet"],
                               ["--json adir is a folder"]),
    "train-epochs-negative": (["train", "--backend", "fixed", "--epochs", "-3", "--config", DIGITS], ["--epochs -3"]),
    "compare-out-a-file": (["compare", "--config", DIGITS, "--out", "afile", "--quiet"], ["--out afile"]),
    "config-is-a-folder": ([*FIXED, "--config", "adir"], ["adir", "cannot be read"]),
    "rtl-json-at-a-folder": (["train", "--backend", "rtl", *RTL[1:], "--json", "adir"], ["--json adir is a folder"]),
    # issue 27: configuration numbers past a library's range, NaN and infinity (CONFIG_NUMBERS)
    **{f"config-{case}": ([*FIXED, "--config", f"{case}.toml", "--dataset", "idx:good"], [f"{case}.toml", *words])
       for case, (_, _, words) in CONFIG_NUMBERS.items()},
    # seeds past 2**32 - 1 (scikit-learn's and NumPy's legacy range) on every command that takes one
    "seed-2**32-train": ([*FIXED, "--config", "tiny.toml", "--dataset", "idx:good", "--seed", "4294967296"],
                         ["--seed 4294967296 is more than 4294967295", "--seed 0..4294967295"]),
    "seed-2**32-check": (["check", "tiny.toml", "--dataset", "idx:good", "--seed", "4294967296"], ["--seed 4294967296"]),
    "seed-2**32-generate": (["generate", "--config", "tiny.toml", "--seed", "4294967296", "--out", "gen"],
                            ["--seed 4294967296"]),
    "seed-2**32-build": (["build", "--config", "tiny.toml", "--board", "icebreaker", "--seed", "4294967296", "--quiet"],
                         ["--seed 4294967296"]),
    "seed-2**32-demo": (["demo", "--seed", "4294967296", "--out", "demo"], ["--seed 4294967296"]),
    "bench-seeds-past-2**32": (["bench", "--seeds", "4294967297", "--configs", DIGITS, "--out", "bench"],
                               ["--seeds 4294967297 is more than 4294967296"]),
    "build-clock-nan": (["build", "--config", "tiny.toml", "--board", "icebreaker", "--clock-mhz", "nan", "--quiet"],
                        ["--clock-mhz nan is not a positive finite number"]),
    "build-clock-inf": (["build", "--config", "tiny.toml", "--board", "icebreaker", "--clock-mhz", "inf", "--quiet"],
                        ["--clock-mhz inf"]),
    # absurd counts: refused before any work, not built up until memory runs out
    "train-epochs-10**9": (["train", "--backend", "fixed", "--config", "tiny.toml", "--dataset", "idx:good",
                            "--epochs", "1000000000", "--quiet"], ["--epochs 1000000000 is more than 100000"]),
    "train-epochs-10**9-rtl": ([*RTL, "--backend", "rtl", "--epochs", "1000000000"], ["--epochs 1000000000"]),
    "check-epochs-10**9": (["check", "tiny.toml", "--dataset", "idx:good", "--epochs", "1000000000"],
                           ["--epochs 1000000000"]),
    "demo-epochs-10**9": (["demo", "--epochs", "1000000000", "--out", "demo"], ["--epochs 1000000000"]),
    "compare-epochs-10**9": (["compare", "--config", DIGITS, "--epochs", "1000000000", "--out", "cmp", "--quiet"],
                             ["--epochs 1000000000"]),
    "measure-epochs-10**9": (["measure", "--what", "accuracy", "--epochs", "1000000000", "--out", "m.md", "--quiet"],
                             ["--epochs 1000000000"]),
    "compare-samples-0": (["compare", "--config", "tiny.toml", "--samples", "0", "--out", "cmp", "--quiet"],
                          ["--samples 0"]),
    "compare-samples-negative": (["compare", "--config", "tiny.toml", "--samples", "-5", "--out", "cmp", "--quiet"],
                                 ["--samples -5"]),
    # an empty or blank data set name is refused, never taken for "the configuration's"
    "dataset-empty": ([*TRAIN_DIGITS, "--dataset", ""], ["the data set name '' is empty", "leave it out"]),
    "dataset-blank": ([*TRAIN_DIGITS, "--dataset", "  "], ["the data set name '  ' is blank"]),
    "dataset-empty-check": (["check", "tiny.toml", "--dataset", ""], ["the data set name '' is empty"]),
    "dataset-empty-build-store": (["build", "--config", "tiny.toml", "--board", "icebreaker", "--store", "", "--quiet"],
                                  ["the data set name '' is empty"]),
    "dataset-empty-flash-data": (["flash", "--board", "icebreaker", "--bitstream", "top.bin", "--data", "",
                                  "--dry-run"], ["the data set name '' is empty"]),
    "config-empty": ([*FIXED, "--config", ""], ["<config>: file path '' is empty", "TOML file"]),
    "generate-out-empty": (["generate", "--config", "tiny.toml", "--out", ""], ["--out is empty"]),
    "demo-out-empty": (["demo", "--out", " "], ["--out is empty"]),
    "bench-out-empty": (["bench", "--seeds", "1", "--configs", DIGITS, "--out", ""], ["--out is empty"]),
    "compare-out-empty": (["compare", "--config", DIGITS, "--out", "", "--quiet"], ["--out is empty"]),
    "dataset-a-bare-csv-path": ([*FIXED, "--config", "tiny.toml", "--dataset", "mine.csv"],
                                ["unknown data set 'mine.csv'", "write csv:mine.csv"]),
    "dataset-a-bare-folder": ([*FIXED, "--config", "tiny.toml", "--dataset", "good"],
                              ["unknown data set 'good'", "write idx:good"]),
}


@pytest.mark.parametrize("argv, words", list(CASES.values()), ids=list(CASES))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(work, capsys, argv, words):
    before = files(work)
    code = main(argv)
    assert_one_line_error(code, capsys.readouterr().err, words)
    assert files(work) == before, "a refused command wrote something"


def test_the_installed_command_says_it_in_one_line(work):
    """The same as a user's shell sees it: a config that is not text (was a UnicodeDecodeError traceback)."""
    result = subprocess.run([str(Path(sys.executable).parent / "trifactor"), *FIXED, "--config", "weights.npz"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "not UTF-8" in result.stderr, result.stderr


def test_a_later_output_that_fails_leaves_no_earlier_one(work, capsys, monkeypatch):
    """--json and --save-weights are written both or neither: a JSON file that cannot be written (say, a
    full disk) after the weights were leaves no weights behind, nor temporary files."""
    def no_space(data):
        def write(f):
            raise OSError(28, "No space left on device", "r.json")
        return write

    monkeypatch.setattr(train_command, "json_writer", no_space)
    before = files(work)
    assert main([*TRAIN_DIGITS, "--json", "r.json", "--save-weights", "w.npz"]) == 2
    assert "cannot write r.json (No space left on device)" in capsys.readouterr().err
    assert files(work) == before


def test_write_all_writes_all_or_none(tmp_path):
    def fail(f):
        raise OSError(13, "Permission denied", str(tmp_path / "b"))

    with pytest.raises(UsageError, match="Permission denied"):
        write_all({tmp_path / "a": lambda f: f.write(b"a"), tmp_path / "b": fail})
    assert list(tmp_path.iterdir()) == []
    write_all({tmp_path / "a": lambda f: f.write(b"a"), tmp_path / "b": lambda f: f.write(b"b")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_config_with_a_byte_order_mark_is_read(tmp_path):
    """Some editors start UTF-8 files with a BOM; tomllib alone calls that invalid TOML."""
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbf" + Path(DIGITS).read_bytes())
    assert load_config(tmp_path / "bom.toml").sizes == (64, 64, 10)


def test_size_limit_is_for_hardware_only():
    """A network no part holds is refused for the core, with the numbers; the golden models still take it;
    the largest shipped configuration (MNIST, which fits the ECP5-85F only) passes."""
    huge = config_from_dict({"network": {"sizes": [64, 60000, 10]}}, source="huge.toml")
    with pytest.raises(ConfigError, match=r"72,000,160 bits .* 4,518,912 bits .*ECP5 LFE5U-85F") as info:
        huge.check_hardware()
    assert info.value.key == "[network] sizes"
    FixedNet(huge)  # the golden models take any size
    mnist = load_config(ROOT / "configs" / "mnist5k.toml")
    assert PART_RAM_BITS["iCE40 UP5K"] < mnist.weight_bits <= max(PART_RAM_BITS.values())
    mnist.check_hardware()
    hidden = (max(PART_RAM_BITS.values()) // 16 - 2) // 5  # 2-H-2 has 3 H + 2 (H + 1) weights of 16 bits
    config_from_dict({"network": {"sizes": [2, hidden, 2]}}).check_hardware()
    with pytest.raises(ConfigError):
        config_from_dict({"network": {"sizes": [2, hidden + 1, 2]}}).check_hardware()


def test_negative_seed_is_refused_by_the_golden_models():
    config = config_from_dict({"network": {"sizes": [8, 6, 3]}})
    with pytest.raises(ValueError, match="seed must be an integer >= 0, not -1"):
        FixedNet(config, -1)


# -- signals: the simulator child ends with trifactor, and so does its job folder ----------------------------

# Stands in for the Verilator child (scripts.sim.runner.child_command): a process with a child of its own,
# as make and the simulator are; it either waits to be ended, or writes a result as the session would.
FAKE_SIMULATOR = textwrap.dedent("""
    import json, os, subprocess, sys, time
    import numpy as np
    spec = json.loads(sys.argv[1])
    job = json.load(open(spec["extra_env"]["TRIFACTOR_RTL_JOB"]))
    grandchild = subprocess.Popen(["sleep", "300"])
    open(os.environ["FAKE_PIDS"], "w").write(f"{os.getpid()} {grandchild.pid}")
    if os.environ.get("FAKE_RESULT"):
        result = {"history": [0.5], "test_accuracy": 0.5, "train_accuracy": 0.5, "epoch_seconds": [0.1],
                  "cycles_per_sample": 10.0, "roofline_cycles_per_sample": 5.0, "mac_utilization": 0.5,
                  "macs_skipped_per_sample": 1.0, "macs_per_sample": 10.0}
        if job["weights"]:
            np.savez(job["weights"], W0=np.zeros((7, 16), dtype=np.int64))
        open(job["result"], "w").write(json.dumps(result))
        sys.exit(0)  # the grandchild is left running: the group is ended all the same
    time.sleep(300)
""")

DRIVER = textwrap.dedent("""
    import json, sys
    from trifactor.scripts.sim import runner
    from trifactor.scripts.cli import main
    runner.child_command = lambda spec: [sys.executable, "-c", open(sys.argv[1]).read(), json.dumps(spec)]
    sys.exit(main(sys.argv[2:]))
""")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")  # a zombie has ended; only its parent's wait is missing


def wait_for(predicate, timeout: float, what: str, process=None):
    """Poll ``predicate`` until true; fail after ``timeout`` s, or as soon as ``process`` (if given) has ended."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        if process is not None and process.poll() is not None:
            pytest.fail(f"trifactor ended (exit code {process.returncode}) before {what}: {process.stderr.read()}")
        time.sleep(0.2)


def start_driver(work: Path, extra_env=None, *args):
    (work / "fake.py").write_text(FAKE_SIMULATOR)
    (work / "driver.py").write_text(DRIVER)
    env = {**os.environ, "FAKE_PIDS": str(work / "pids"), **(extra_env or {})}
    # a shell's background job inherits SIGINT ignored, and Python then keeps ignoring it: restore the default
    return subprocess.Popen([sys.executable, str(work / "driver.py"), str(work / "fake.py"), *RTL, "--backend", "rtl",
                             "--per-sample", *args], cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("signum, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_signal_ends_the_simulator_group_and_its_job_folder(work, signum, code, word):
    driver, pids = start_driver(work), []
    try:
        wait_for(lambda: (work / "pids").exists() and (work / "pids").read_text(), 240, "the simulator child", driver)
        pids = [int(pid) for pid in (work / "pids").read_text().split()]
        driver.send_signal(signum)  # to trifactor alone, as kill PID does
        out, err = driver.communicate(timeout=60)
        assert driver.returncode == code, err
        assert err.strip() == word, err
        wait_for(lambda: not any(alive(pid) for pid in pids), 10, "the simulator child and its child to end")
        assert not list(work.glob("build/rtl/*/job-*")), "the job folder was left behind"
    finally:
        for pid in [driver.pid, *pids]:  # whatever a failure left running
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        driver.communicate()  # reaps it and closes its pipes


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_a_finished_run_leaves_no_job_folder_and_removes_stale_ones(work):
    dead = subprocess.Popen(["true"])
    dead.wait()
    driver = start_driver(work, {"FAKE_RESULT": "1"}, "--json", "r.json", "--save-weights", "w.npz")
    # a job folder of a run that ended without cleaning up (kill -9), in the build folder this run will use
    wait_for(lambda: list(work.glob("build/rtl/tiny-rtl-*")), 240, "the build folder", driver)
    stale = next(work.glob("build/rtl/tiny-rtl-*")) / f"job-{dead.pid}"
    stale.mkdir()
    out, err = driver.communicate(timeout=240)
    assert driver.returncode == 0, err
    assert json.loads((work / "r.json").read_text())["cycles_per_sample"] == 10.0
    assert np.load(work / "w.npz")["W0"].shape == (7, 16)
    pids = [int(pid) for pid in (work / "pids").read_text().split()]
    wait_for(lambda: not any(alive(pid) for pid in pids), 10, "the child's leftover process to end")
    assert not list(work.glob("build/rtl/*/job-*")), "job folders were left behind"


def descendants(pid: int) -> list:
    """``[(pid, command line)]`` of every process below ``pid``, from /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            try:
                found.append((child, Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()))
            except OSError:
                continue
            todo.append(child)
    return found


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("signum, path", [(signal.SIGTERM, "--per-sample"), (signal.SIGINT, "--per-sample"),
                                           (signal.SIGTERM, "stored")])
def test_signal_ends_verilator(tmp_path, signum, path):
    """The real thing: trifactor train --backend rtl, Verilator running (the build shared with test_rtl_backend):
    the cocotb session (``--per-sample``) or the native harness (data stored)."""
    (tmp_path / "tiny.toml").write_text(TINY)
    idx_folder(tmp_path / "good", [0, 1, 2] * 15)
    command = [str(Path(sys.executable).parent / "trifactor"), "train", "--backend", "rtl", "--config",
               str(tmp_path / "tiny.toml"), "--dataset", f"idx:{tmp_path / 'good'}", "--epochs", "100000", "--quiet",
               *([path] if path.startswith("--") else [])]
    driver = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in start_driver
    try:
        def simulator():
            return [pid for pid, cmdline in descendants(driver.pid)
                    if cmdline.split(" ")[0].endswith(("/tiny", "/harness"))]
        wait_for(simulator, 900, "the Verilator simulation", driver)
        running = simulator() + [pid for pid, _ in descendants(driver.pid)]
        driver.send_signal(signum)
        out, err = driver.communicate(timeout=60)
    finally:
        driver.kill()
    assert driver.returncode == 128 + signum, err
    wait_for(lambda: not any(alive(pid) for pid in running), 10, "Verilator to end")
    assert not list(ROOT.glob(f"build/rtl/tiny-rtl-*/job-{driver.pid}"))
