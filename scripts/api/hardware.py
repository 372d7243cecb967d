"""The core as files: Verilog and its description (:func:`generate`), synthesis figures (:func:`synth`), a board's
bitstream (:func:`build`); what ``trifactor generate``, ``synth`` and ``build`` do, without the printing."""

import json
from pathlib import Path

from trifactor.golden.config import Config, ConfigError, config_from_dict
from trifactor.scripts.util.checks import check_count, check_seed, check_seed_count
from trifactor.scripts.util.errors import UsageError
from trifactor.scripts.util.output import check_folder, write_json

from .arguments import as_clock, as_config, as_path


from trifactor.hdl.boards.board import BOARDS
from trifactor.scripts.flow.synth import TARGETS

__all__ = ["generate", "synth", "build", "measured_cycles", "TARGETS", "BOARDS"]


def generate(config: Config, out=None, *, seed: int = 0) -> tuple[Path, Path]:
    """Write the learner core as one Verilog module and a JSON description beside it.

    Parameters
    ----------
    config : Config or str or os.PathLike or dict
        A Config, the path of a TOML file, or :func:`trifactor.config_from_dict`'s dict.
    out : str or os.PathLike, optional
        The output folder; ``build/<name>`` by default.
    seed : int
        The initial weights in the memories: golden's initialisation with this seed (0..4294967295).

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        ``<out>/<name>.v`` and ``<out>/<name>.json`` (ports, commands, memory map, formats, cycle budget).

    Raises
    ------
    UsageError
        An output folder that cannot be written, a negative seed.
    ConfigError
        A network no supported part can hold.
    """
    from trifactor.scripts.flow.core_files import generate as write_core

    config = as_config(config)
    seed = check_seed(seed, "seed")
    out = as_path(out, "out") or Path("build") / config.name
    check_folder(out, "out")
    return write_core(config, out, seed)


def measured_cycles(source, config: Config) -> tuple[float, str]:
    """(cycles per training sample, where they come from) from a :class:`~trifactor.Run` of a hardware backend or
    the path of a ``trifactor train --json`` file of one, checked to be of ``config``'s hardware."""
    fix = "give the --json file of `trifactor train --backend rtl --config <this config> --json PATH`"
    if hasattr(source, "record"):  # a Run
        run, where = source.record(), f"a {source.backend} run"
    else:
        try:
            run, where = json.loads(Path(source).read_text()), str(source)
        except (OSError, ValueError) as e:
            raise UsageError(f"--cycles-from {source}: cannot read it ({e.__class__.__name__})", fix) from None
    if not isinstance(run, dict) or not run.get("cycles_per_sample"):
        raise UsageError(f"--cycles-from {where} has no measured cycles per sample (a golden-model run?)", fix)
    theirs = run.get("config") or {}
    try:
        measured = config_from_dict({k: v for k, v in theirs.items() if k != "derived"}, source=where)
    except ConfigError as e:
        raise UsageError(f"--cycles-from {where} holds no valid configuration ({e.key} {e.problem})", fix) from None
    mine, other = config.hardware_dict(), measured.hardware_dict()  # [[conv]] layers included
    differing = [key for key in dict.fromkeys([*mine, *other]) if other.get(key) != mine.get(key)]
    if differing:
        raise UsageError(f"--cycles-from {where} was measured on config {theirs.get('name')!r}, whose "
                         f"[{', '.join(differing)}] differ from those of {config.name!r}", fix)
    return float(run["cycles_per_sample"]), f"measured: {run.get('backend', 'rtl')} run in {where}"


def synth(config: Config, target: str = "up5k", *, seeds: int = 3, cycles_from=None, quiet: bool = False) -> dict:
    """Synthesise, place and route the core for ``target`` with the yowasp tools; the figures ``trifactor synth`` prints.

    Parameters
    ----------
    config : Config or str or os.PathLike or dict
        As in :func:`generate`.
    target : {"up5k", "ecp5-25k", "ecp5-85k"}
    seeds : int
        Place-and-route seeds ``0..seeds - 1``; Fmax is their median.
    cycles_from : Run or str or os.PathLike, optional
        samples/s from the cycles per training sample of this hardware run (a :class:`~trifactor.Run` or its
        ``--json`` file); the dense MAC count by default.
    quiet : bool
        No progress bar.

    Returns
    -------
    dict
        ``luts``, ``ffs``, ``utilization`` (``{resource: {"used", "available"}}``), ``fmax_mhz`` (median),
        ``fmax_mhz_per_seed``, ``cycles_per_sample``, ``samples_per_s``, ...; also written to
        ``build/synth/<name>-<target>/report.json`` beside the tools' logs.

    Raises
    ------
    UsageError
        An unknown target, a design that does not fit (naming the resource), a tool that failed.
    """
    from trifactor.scripts.flow.synth import synthesize

    if target not in TARGETS:
        raise UsageError(f"target {target!r} is not one of {', '.join(sorted(TARGETS))}", "use target='up5k', say")
    config = as_config(config)
    seeds = check_seed_count(seeds, "seeds")
    config.check_hardware()
    cycles = measured_cycles(cycles_from, config) if cycles_from is not None else None
    out = Path("build") / "synth" / f"{config.name}-{target}"
    report = synthesize(config, target, seeds, out, quiet, cycles)
    write_json(out / "report.json", report)
    return report


def build(config: Config, board: str = "icebreaker", *, clock_mhz: float | None = None, seed: int = 0,
          baud: int = 1_000_000, store: str | None = None, store_in: str | None = None, quiet: bool = False) -> dict:
    """Build a board's bitstream of the core and its host link; the report ``trifactor build`` prints.

    Parameters
    ----------
    config : Config or str or os.PathLike or dict
        As in :func:`generate`.
    board : {"icebreaker", "ulx3s-85f"}
    clock_mhz : float, optional
        The core clock from the board's PLL; by default the fastest whole MHz the measured Fmax meets with 5% margin.
    seed : int
        Initial weights: golden's initialisation with this seed.
    baud : int
        The host link's bit rate.
    store : str, optional
        A data set (``"digits"``, ``"csv:PATH"``, ...): the core gets a data store that holds it (train and test
        samples), and :func:`train` with ``backend="board"`` then stores it once and runs whole epochs on the board.
    store_in : {"memory", "flash"}, optional
        Where the store keeps the records: the FPGA's memory (STORE writes them), or the board's SPI flash
        (``trifactor flash --data`` writes them, the core reads them with :mod:`hdl.store.spi_flash`). By default
        the flash on a board that has a data offset for it (the iCEBreaker: its UP5K's memory goes to the core),
        else memory.
    quiet : bool
        No progress bar.

    Returns
    -------
    dict
        Resources, Fmax, clock, the bitstream's path; ``build/boards/<board>/<name>/report.md`` holds it as text
        (``<name>-store/`` with a ``store``).

    Raises
    ------
    UsageError
        An unknown board, a design that does not fit or meet timing, a tool that failed.
    """
    from trifactor.scripts.flow.board_build import build as build_board

    config = as_config(config)
    if board not in BOARDS:
        raise UsageError(f"board {board!r} is not one of {', '.join(BOARDS)}", "use board='icebreaker', say")
    clock_mhz = as_clock(clock_mhz)  # the seed and baud are checked with the PLL, before any work
    config.check_hardware()
    if store_in not in (None, "memory", "flash"):
        raise UsageError(f"store_in {store_in!r} is not 'memory' or 'flash'", "use store_in='flash', say")
    offset = BOARDS[board].data_offset
    if store_in == "flash" and offset is None:
        raise UsageError(f"the {board} has no data store in flash yet", "use store_in='memory'")
    store_in = store_in or ("flash" if offset is not None else "memory")
    store_samples = 0
    if store is not None:  # "" is refused (golden.data.check_name), not taken for "no store"
        from trifactor.golden.train import load_data
        from trifactor.scripts.util.checks import check_store_room

        store_samples = check_store_room(config, load_data(config, store),
                                         "leave the store out (training then sends every sample)",
                                         flash_offset=offset if store_in == "flash" else None)
    return build_board(config, board, clock_mhz=clock_mhz, seed=seed, baud=baud, store_samples=store_samples,
                       store_in=store_in, quiet=quiet)
