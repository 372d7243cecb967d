"""One training run on any backend, as :func:`trifactor.train` and ``trifactor train`` make it."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trifactor.golden.config import Config, ConfigError
from trifactor.golden.data import Split
from trifactor.golden.fixed_model import FixedNet
from trifactor.golden.float_model import FloatNet
from trifactor.golden.train import check_fits, train as train_loop

from trifactor.scripts.util.checks import check_count, check_epochs, check_seed
from trifactor.scripts.util.errors import UsageError
from trifactor.scripts.util.machine import machine_info

from .arguments import as_config, as_data

__all__ = ["BACKENDS", "GOLDEN", "SIMULATED", "BOARD", "Run", "train", "run_training", "train_with_angles"]

GOLDEN = {"float": FloatNet, "fixed": FixedNet}  # the golden models
SIMULATED = ("rtl", "board-sim")                   # the generated hardware in Verilator
BOARD = "board"                                    # a real board on a serial port
BACKENDS = (*GOLDEN, *SIMULATED, BOARD)
ANGLE_WINDOWS = 20  # train_with_angles: windows per epoch, each the mean over 1/20 of an epoch's samples


@dataclass(frozen=True, eq=False)
class Run:
    """The outcome of :func:`trifactor.train`.

    Attributes
    ----------
    backend : str
        ``float``, ``fixed``, ``rtl``, ``board-sim`` or ``board``.
    config : Config
        The configuration trained.
    dataset : str
        The data set's name.
    seed : int
        Weight initialisation and data order.
    epochs : int
        Passes over the training set.
    result : dict
        Everything the run measured, as ``trifactor train --json`` writes it (less the configuration).
    weights : dict of numpy.ndarray
        ``{"W0": ..., "b0": ..., "W1": ...}``: float for ``float``, the weight format's raw integers for the others
        (the hardware's, read back from it).
    """

    backend: str
    config: Config
    dataset: str
    seed: int
    epochs: int
    result: dict = field(repr=False)
    weights: dict = field(repr=False)

    @property
    def history(self) -> list:
        """Test accuracy after each epoch."""
        return self.result["history"]

    @property
    def test_accuracy(self) -> float:
        """Test accuracy after the last epoch."""
        return self.result["test_accuracy"]

    @property
    def train_accuracy(self) -> float:
        """Training-set accuracy of the trained network."""
        return self.result["train_accuracy"]

    @property
    def counters(self) -> dict:
        """The core's event counters over the training samples (``cycles``, ``macs_done``, ...); empty for the
        golden models. Per-sample figures are in :attr:`result` (``cycles_per_sample``, ``mac_utilization``)."""
        return self.result.get("counters", {})

    def record(self) -> dict:
        """The run as ``trifactor train --json`` writes it: backend, data set, seed, epochs, every result, the
        median seconds per epoch, the machine and the resolved configuration."""
        return {"backend": self.backend, "dataset": self.dataset, "seed": self.seed, "epochs": self.epochs,
                **self.result, "seconds_per_epoch_median": float(np.median(self.result["epoch_seconds"])),
                "machine": machine_info(), "config": self.config.to_dict()}


def board_clock(config: Config, board) -> tuple:
    """(Hz, where from): the core clock of the last ``trifactor build`` of ``config`` for ``board``, with or without
    a data store (its PLL clock, from ``report.json``), else the board's oscillator."""
    import json

    from trifactor.scripts.flow.board_build import output_dir

    reports = [output_dir(board.name, config.name, store) / "report.json" for store in (False, True)]
    try:
        report = max((r for r in reports if r.is_file()), key=lambda r: r.stat().st_mtime)
        return json.loads(report.read_text())["clock_mhz"] * 1e6, "its build's PLL clock"
    except (OSError, ValueError, KeyError, TypeError):  # max() of no report: ValueError
        return board.oscillator_hz, "its oscillator; no build of this config yet"


def throughput(config: Config, result: dict, baud: int) -> dict:
    """Training samples/s on each board from a hardware run's counters: ``{board: {"stored": ..., "per_sample_link":
    ..., "clock_hz": ..., "clock": ...}}``, fed from the data store (when it was) and per sample over the UART at
    ``baud``, at the clock of the board's build of ``config`` (:func:`board_clock`)."""
    from trifactor.hdl.boards.board import BOARDS
    from trifactor.scripts.host.model import board_throughput

    figures = {}
    for name, board in BOARDS.items():
        clock_hz, source = board_clock(config, board)
        figures[name] = {**board_throughput(config, result, clock_hz, baud), "clock_hz": clock_hz, "clock": source}
    return figures


def make_model(backend: str, config: Config, seed: int):
    """The golden model ``backend`` (``float`` or ``fixed``) of ``config``, initialised with ``seed``."""
    try:
        return GOLDEN[backend](config, seed)
    except ConfigError as exc:  # a rule or feedback form this backend does not implement
        raise UsageError(f"--backend {backend}: {exc.source}: {exc.key} {exc.problem}",
                         f"{exc.fix}, or use --backend float") from None


def run_training(backend: str, config: Config, split: Split, epochs: int, seed: int, quiet=False, label=None):
    """Train a golden model; returns (model, result dict without config), with one progress bar over all samples."""
    from tqdm import tqdm

    model = make_model(backend, config, seed)
    bar = tqdm(total=epochs * len(split.y_train), unit="sample", desc=label or f"{backend} {split.name}",
               disable=quiet or None, leave=False, dynamic_ncols=True)
    with bar:
        def on_epoch(epoch, accuracy):
            bar.set_postfix(epoch=epoch + 1, test=f"{accuracy:.3f}")
        result = train_loop(model, split, epochs, seed, on_sample=bar.update, on_epoch=on_epoch)
    return model, result


def train_with_angles(config: Config, split: Split, epochs: int, seed: int = 0, windows: int = ANGLE_WINDOWS) -> dict:
    """The float model of ``config`` (rule ``ddfa``) trained with its angles tracked
    (:class:`golden.float_model.FloatNet`, ``track_angles=True``): per sample and hidden layer, the angle in degrees
    between the learned feedback's delta and backpropagation's through the same weights.

    Returns ``seed``, ``epochs``, ``test_accuracy``, ``history`` and ``epoch_seconds`` (as :func:`golden.train.train`);
    ``per_epoch``: ``[epoch][layer]`` mean angle; ``window_samples`` (an epoch's samples // ``windows``) and
    ``windows``: ``[window][layer]`` means over consecutive windows of that many samples, with ``window_epochs``, each
    window's middle in epochs. A sample whose delta is zero (a zero ``B``, every neuron inactive) has no angle and is
    left out of the means; a mean of none is None.
    """
    if config.rule != "ddfa":
        raise ValueError(f"rule {config.rule!r} has no learned feedback to measure angles of (rule 'ddfa' has)")
    model = FloatNet(config, seed, track_angles=True)
    result = train_loop(model, split, epochs, seed)
    angles = np.asarray(model.angles, dtype=np.float64).reshape(len(model.angles), -1)  # samples x hidden layers
    per_epoch_samples = len(split.y_train)
    width = max(1, per_epoch_samples // windows)
    starts = np.arange(0, len(angles), width)
    return {"seed": seed, "epochs": epochs, "test_accuracy": result["test_accuracy"], "history": result["history"],
            "epoch_seconds": result["epoch_seconds"],
            "per_epoch": nan_means(angles, np.arange(0, len(angles), per_epoch_samples)),
            "window_samples": width, "windows": nan_means(angles, starts),
            "window_epochs": [float((start + min(width, len(angles) - start) / 2) / per_epoch_samples)
                              for start in starts]}


def nan_means(values: np.ndarray, starts: np.ndarray) -> list:
    """``[block][column]``: the mean of each block of rows (from each start to the next) over its non-NaN entries,
    None where it has none."""
    means = []
    for block in np.split(values, starts[1:]):
        seen = ~np.isnan(block)
        counts = seen.sum(axis=0)
        sums = np.where(seen, block, 0.0).sum(axis=0)
        means.append([float(total / count) if count else None for total, count in zip(sums, counts)])
    return means


TRACE_SAMPLES = 100  # the training samples a trace holds by default (a digits sample is about 440 KB of FST)


def trace_window(trace, trace_samples, total: int):
    """The :class:`scripts.sim.stored.TraceWindow` of ``train``'s ``trace`` and ``trace_samples`` (``(first, end)``,
    default the first :data:`TRACE_SAMPLES` of the run's ``total`` training samples), checked; None without
    ``trace``."""
    from trifactor.scripts.sim.stored import TraceWindow
    from trifactor.scripts.util.output import check_waveform

    if trace is None:
        if trace_samples is not None:
            raise UsageError("trace_samples is for a trace", "give trace='out.fst' too")
        return None
    check_waveform(trace, "trace")
    first, end = (0, min(total, TRACE_SAMPLES)) if trace_samples is None else trace_samples
    if not (isinstance(first, int) and isinstance(end, int) and 0 <= first < end <= total):
        raise UsageError(f"trace_samples {trace_samples!r} is not a range of the run's {total} training samples",
                         f"use (first, end) with 0 <= first < end <= {total}")
    return TraceWindow(Path(trace), first, end)


def train(config: Config, data=None, *, backend: str = "fixed", epochs: int | None = None, seed: int = 0,
          per_sample: bool = False, store_in: str = "memory", port: str | None = None, baud: int = 1_000_000,
          quiet: bool = False, trace=None, trace_samples: tuple | None = None) -> Run:
    """Train one backend on one data set: what ``trifactor train`` does, without the printing.

    Parameters
    ----------
    config : Config or str or os.PathLike or dict
        From :func:`trifactor.load_config` or :func:`trifactor.config_from_dict`, or what they take: the path of a
        TOML file, or the dict.
    data : Split or str or os.PathLike or (X, y), optional
        From :mod:`trifactor.datasets` (made for ``config``); a data set name (``digits``, ``mnist5k``,
        ``idx:DIR``, ``npz:PATH``, ``csv:PATH``); the path of a ``.csv`` or ``.npz`` file or an IDX folder
        (:func:`trifactor.datasets.from_file`); or a tuple ``(X, y)`` of samples and labels
        (:func:`trifactor.datasets.from_arrays`). ``config``'s ``[data] dataset`` by default.
    backend : {"fixed", "float", "rtl", "board-sim", "board"}
        ``float``/``fixed``: the golden models; ``rtl``: the core in Verilator; ``board-sim``: the board top
        (host link, UARTs) in Verilator; ``board``: a board at ``port``.
    epochs : int, optional
        Passes over the training set, 1..100000; ``[training] epochs`` by default.
    seed : int
        Weight initialisation and data order, 0..4294967295 (the same seed gives every backend the same samples in
        the same order).
    per_sample : bool
        ``rtl``, ``board-sim``: drive every sample from Python through cocotb, instead of storing the data set
        in the simulated core and letting it run each epoch in the native simulator (the default); ``board``:
        TRAIN requests even when the board's core has a data store (``build(..., store=...)``).
    store_in : {"memory", "flash"}
        ``board-sim``: where the simulated board keeps the records, its block RAM or its SPI flash (a model of
        the iCEBreaker's W25Q128JV, written with the data set's image before the run, as ``trifactor flash
        --data`` writes the board's).
    port : str, optional
        ``board``: the serial port (e.g. ``/dev/ttyUSB1``).
    baud : int
        ``board``: the UART bit rate.
    quiet : bool
        No progress bar.
    trace : str or Path, optional
        ``rtl``, ``board-sim``: write an FST waveform of every signal of the simulated core (or board) to this
        ``.fst`` file (Verilator's ``--trace-fst``, from a traced build of its own); the result's ``trace`` says
        where the samples are in it (``start_ns``, ``end_ns``). Open it with GTKWave or Surfer.
    trace_samples : (int, int), optional
        With ``trace``: training samples ``first .. end - 1``, counted from 0 over the whole run in training
        order (sample ``epoch * n_train + k`` is the ``k``-th of that epoch); the first 100 by default.

    Returns
    -------
    Run

    Raises
    ------
    UsageError
        A bad argument (one of a type none of the above, a number out of its range), a missing tool, a simulation
        that failed.
    ConfigError, DataError
        A configuration that cannot be built, a data set that does not fit it.
    """
    if backend not in BACKENDS:
        raise UsageError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}", "use backend='fixed', say")
    config = as_config(config)
    epochs = check_epochs(epochs, "epochs")
    seed = check_seed(seed, "seed")
    baud = check_count(baud, "baud")
    if store_in not in ("memory", "flash"):
        raise UsageError(f"store_in {store_in!r} is not 'memory' or 'flash'", "use store_in='flash', say")
    if store_in == "flash" and (backend != "board-sim" or per_sample):
        raise UsageError("store_in='flash' is for backend='board-sim' from the store (a board's own store is "
                         "wherever trifactor build put it)", "use backend='board-sim' without per_sample")
    if backend == BOARD and not port:
        raise UsageError("backend 'board' needs a serial port", "name the board's serial port, e.g. port='/dev/ttyUSB1'")
    if trace is not None and backend not in SIMULATED:
        raise UsageError(f"a trace is for the simulated backends, not {backend!r}", "use backend='rtl' or 'board-sim'")
    split = as_data(config, data)
    check_fits(config, split)
    epochs = epochs or config.epochs
    window = trace_window(trace, trace_samples, epochs * len(split.y_train))
    if backend in GOLDEN:
        model, result = run_training(backend, config, split, epochs, seed, quiet)
        weights = model.arrays()
    elif backend == BOARD:
        from trifactor.scripts.host.board import train_serial
        result, weights = train_serial(config, split, epochs, seed, port=port, baud=baud, quiet=quiet,
                                       per_sample=per_sample)
    else:
        from trifactor.scripts.sim.backend import train_native, train_rtl
        run = train_rtl if per_sample else train_native
        flash = {"flash": True} if store_in == "flash" else {}
        result = run(config, split, epochs, seed, save_weights=True, quiet=quiet, kind=backend, trace=window, **flash)
        weights = result.pop("weights")
    if backend not in GOLDEN:
        result["throughput"] = throughput(config, result, baud)
    return Run(backend, config, split.name, seed, epochs, result, weights)
