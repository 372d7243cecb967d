"""``--backend rtl`` and ``board-sim``: the generated hardware trained in Verilator.

``rtl`` simulates the core alone, driven word by word; ``board-sim`` simulates the board
top (host link and UARTs included), driven byte by byte; both by golden's training loop
in :mod:`scripts.sim.session`. Each is built with :mod:`scripts.sim.runner` once per
configuration under
``build/rtl/<name>-<kind>-<hash>/`` (the weights are loaded at the start of a run, so
seeds share the build); the build and the session run in a child process group
(:func:`scripts.sim.runner.apart`) while this process shows their progress, and end with it.
"""

import dataclasses
import json
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from tqdm import tqdm

from trifactor.golden.config import Config
from trifactor.golden.data import Split

from ..util.checks import check_seed, check_store_room
from ..util.errors import UsageError
from . import cache
from . import runner as recipe

SESSION = "trifactor.scripts.sim.session"  # the cocotb module that trains, inside the simulator
JOB_ENV = "TRIFACTOR_RTL_JOB"  # where the session finds its job file


def _top(config: Config, kind: str):
    """The Amaranth top to simulate and its Verilog name: the core alone, or the board with its UARTs."""
    if kind == "rtl":
        from trifactor.hdl.core.learner import LearnerCore

        return LearnerCore(config), config.name
    from trifactor.hdl.boards.sim_board import SimulatedBoard

    return SimulatedBoard(config), f"{config.name}_board"


def _sources(config: Config, build_root: Path, kind: str, trace: bool = False):
    """The top's Verilog in its build folder (rewritten only when it changed, so the build is reused); a traced
    build has a folder of its own."""
    # the name is the Verilog module's, so it is part of the folder; data and training are not
    build_dir = build_root / f"{config.name}-{kind}-{config.hardware_id():08x}{'-trace' if trace else ''}"
    top, toplevel = _top(config, kind)
    return recipe.write_top(top, toplevel, build_dir), build_dir, toplevel


def _remove_stale_jobs(build_dir: Path):
    """Job folders of runs whose process is gone (a failed run keeps its folder, with sim.log, until the next run)."""
    for job_dir in build_dir.glob("job-*"):
        pid = job_dir.name.removeprefix("job-")
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                shutil.rmtree(job_dir, ignore_errors=True)
            except PermissionError:  # someone else's live process
                pass


@contextmanager
def job_folder(build_dir: Path):
    """``build_dir/job-<pid>/`` for one run, after removing the folders of runs whose process is gone. It goes
    when the run ends, however it ends, except by a :class:`UsageError`: that message points into it. The build
    folders beside ``build_dir`` are kept under a size, least recently used first (:func:`scripts.sim.cache.prune`)."""
    limit = cache.limit_bytes()  # a bad TRIFACTOR_SIM_CACHE_GB is refused before anything is made
    _remove_stale_jobs(build_dir)
    job_dir = build_dir / f"job-{os.getpid()}"
    job_dir.mkdir(parents=True, exist_ok=True)
    cache.prune(build_dir, limit)
    keep = False
    try:
        yield job_dir
    except UsageError:
        keep = True
        raise
    finally:
        if not keep:
            shutil.rmtree(job_dir, ignore_errors=True)


def train_native(config: Config, split: Split, epochs: int, seed: int, *, save_weights=None, quiet=False,
                 build_root=Path("build/rtl"), kind="rtl", flash=False, trace=None) -> dict:
    """``--backend rtl`` or ``board-sim`` from the data store, in the native simulator (:mod:`scripts.sim.stored`):
    the core (or the board), with a store for the data set, trains every epoch by itself; the result dict of
    :func:`train_rtl` (``weights`` too with ``save_weights``), with the EPOCH runs' cycles. ``split`` is
    :func:`golden.train.load_data`'s (standardised, checked against the net). Verilator and the
    harness run in child process groups that end with this call, and so does the job folder.

    With ``flash`` (board-sim only) the records are in the simulated board's SPI flash model, not STOREd. With
    ``trace`` (:class:`scripts.sim.stored.TraceWindow`), an FST waveform of those training samples, from a build
    of its own (``...-trace``); the result's ``trace`` says where they are in it."""
    from trifactor.hdl.core.learner import LearnerCore

    from . import native
    from .stored import train_stored

    check_seed(seed)
    config.check_hardware()
    recipe.prepare()  # a missing compiler is the user's to fix, with one line
    if flash and kind == "rtl":
        raise UsageError("the data store is in flash only on a board", "use --backend board-sim with --store-in flash")
    if flash:  # the records are in the simulated board's flash, from its data offset: they must fit there
        from trifactor.hdl.boards.sim_board import FLASH_BOARD

        n = check_store_room(config, split, "use a smaller data set", flash_offset=FLASH_BOARD.data_offset)
    else:
        n = check_store_room(config, split, "use --per-sample, --store-in flash (board-sim), or a smaller data set")
    where = ("-flash" if flash else "") + ("-trace" if trace else "")
    build_dir = Path(build_root).resolve() / f"{config.name}-{kind}-native-{config.hardware_id():08x}-{n}{where}"
    bar = tqdm(total=epochs, unit="epoch", desc=f"{kind} {config.name} (stored)", disable=quiet or None,
               leave=False, dynamic_ncols=True)
    with bar, job_folder(build_dir) as job_dir:
        bar.set_postfix_str("building the core in Verilator")
        if kind == "rtl":
            binary = native.build(LearnerCore(config, store_samples=n), config.name, build_dir, trace=bool(trace))
        else:
            from trifactor.hdl.boards.sim_board import SimulatedBoard

            binary = native.build(SimulatedBoard(config, store_samples=n, flash=flash), f"{config.name}_board",
                                  build_dir, streams=("host_tx", "host_rx"), flash=flash, trace=bool(trace))
        bar.set_postfix_str("")
        result, arrays = train_stored(config, split, epochs, seed, binary, job_dir,
                                       on_epoch=lambda epoch: bar.update(1), board=kind != "rtl", flash=flash,
                                       trace=trace)
    if save_weights:
        result["weights"] = arrays
    return result


def train_rtl(config: Config, split: Split, epochs: int, seed: int, *,
              save_weights=None, quiet=False, build_root=Path("build/rtl"), kind="rtl", samples=None,
              trace=None) -> dict:
    """Train the simulated core (or board) on ``split`` (:func:`golden.train.load_data`'s); returns golden
    ``train``'s result dict plus cycles per sample. The session reads the split from the job folder, as given.

    With ``save_weights``, the result's ``weights`` holds the trained weights (``{"W0": ..., "b0": ..., ...}``).
    With ``samples``, train on only the first ``samples`` samples of epoch 0 (``epochs`` is ignored) and
    return the core's counters for them (:func:`scripts.host.model.measure_on_hardware`): no accuracy.
    The simulator runs in a child process group that ends with this call, however it ends; so does the
    job folder ``build_root/<build>/job-<pid>/``, unless the run failed (then its logs stay until the next run).
    With ``trace`` (:class:`scripts.sim.stored.TraceWindow`), an FST waveform of those training samples, from a
    traced build of its own; the result's ``trace`` says where they are in it.
    """
    check_seed(seed)
    config.check_hardware()
    recipe.prepare()  # a missing compiler is the user's to fix, with one line
    build_root = Path(build_root).resolve()  # the simulator runs in its build folder: paths must be absolute
    config = absolute_transfer(config)
    try:
        source, build_dir, toplevel = _sources(config, build_root, kind, trace=bool(trace))
    except Exception as exc:  # a conversion failure is ours, but one line
        raise UsageError(f"converting the core to Verilog failed ({exc})", f"see {build_root}") from None
    with job_folder(build_dir) as job_dir:
        return _run_session(config, split, epochs, seed, job_dir, source, build_dir, toplevel,
                            save_weights=save_weights, quiet=quiet, kind=kind, samples=samples, trace=trace)


SPLIT_FIELDS = ("x_train", "y_train", "x_test", "y_test")


def save_split(split: Split, path: Path):
    """``split`` as an ``.npz`` the session reads back with :func:`load_saved_split`, exactly (float64, int64)."""
    np.savez(path, name=np.array(split.name), **{field: getattr(split, field) for field in SPLIT_FIELDS})


def load_saved_split(path) -> Split:
    with np.load(path, allow_pickle=False) as saved:
        return Split(str(saved["name"]), *(saved[field] for field in SPLIT_FIELDS))


def job_config(config: Config) -> dict:
    """``config`` as the session rebuilds it (:func:`golden.config.config_from_dict`) in the simulator's build
    folder: give it a ``config`` whose transfer file is named absolutely (:func:`absolute_transfer`)."""
    return {k: v for k, v in config.to_dict().items() if k != "derived"}


def absolute_transfer(config: Config) -> Config:
    """``config`` with a relative ``[network] transfer`` (the frozen layers' weights, opened when golden's net is
    built) made absolute: the session runs in the simulator's build folder, where the relative path names nothing.
    The simulated top is built from the same ``config``, so its identity (which holds the path) is the session's."""
    if not config.transfer or Path(config.transfer).is_absolute():
        return config
    return dataclasses.replace(config, transfer=str(Path(config.transfer).resolve()))


def _run_session(config, split, epochs, seed, job_dir, source, build_dir, toplevel, *, save_weights, quiet, kind,
                 samples, trace=None) -> dict:
    """The cocotb session of :func:`train_rtl` in ``job_dir``: its job file, the run, its result."""
    save_split(split, job_dir / "split.npz")
    n_train = len(split.y_train)
    job = {"kind": kind, "config": job_config(config),
           "split": str(job_dir / "split.npz"),
           "epochs": epochs, "seed": seed, "progress": str(job_dir / "progress.json"),
           "result": str(job_dir / "result.json"), "weights": str(job_dir / "weights.npz") if save_weights else None,
           "samples": samples, "trace": [trace.first, trace.end] if trace else None}
    (job_dir / "job.json").write_text(json.dumps(job))
    staged = job_dir / "trace.fst"
    for name in ("progress.json", "result.json", staged.name):
        (job_dir / name).unlink(missing_ok=True)
    spec = {"source": str(source), "toplevel": toplevel, "build_dir": str(build_dir), "module": SESSION,
            "extra_env": {JOB_ENV: str(job_dir / "job.json"), **({recipe.TRACE_ENV: str(staged)} if trace else {})},
            "log_file": str(job_dir / "sim.log"), "results": str(job_dir / "results.xml"), "trace": bool(trace)}
    result = _supervise(spec, job_dir, config, kind, quiet, total=min(samples, n_train) if samples else epochs * n_train)
    if trace:
        if not staged.exists():
            raise UsageError("the RTL simulation wrote no waveform", f"see {job_dir / 'sim.log'}")
        Path(trace.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staged, trace.path)
        result["trace"]["path"] = str(trace.path)
    if save_weights:
        with np.load(job_dir / "weights.npz") as weights:
            result["weights"] = dict(weights)
    return result


def _supervise(spec: dict, job_dir: Path, config: Config, kind: str, quiet: bool, total: int) -> dict:
    """Build and run the session in a child process group (:func:`scripts.sim.runner.apart`) with a progress bar;
    its result dict."""
    bar = tqdm(total=total, unit="sample", desc=f"{kind} {config.name}", disable=quiet or None,
               leave=False, dynamic_ncols=True)
    with bar, recipe.apart(recipe.child_command(spec), job_dir / "runner.log") as child:
        bar.set_postfix_str("building the core in Verilator")
        while True:
            try:
                child.wait(0.5)
                break
            except subprocess.TimeoutExpired:
                pass
            try:
                progress = json.loads((job_dir / "progress.json").read_text())
            except (OSError, ValueError):
                continue
            bar.n = progress["done"]
            if progress["test"] is None:
                bar.set_postfix_str("training")
            else:
                bar.set_postfix(epoch=progress["epoch"] + 1, test=f"{progress['test']:.3f}")
            bar.refresh()
    if child.returncode == recipe.BUILD_FAILED:
        raise UsageError("building the core in Verilator failed",
                         f"see {job_dir / 'runner.log'} and {Path(spec['build_dir']) / 'build.log'}")
    if not (job_dir / "result.json").exists():
        raise UsageError("the RTL simulation stopped without a result", f"see {job_dir / 'sim.log'}")
    return json.loads((job_dir / "result.json").read_text())
