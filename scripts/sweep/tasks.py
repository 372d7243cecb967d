"""The sweep's tasks, as a Dask worker runs them: each calls what the one-configuration command calls.

- :func:`accuracy` is ``trifactor train --backend fixed`` (:func:`scripts.cli.compare.fixed_accuracy`);
- :func:`cycles` is ``trifactor train --backend rtl`` on the first training samples
  (:func:`scripts.sim.backend.train_rtl` with ``samples``);
- :func:`netlist` and :func:`place` are ``trifactor synth`` (:func:`scripts.flow.synth.map_design`,
  :func:`~scripts.flow.synth.place`, :func:`~scripts.flow.synth.synthesis_report`) split where it
  loops over seeds: Yosys once per configuration, its netlist handed (compressed) to one
  place-and-route task per seed, on whichever worker.

A measurement that cannot be made (a core that does not fit, a configuration the data set does not
match) returns ``{"error": one line}``, which is a result like any other and is cached. Anything else
raised is a crash: Dask retries it, and a rerun tries again. Each task logs its start as a Dask event
(``topic`` :data:`STARTED`), so the client can say which tasks ran more than once and where.
"""

import time
import warnings
import zlib
from pathlib import Path

__all__ = ["STARTED", "accuracy", "cycles", "netlist", "place"]

STARTED = "trifactor-sweep-started"


def _started(key: str, run: str):
    from distributed import get_worker

    try:
        get_worker().log_event(STARTED, {"key": key, "run": run})
    except ValueError:  # not on a worker (called directly)
        pass


def _measure(key: str, run: str, measure, *args) -> dict:
    """``{"result": measure(*args)}`` or ``{"error": reason}``, with the worker and the seconds it took."""
    from distributed import get_worker

    from ..cli.compare import FAILURES, one_line

    _started(key, run)
    start = time.monotonic()
    with warnings.catch_warnings():
        from amaranth.hdl import UnusedElaboratable

        # a core that cannot be built leaves its parts unelaborated: recorded as its error, not noise
        warnings.simplefilter("ignore", UnusedElaboratable)
        try:
            outcome = {"result": measure(*args)}
        except FAILURES as exc:
            outcome = {"result": None, "error": one_line(exc)}
    try:
        worker = get_worker().address
    except ValueError:
        worker = None
    return {**outcome, "worker": worker, "seconds": round(time.monotonic() - start, 3)}


def accuracy(key: str, run: str, config, epochs: int, seed: int) -> dict:
    """The fixed golden model's test accuracy after ``epochs`` epochs with ``seed``."""
    def measure():
        from trifactor.golden.train import load_data

        from ..cli.compare import fixed_accuracy

        return fixed_accuracy(config, load_data(config), epochs, seed)
    return _measure(key, run, measure)


def cycles(key: str, run: str, config, samples: int, seed: int, after=None) -> dict:
    """The core's cycles per training sample in RTL simulation, over the first ``samples`` samples of ``seed``'s
    first epoch. ``after``: a task of the same core to wait for (both would build it in one folder)."""
    def measure():
        from trifactor.golden.train import load_data

        from ..sim.backend import train_rtl

        split = load_data(config)
        run_ = train_rtl(config, split, 1, seed, quiet=True, samples=samples)
        return {name: run_[name] for name in ("samples", "cycles_per_sample", "macs_done_per_sample",
                                              "macs_skipped_per_sample", "roofline_cycles_per_sample",
                                              "mac_utilization")}
    return _measure(key, run, measure)


def netlist(key: str, run: str, config, target: str, work: str) -> dict:
    """Yosys's mapping of ``config``'s core for ``target`` in ``work``: the cell counts and the netlist."""
    def measure():
        from ..flow.synth import map_design

        config.check_hardware()
        cells = map_design(config, target, Path(work))
        return {"cells": cells, "netlist": zlib.compress((Path(work) / "top.json").read_bytes(), 6)}
    return _measure(key, run, measure)


def place(key: str, run: str, config, target: str, seed: int, mapped: dict, work: str) -> dict:
    """Place and route ``mapped`` (:func:`netlist`'s result) with ``seed`` in ``work/seed<seed>``: resources and Fmax."""
    if mapped["result"] is None:  # the netlist's failure is every seed's
        _started(key, run)
        return {**mapped, "seconds": 0.0}

    def measure():
        from ..flow.synth import place as place_and_route
        from ..flow.synth import synthesis_report

        out = Path(work) / f"seed{seed}"
        out.mkdir(parents=True, exist_ok=True)
        (out / "top.json").write_bytes(zlib.decompress(mapped["result"]["netlist"]))
        report = synthesis_report(config, target, mapped["result"]["cells"], [place_and_route(config, target, seed, out)],
                                  None, out)
        (out / "top.json").unlink()  # megabytes, and the netlist task's folder has it
        return {"logic_cells": report["utilization"]["logic_cells"]["used"],
                **{name: report[name] for name in ("part", "luts", "ffs", "dsps", "brams", "utilization", "fmax_mhz",
                                                   "target_mhz", "banks", "logs")}}
    return _measure(key, run, measure)
