"""``trifactor sweep`` on a tiny network and IDX data set: a sweep on a local Dask cluster gives the fixed model's
accuracy exactly, records the points it cannot measure, computes only what the cache lacks on a rerun, and refuses
a bad spec with one line."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trifactor.golden.config import config_from_dict
from trifactor.golden.fixed_model import FixedNet
from trifactor.golden.train import load_data, train
from trifactor.scripts.sweep import engine
from trifactor.scripts.sweep.report import pareto_front, plots, summarize, table
from trifactor.scripts.sweep.spec import load_spec
from trifactor.scripts.util.errors import UsageError

from conftest import run_trifactor as run
from conftest import assert_user_error
from conftest import TRIFACTOR, tiny_dataset

BASE = """[network]
sizes = [16, 7, 3]
[training]
epochs = 1
[data]
dataset = "idx:{data}"
[hardware]
lanes = 2
"""
SPEC = """name = "tiny"
base = "base.toml"
[grid]
"network.sizes" = [[16, 7, 3], [16, 5, 3]]
[accuracy]
seeds = [0, 1]
"""


def write_spec(tmp_path, spec=SPEC):
    if not (tmp_path / "data").exists():
        (tmp_path / "base.toml").write_text(BASE.format(data=tiny_dataset(tmp_path / "data")))
    (tmp_path / "spec.toml").write_text(spec)
    return tmp_path / "spec.toml"


def sweep(tmp_path, *args):
    result = run("sweep", "spec.toml", "--workers", "1", "--quiet", *args, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result, json.loads((tmp_path / "build/sweep/tiny/sweep.json").read_text())


def golden_accuracy(tmp_path, sizes, seed):
    raw = {"network": {"sizes": sizes}, "training": {"epochs": 1}, "data": {"dataset": f"idx:{tmp_path / 'data'}"}}
    config = config_from_dict(raw)
    return train(FixedNet(config, seed), load_data(config), 1, seed)["test_accuracy"]


def accuracies(report):
    return [[run["result"]["test_accuracy"] for run in point["runs"]["accuracy"]] for point in report["points"]]


def test_tiny_sweep_on_a_local_cluster_then_from_the_cache(tmp_path):
    write_spec(tmp_path)
    result, report = sweep(tmp_path)
    assert [point["settings"] for point in report["points"]] == [{"network.sizes": [16, 7, 3]},
                                                                 {"network.sizes": [16, 5, 3]}]
    assert accuracies(report) == [[golden_accuracy(tmp_path, sizes, seed) for seed in (0, 1)]
                                  for sizes in ([16, 7, 3], [16, 5, 3])]
    assert report["notes"]["computed"] == 4 and report["notes"]["cached"] == 0
    assert "cluster: local, 1 worker processes" in report["cluster"]
    text = (tmp_path / "build/sweep/tiny/report.md").read_text()
    assert "| 0 | 16-7-3 |" in text and "| 1 | 16-5-3 |" in text and "## Not measured" not in text
    table = result.stdout.split("\n- ")[0]

    start = time.monotonic()
    again, cached = sweep(tmp_path)  # everything cached: no cluster, the same table
    assert time.monotonic() - start < 10
    assert cached["notes"]["cached"] == 4 and cached["notes"]["computed"] == 0
    assert again.stdout.split("\n- ")[0] == table and accuracies(cached) == accuracies(report)

    entry = report["points"][1]["runs"]["accuracy"][1]["key"]
    (tmp_path / f"build/sweep/cache/accuracy/{entry}.json").unlink()
    _, partly = sweep(tmp_path, "--only", "accuracy")  # only the missing task is computed
    assert (partly["notes"]["cached"], partly["notes"]["computed"]) == (3, 1)
    assert accuracies(partly) == accuracies(report)


def test_points_that_cannot_be_measured_are_recorded(tmp_path):
    spec = write_spec(tmp_path, SPEC.replace('[[16, 7, 3], [16, 5, 3]]', '[[16, 7, 3], [15, 7, 3]]') +
                      '[[points]]\n"hardware.lanes" = 2\n[[points]]\n"feedback.nonzeros_per_row" = 5\n')
    _, report = sweep(tmp_path)
    points = report["points"]
    assert len(points) == 4 and [p["settings"].get("feedback.nonzeros_per_row") for p in points] == [None, None, 5, 5]
    assert points[0]["runs"]["accuracy"][0]["result"]["test_accuracy"] >= 0
    # the data set has 16 features: every seed's task fails with the reason
    assert all("16 features" in r["error"] and "\n" not in r["error"] for r in points[1]["runs"]["accuracy"])
    # more feedback entries than outputs: not a configuration, no task
    assert "nonzeros_per_row" in points[2]["error"] and points[2]["runs"]["accuracy"] == []
    text = (tmp_path / "build/sweep/tiny/report.md").read_text()
    assert "## Not measured" in text and "not valid: [feedback] nonzeros_per_row" in text
    assert load_spec(spec).points[1].config.sizes == (15, 7, 3)


def test_engine_reruns_only_what_the_cache_lacks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = load_spec(write_spec(tmp_path, SPEC.replace("seeds = [0, 1]", "seeds = [3]")))
    found = engine.plan(spec, tmp_path / "cache")
    assert len(found) == 2 and not any(task.cached for task in found.values())
    with engine.cluster(None, 1, processes=False) as (client, where):
        notes = engine.run(client, list(found.values()), tmp_path / "cache", quiet=True)
    assert notes["crashed"] == {} and notes["lost_workers"] == [] and "1 worker threads" in where
    assert sorted(notes["started"]) == sorted(found)
    again = engine.plan(spec, tmp_path / "cache")
    assert all(task.cached for task in again.values())
    assert [t.entry["result"] for t in again.values()] == [t.entry["result"] for t in found.values()]


def test_pareto_front():
    points = {"a": (100, 90.0), "b": (200, 95.0), "c": (150, 89.0), "d": (300, 95.0), "e": (None, 99.0)}
    assert pareto_front(points) == ["a", "b"]
    assert pareto_front({"a": (1, 1.0), "b": (1, 1.0)}) == ["a", "b"]  # equal points dominate neither


@pytest.mark.parametrize("spec, args, words", [
    ('base = "nope.toml"\n[accuracy]\n', [], ["base", "nope.toml", "no such file"]),
    ('base = "base.toml"\n[grid]\n"hardware.lane" = [2]\n[accuracy]\n', [], ["'hardware.lane'", "did you mean 'hardware.lanes'"]),
    ('base = "base.toml"\n[accuracy]\n', ["--only", "synth"], ["--only synth", "no [synth] table"]),
    ('base = "base.toml"\n[accuracy]\n', ["--workers", "0"], ["--workers"]),
    # no point is a configuration: nothing to measure (was exit 0 and an empty report)
    ('base = "base.toml"\n[grid]\n"feedback.nonzeros_per_row" = [5, 6]\n[accuracy]\n', [],
     ["none of the 2 points of spec.toml is a valid configuration", "point 0 (nonzeros_per_row=5)",
      "nonzeros_per_row = 5 is larger than the output count 3", "use 1..3"]),
    ('base = "base.toml"\n[[points]]\n"network.sizes" = 5\n[accuracy]\n', [],
     ["the only point of spec.toml is not a valid configuration", "sizes must be a list"]),
    ('base = "base.toml"\n[grid]\n"network.sizes" = [[16, 7, 3], [15]]\n"hardware.lanes" = [0]\n[accuracy]\n', [],
     ["none of the 2 points", "[hardware] lanes"]),
])
def test_bad_spec_is_one_line(tmp_path, spec, args, words):
    write_spec(tmp_path, spec)
    result = run("sweep", "spec.toml", *args, cwd=tmp_path)
    assert_user_error(result, *words)
    assert not (tmp_path / "build").exists()  # refused before any work


@pytest.mark.parametrize("spec, words", [
    ('base = "base.toml"\n[grid]\n"hardware.lanes" = 2\n[accuracy]\n', ["hardware.lanes = 2", "non-empty list"]),
    ('base = "base.toml"\n[grid]\n"hardware.lanes" = []\n[accuracy]\n',
     ["hardware.lanes = []", "non-empty list", "e.g. hardware.lanes = [2]"]),  # was "write hardware.lanes = [, ...]"
    ('base = "base.toml"\n[grid]\n"data.dataset" = "digits"\n[accuracy]\n', ['e.g. data.dataset = ["digits"]']),
    ('base = "base.toml"\npoints = []\n[accuracy]\n', ["points", "list of tables"]),
    ('base = "base.toml"\n[grid]\nhardware = {lanes = [2], speed = [1]}\n[accuracy]\n', ["'hardware.speed'"]),
    ('base = "base.toml"\n[grid]\n"hardware.lanes" = [2]\n', ["no measurement"]),
    ('base = "base.toml"\n[accuracy]\nseeds = [0, 0]\n', ["[accuracy] seeds", "distinct"]),
    ('base = "base.toml"\n[accuracy]\nepochs = 0\n', ["[accuracy] epochs", "positive"]),
    ('base = "base.toml"\n[synth]\ntarget = "virtex"\n', ["[synth] target", "up5k"]),
    ('base = "base.toml"\n[acuracy]\n', ["acuracy", "did you mean 'accuracy'"]),
    ('base = "base.toml"\n[grid]\n"hardware.lanes" = [2]\n[[points]]\n"hardware.lanes" = 3\n[accuracy]\n',
     ["sets 'hardware.lanes'", "[grid]"]),
    ("base = \n", ["not valid TOML"]),
])
def test_bad_spec_names_the_key_and_the_fix(tmp_path, spec, words):
    with pytest.raises(UsageError) as caught:
        load_spec(write_spec(tmp_path, spec))
    message = str(caught.value)
    assert "spec.toml" in message and "fix:" in message and "\n" not in message
    for word in words:
        assert word in message, message


def test_an_empty_grid_is_the_base_alone(tmp_path):
    spec = load_spec(write_spec(tmp_path, 'base = "base.toml"\n[grid]\n[[points]]\n[accuracy]\n'))
    assert [(point.settings, point.error) for point in spec.points] == [({}, None)]
    assert spec.points[0].config.to_dict() == spec.base.to_dict() and spec.points[0].label({}) == "base"


# -- Ctrl-C and SIGTERM: one line, the count of cached results, nothing left behind ------------------------------

#: 40 tasks of a fraction of a second each: the sweep is still running when the first result is cached
SLOW = SPEC.replace("seeds = [0, 1]", "seeds = 20\nepochs = 30")


def session(sid: int) -> list:
    """The processes of session ``sid`` still running (trifactor, its Dask workers, multiprocessing's helpers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            found.append(int(stat.parent.name))
    return found


def spawned_workers(sid: int) -> list:
    """The Dask worker processes (multiprocessing's spawned children) of session ``sid``, started or starting."""
    found = []
    for pid in session(sid):
        try:
            if b"multiprocessing.spawn" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("signum, to, when", [
    (signal.SIGINT, "group", "cached"), (signal.SIGTERM, "process", "cached"), (signal.SIGTERM, "group", "cached"),
    (signal.SIGTERM, "group", "starting")], ids=["ctrl-c", "kill", "kill-group", "kill-group-while-starting"])
def test_a_signal_during_a_sweep_says_what_is_cached(tmp_path, signum, to, when):
    """Ctrl-C (SIGINT to the terminal's whole process group: trifactor and its Dask workers alike), ``kill PID``
    (SIGTERM to trifactor alone) and ``timeout`` or ``kill -- -PGID`` (SIGTERM to the group), once a result is cached
    or while the workers start: exit 130 or 143 with one line, no traceback from the workers, no lock file,
    temporary file or Dask scratch folder left, no process left running."""
    write_spec(tmp_path, SLOW)
    (tmp_path / "tmp").mkdir()  # Dask's scratch space would be here (TMPDIR), and is not left behind
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    sweep = subprocess.Popen([str(TRIFACTOR), "sweep", "spec.toml", "--workers", "2", "--quiet"], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as a terminal's job
    cache = tmp_path / "build/sweep/cache/accuracy"
    ready = (lambda: list(cache.glob("*.json"))) if when == "cached" else (lambda: spawned_workers(sweep.pid))
    try:
        deadline = time.monotonic() + 120
        while not ready():
            assert sweep.poll() is None, f"the sweep ended (exit code {sweep.returncode}) first: {sweep.stderr.read()}"
            assert time.monotonic() < deadline, f"no {when} in 120 s"
            time.sleep(0.05)
        os.killpg(sweep.pid, signum) if to == "group" else sweep.send_signal(signum)
        out, err = sweep.communicate(timeout=60)
        deadline = time.monotonic() + 10
        while session(sweep.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        left_running = session(sweep.pid)
    finally:
        for pid in session(sweep.pid):
            os.kill(pid, signal.SIGKILL)
        sweep.communicate()
    cached = len(list(cache.glob("*.json")))
    assert sweep.returncode == 128 + signum, err
    assert "Traceback" not in out + err, err
    assert err.strip() == f"interrupted; {cached} result{'s' if cached != 1 else ''} cached, rerun to continue", err
    assert cached < 40 and not (tmp_path / "build/sweep/tiny").exists()  # no report of a part
    assert cached >= 1 if when == "cached" else cached == 0
    assert left_running == [], "processes of the sweep are still running"
    left = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
            if "lock" in p.name or p.name.endswith(".tmp") or p.name.startswith("dask-")]
    assert left == [], "left behind"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_report_of_synthesis_results(tmp_path):
    """The figures and fronts from cached entries (made up here): median Fmax, samples/s from the measured cycles
    (else the dense count, marked *), a failed seed, two plots."""
    spec = load_spec(write_spec(tmp_path, SPEC.replace("[grid]\n", '[grid]\n"hardware.lanes" = [2, 3]\n')
                                + '[cycles]\nsamples = 5\n[synth]\ntarget = "up5k"\nseeds = [0, 1, 2]\n'))
    found = engine.plan(spec, tmp_path / "cache")
    synth = {2: [(1000, 30.0), (1000, 20.0), (1000, 25.0)], 3: [(1500, 40.0), (1500, 41.0), None]}
    for task in found.values():
        config = spec.points[task.points[0]].config
        if task.measurement == "accuracy":
            result = {"test_accuracy": 0.9 if config.sizes[1] == 7 else 0.8}
        elif task.measurement == "cycles":
            result = {"cycles_per_sample": 100.0} if config.lanes == 2 else None
        else:
            made = synth[config.lanes][task.seed]
            result = made and {"logic_cells": made[0], "luts": 1, "ffs": 1, "dsps": 2, "brams": 3, "fmax_mhz": made[1]}
        task.entry = {"result": result, "error": None if result else "does not fit"}
    rows = summarize(spec, found)
    assert [(row["settings"]["hardware.lanes"], row["settings"]["network.sizes"]) for row in rows] == [
        (2, [16, 7, 3]), (2, [16, 5, 3]), (3, [16, 7, 3]), (3, [16, 5, 3])]  # the grid's first key slowest
    first, second = rows[0], rows[2]
    assert first["fmax_mhz"] == 25.0 and first["samples_per_s"] == 25e6 / 100.0 and first["cycles_measured"]
    assert second["fmax_mhz"] == 40.5 and not second["cycles_measured"]
    assert second["samples_per_s"] == 40.5e6 / spec.points[2].config.mac_issue_cycles
    # 1000 cells: 90% beats 80%, equal samples/s dominate neither; 1500 cells: the smaller network is faster
    assert [row["fronts"] for row in rows] == [["accuracy", "throughput"], ["throughput"], [], ["throughput"]]
    text = table(spec, rows)
    assert "| 0 | 2 | 16-7-3 | 90.00 ± 0.00 | 100.0 | 1,000 | 1 | 2 | 3 | 25.0 | 250,000 | accuracy, throughput |" in text
    assert "| fails |" in text and text.splitlines()[4].endswith("| 343,220* |  |")  # * : no measured cycles
    assert [p.name for p in plots(tmp_path, "tiny", rows)] == ["pareto-accuracy.png", "pareto-throughput.png"]


def test_the_cycles_task_simulates_the_core(tmp_path):
    """A cycles task as a worker runs it (called directly): the core's counters over the first samples, no error."""
    from trifactor.scripts.sweep import tasks

    config = config_from_dict({"network": {"sizes": [16, 7, 3]}, "hardware": {"lanes": 2},
                               "data": {"dataset": f"idx:{tiny_dataset(tmp_path / 'data')}"}})
    outcome = tasks.cycles("key", "run", config, 3, 0)
    assert outcome.get("error") is None, outcome
    assert outcome["result"]["samples"] == 3 and outcome["result"]["cycles_per_sample"] > 0


# a convolutional base (docs/configuration.md, Convolution layers) on the tiny data set's 4x4 images
CONV_BASE = """[network]
input = [4, 4, 1]
sizes = [48, 3]
[[conv]]
channels = 3
kernel = 3
padding = 1
[training]
epochs = 1
[data]
dataset = "idx:{data}"
[hardware]
lanes = 2
"""
CONV_SPEC = """name = "tiny"
base = "conv.toml"
[grid]
conv.0.channels = [2, 3]
[[points]]
"conv.0.kernel" = 3
[[points]]
conv.0 = {kernel = 1, padding = 0}
[accuracy]
seeds = [0]
"""


def test_a_sweep_over_convolution_keys(tmp_path):
    """``conv.<layer>.<key>`` in a grid and in points: the first size follows the convolution's output; a kernel of
    1 and one of 3 with the same output are two networks (two tasks, not one shared); the accuracy is golden's."""
    (tmp_path / "conv.toml").write_text(CONV_BASE.format(data=tiny_dataset(tmp_path / "data")))
    spec = load_spec(write_spec(tmp_path, CONV_SPEC))
    assert spec.keys == ("conv.0.kernel", "conv.0.padding", "conv.0.channels")
    points = [(p.settings.get("conv.0.kernel"), p.config.convs[0].kernel, p.config.convs[0].channels,
               p.config.sizes) for p in spec.points]
    assert points == [(3, 3, 2, (16, 32, 3)), (3, 3, 3, (16, 48, 3)), (1, 1, 2, (16, 32, 3)), (1, 1, 3, (16, 48, 3))]
    _, report = sweep(tmp_path)
    assert report["notes"]["computed"] == 4 and report["notes"]["cached"] == 0
    for point, config in zip(report["points"], (p.config for p in spec.points)):
        expected = train(FixedNet(config, 0), load_data(config), 1, 0)["test_accuracy"]
        assert point["runs"]["accuracy"][0]["result"]["test_accuracy"] == expected
    text = (tmp_path / "build/sweep/tiny/report.md").read_text()
    assert "4x4x1-c3k3s1-48-3" in text and "| channels |" in text, text  # the base network, the swept key
    with pytest.raises(UsageError, match=r"'conv.1.channels' is not a configuration key.*did you mean 'conv.0.chan"):
        load_spec(write_spec(tmp_path, CONV_SPEC.replace("conv.0.channels = ", "conv.1.channels = ")))
