"""``--backend rtl`` and ``board-sim``: the generated hardware trained in Verilator.

``rtl`` simulates the core alone, driven word by word; ``board-sim`` simulates the board
top (host link and UARTs included), driven byte by byte; both by golden's training loop
in :mod:`scripts.sim.session`. Each is built with :mod:`scripts.sim.runner` once per
configuration under
``build/rtl/<name>-<kind>-<hash>/`` (the weights are loaded at the start of a run, so
seeds share the build); the session runs in the simulator while this process shows its
progress.
"""

import json
import os
import threading
from pathlib import Path

from tqdm import tqdm

from trifactor.golden.config import Config

from ..util.errors import UsageError
from . import runner as recipe

SESSION = "trifactor.scripts.sim.session"  # the cocotb module that trains, inside the simulator
JOB_ENV = "TRIFACTOR_RTL_JOB"  # where the session finds its job file


def _top(config: Config, kind: str):
    """The Amaranth top to simulate and its Verilog name: the core alone, or the board with its UARTs."""
    if kind == "rtl":
        from trifactor.hdl.core import LearnerCore

        return LearnerCore(config), config.name
    from trifactor.hdl.sim_board import SimulatedBoard

    return SimulatedBoard(config), f"{config.name}_board"


def _build(config: Config, build_root: Path, kind: str):
    # the name is the Verilog module's, so it is part of the folder; data and training are not
    build_dir = build_root / f"{config.name}-{kind}-{config.hardware_id():08x}"
    top, toplevel = _top(config, kind)
    source = recipe.write_top(top, toplevel, build_dir)
    return recipe.build(source, toplevel, build_dir), build_dir, toplevel


def train_native(config: Config, dataset: str, epochs: int, seed: int, *, save_weights=None, quiet=False,
                 build_root=Path("build/rtl"), kind="rtl") -> dict:
    """``--backend rtl`` or ``board-sim`` from the data store, in the native simulator (:mod:`scripts.sim.stored`):
    the core (or the board), with a store for the data set, trains every epoch by itself; the result dict of
    :func:`train_rtl`, with the EPOCH runs' cycles."""
    import numpy as np

    from trifactor.golden.train import load_data
    from trifactor.hdl.core import LearnerCore

    from . import native
    from .stored import train_stored

    from trifactor.hdl.data_store import STORE_ROOM_BYTES, store_bytes

    config.check_hardware()
    split = load_data(config, dataset)
    n = len(split.y_train) + len(split.y_test)
    size = store_bytes(config, n)
    if size > STORE_ROOM_BYTES:
        raise UsageError(f"{split.name} ({n} samples) takes {size} bytes in the data store, which holds "
                         f"{STORE_ROOM_BYTES} (the UP5K's 4 SPRAMs)", f"use --per-sample, or a smaller data set")
    build_dir = Path(build_root).resolve() / f"{config.name}-{kind}-native-{config.hardware_id():08x}-{n}"
    bar = tqdm(total=epochs, unit="epoch", desc=f"{kind} {config.name} (stored)", disable=quiet or None,
               leave=False, dynamic_ncols=True)
    with bar:
        bar.set_postfix_str("building the core in Verilator")
        if kind == "rtl":
            binary = native.build(LearnerCore(config, store_samples=n), config.name, build_dir)
        else:
            from trifactor.hdl.sim_board import SimulatedBoard

            binary = native.build(SimulatedBoard(config, store_samples=n), f"{config.name}_board", build_dir,
                                  streams=("host_tx", "host_rx"))
        bar.set_postfix_str("")
        result, weights = train_stored(config, split, epochs, seed, binary, build_dir / f"job-{os.getpid()}",
                                       on_epoch=lambda epoch: bar.update(1), board=kind != "rtl")
    if save_weights:
        result["weights_file"] = str(build_dir / f"job-{os.getpid()}" / "weights.npz")
        from trifactor.golden.float_model import weight_arrays
        np.savez(result["weights_file"], **weight_arrays(weights))
    return result


def train_rtl(config: Config, dataset: str, epochs: int, seed: int, *, n_train: int,
              save_weights=None, quiet=False, build_root=Path("build/rtl"), kind="rtl", samples=None) -> dict:
    """Train the simulated core (or board); returns golden ``train``'s result dict plus cycles per sample.

    With ``samples``, train on only the first ``samples`` samples of epoch 0 (``epochs`` is ignored) and
    return the core's counters for them (:func:`scripts.host.model.measure_on_hardware`): no accuracy.
    """
    config.check_hardware()
    build_root = Path(build_root).resolve()  # the simulator runs in its build folder: paths must be absolute
    if dataset.startswith("idx:"):
        dataset = f"idx:{Path(dataset[4:]).resolve()}"
    total = min(samples, n_train) if samples else epochs * n_train
    bar = tqdm(total=total, unit="sample", desc=f"{kind} {config.name}", disable=quiet or None,
               leave=False, dynamic_ncols=True)
    bar.set_postfix_str("building the core in Verilator")
    try:
        runner, build_dir, toplevel = _build(config, build_root, kind)
    except Exception as exc:  # a build failure is ours, but say where its log is
        bar.close()
        raise UsageError(f"building the core failed ({exc})", f"see {build_root} for build.log") from None
    job_dir = build_dir / f"job-{os.getpid()}"
    job_dir.mkdir(exist_ok=True)
    job = {"kind": kind, "config": {k: v for k, v in config.to_dict().items() if k != "derived"}, "dataset": dataset,
           "epochs": epochs, "seed": seed, "progress": str(job_dir / "progress.json"),
           "result": str(job_dir / "result.json"), "weights": str(job_dir / "weights.npz") if save_weights else None,
           "samples": samples}
    (job_dir / "job.json").write_text(json.dumps(job))
    for name in ("progress.json", "result.json"):
        (job_dir / name).unlink(missing_ok=True)
    failure = []

    def run():
        try:
            recipe.run(runner, SESSION, toplevel, build_dir, extra_env={JOB_ENV: str(job_dir / "job.json")},
                       log_file=job_dir / "sim.log", results=job_dir / "results.xml")
        except BaseException as exc:  # an error of ours; the missing result.json reports it
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    bar.set_postfix_str("")
    thread.start()
    while thread.is_alive():
        thread.join(0.5)
        try:
            progress = json.loads((job_dir / "progress.json").read_text())
        except (OSError, ValueError):
            continue
        bar.n = progress["done"]
        if progress["test"] is not None:
            bar.set_postfix(epoch=progress["epoch"] + 1, test=f"{progress['test']:.3f}")
        bar.refresh()
    bar.close()
    if not (job_dir / "result.json").exists():
        raise UsageError("the RTL simulation stopped without a result", f"see {job_dir / 'sim.log'}")
    result = json.loads((job_dir / "result.json").read_text())
    if save_weights:
        result["weights_file"] = str(job_dir / "weights.npz")
    return result
