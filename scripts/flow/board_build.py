"""The board build flow of ``trifactor build``: a board's bitstream of the core and its host link, with a timing and resource report.

Amaranth's platform prepares the build plan (RTLIL, the pin constraints, the tool
commands, see :class:`hdl.boards.board.BoardTop`); each of its commands then runs here on the
yowasp tools, one at a time, so there is a progress bar, a log per tool and one clear
line when something fails. (``platform.build()`` would refuse the ULX3S without
openFPGALoader, which only programming needs, and ``execute_local`` prints the tools'
output on the terminal.)

The core clock comes from the board's PLL (:mod:`hdl.boards.pll`). ``--clock-mhz`` asks for a
frequency: one build, which fails if nextpnr's Fmax falls short of it. Without it the
build chooses the clock from a measured Fmax: a first build at the board's aim clock
(48 MHz on the iCEBreaker, 100 MHz on the ULX3S) measures the design's Fmax with
nextpnr working towards a tight target; the clock is then the fastest whole number of
MHz that the PLL makes exactly and that this Fmax exceeds by ``MARGIN`` (5%: more than
the seed-to-seed spread of nextpnr's Fmax, which a rebuild at another clock sees), and
the design is built again at that clock (unless it is the aim). If the rebuild misses its
clock, the clock steps down once more from the rebuild's Fmax (``MAX_RUNS`` builds in all).

Everything lands in ``build/boards/<board>/<config name>/`` (``<config name>-store/`` for a core with a data
store, so that neither build replaces the other): the bitstream, ``report.json`` and ``report.md`` once the build
succeeded, each build's plan and tool logs under ``work/<clock>MHz/``. A failed build leaves no bitstream or report
there.
"""

import json
import shutil
import time
from pathlib import Path

from tqdm import tqdm

from trifactor.hdl.boards.board import BOARDS, BoardTop
from trifactor.hdl.lanes.lane_banks import bank_bits, spram_yosys_commands
from trifactor.hdl.boards.pll import PLL_RANGES, fastest_exact_clock
from trifactor.hdl.link.uart import uart_divisor
from trifactor.hdl.store.data_store import order_memory_bits, order_placement
from trifactor.hdl.core.counters import counter_memory_bits, counter_placement

from ..util.checks import check_seed
from ..util.errors import UsageError
from ..util.output import write_atomic, write_json
from ..util.tables import markdown_table
from .synth import TARGETS, honour_no_rw_check, ice40_lut_mapping
from .toolchain import (achieved_fmax, cell_counts, does_not_fit, ff_count, lut_count, run_logged, utilization,
                        yowasp_tool)

PNR_REPORT = "nextpnr-report.json"
STAT = "stat.txt"
MARGIN = 0.05   # a default clock's Fmax must exceed it by this much in the measuring build
MAX_RUNS = 3    # place-and-routes a default build may take
LABELS = {"logic_cells": "logic cells", "dsps": "DSPs", "brams": "block RAMs", "sprams": "SPRAMs"}


def spram_memories(config, store_samples=0) -> list:
    """Bits of each memory a board build puts in SPRAM: the lane banks; or beside a data store, its order memory
    (:func:`hdl.store.data_store.order_placement`) and the counters (:func:`hdl.core.counters.counter_placement`).
    Empty: none."""
    if config.bank_placement == "spram":
        return [bank_bits(config)]
    memories = []
    if store_samples and order_placement(config, store_samples) == "spram":
        memories.append(order_memory_bits(store_samples))
    if counter_placement(config, store_samples) == "spram":
        memories.append(counter_memory_bits(config))
    return memories


def output_dir(board_name, config_name, store=False) -> Path:
    """The build's folder; ``store``: the core has a data store, a folder of its own (``<name>-store``: no
    configuration's name has a ``-``)."""
    return Path("build") / "boards" / board_name / (f"{config_name}-store" if store else config_name)


def bitstream_path(board_name, config_name, store=False) -> Path:
    return output_dir(board_name, config_name, store) / f"{config_name}{BOARDS[board_name].bitstream_suffix}"


def prepare(config, board_name, work: Path, *, clock_hz, seed=0, baud=1_000_000, store_samples=0,
            store_in="memory") -> list:
    """Extract the build plan for a ``clock_hz`` core clock into ``work``; returns its commands with each tool
    resolved to its yowasp binary."""
    board = BOARDS[board_name]
    overrides = {
        "script_after_synth": f"tee -q -o {STAT} stat",  # cell counts, as trifactor synth reads them
        # the PLL output's clock constraint sets the target; we judge timing ourselves, from the report
        "nextpnr_opts": f"--report {PNR_REPORT} --timing-allow-fail",
    }
    if board.family == "ice40":
        synth = TARGETS["up5k"]["synth"]  # trifactor synth's: -dsp, or the multipliers land in LUTs
        spram = spram_memories(config, store_samples)
        if spram:
            synth += " -spram"
            overrides["script_after_read"] = spram_yosys_commands(max(spram))
        # the platform's synth_ice40 runs up to the LUT mapping, which trifactor synth's commands do (for the routing)
        overrides["synth_opts"] = f"{synth.removeprefix('synth_ice40 ')} -run :map_luts"
        overrides["script_after_synth"] = "\n".join([*ice40_lut_mapping(synth, config.name),
                                                     overrides["script_after_synth"]])
    try:
        top = BoardTop(config, board_name, clock_hz=clock_hz, seed=seed, baud=baud, store_samples=store_samples,
                       store_in=store_in)
    except ValueError as exc:
        raise UsageError(f"{config.source}: {exc}", "change the configuration (see docs/configuration.md)") from None
    plan = board.platform().prepare(top, config.name, **overrides)
    plan.extract(work)
    design = work / f"{config.name}.il"
    design.write_text(honour_no_rw_check(design.read_text()))
    # the plan's JSON lists the commands of its shell script, each tool by its plain name
    # ("yosys", "nextpnr-ice40", "icepack", ...: what $YOSYS, $NEXTPNR_ICE40, ... default to)
    commands = json.loads((work / f"{plan.script}.json").read_text())["commands"]
    return [[yowasp_tool(f"yowasp-{tool}"), *args] for tool, *args in commands]


def _check_options(board, clock_mhz, seed, baud):
    """Refuse bad options before anything is built; returns the first build's PLL settings."""
    check_seed(seed)
    if baud < 1:
        raise UsageError(f"--baud {baud} is not a positive number", "use --baud 1000000 (the default) or 115200")
    lowest, highest = PLL_RANGES[board.family][1]
    try:
        pll = board.pll((board.aim_mhz if clock_mhz is None else clock_mhz) * 1e6)
    except ValueError:
        raise UsageError(f"--clock-mhz {clock_mhz:g}: the {board.name}'s PLL makes {lowest} to {highest} MHz",
                         f"use --clock-mhz {board.aim_mhz // 2}, or leave it out for the fastest clock the design "
                         "meets") from None
    try:
        uart_divisor(float(pll.f_out), baud)
    except ValueError as exc:
        raise UsageError(f"--baud {baud} on the {board.name} ({float(pll.f_out) / 1e6:g} MHz clock): {exc}",
                         "use --baud 1000000 (the default) or 115200") from None
    return pll


def build(config, board_name, *, clock_mhz=None, seed=0, baud=1_000_000, store_samples=0, store_in="memory",
          quiet=False) -> dict:
    """Run the board build at ``clock_mhz``, or at the clock chosen from a measured Fmax (None); returns the report
    (also written beside the bitstream). ``store_samples``: the core's data store (0: none)."""
    board = BOARDS[board_name]
    pll = _check_options(board, clock_mhz, seed, baud)
    out = output_dir(board_name, config.name, store=store_samples > 0)
    shutil.rmtree(out, ignore_errors=True)  # a previous build's bitstream must not outlive a failed one
    fix = "use fewer lanes or smaller layers" + (", or --board ulx3s-85f" if board.family == "ice40" else "")
    runs = []
    bar = tqdm(total=0, desc=f"build {config.name} {board_name}", unit="step", disable=quiet or None,
               leave=False, dynamic_ncols=True)
    with bar:
        while True:
            work = out / "work" / f"{float(pll.f_out) / 1e6:g}MHz"
            report = _run(config, board, pll, work, bar, fix, seed=seed, baud=baud, store_samples=store_samples,
                          store_in=store_in)
            runs.append({"clock_mhz": report["clock_mhz"], "fmax_mhz": report["fmax_mhz"],
                         "seconds": round(sum(report["seconds"].values()), 1)})
            wanted = report["clock_mhz"] * (1 + MARGIN if len(runs) == 1 else 1)
            if clock_mhz is not None or report["fmax_mhz"] >= wanted or len(runs) == MAX_RUNS:
                break  # asked for; the aim clock met with the margin; a rebuild that meets its clock; or enough
            pll = fastest_exact_clock(board.family, board.oscillator_hz, report["fmax_mhz"] / (1 + MARGIN) * 1e6)
            if pll is None:
                break  # slower than the PLL goes: refused below
    report["runs"] = runs
    report["clock_choice"] = (f"--clock-mhz {clock_mhz:g}" if clock_mhz is not None else
                              f"fastest whole MHz the PLL makes exactly with {MARGIN:.0%} margin")
    if not report["timing_met"]:
        lower = fastest_exact_clock(board.family, board.oscillator_hz, report["fmax_mhz"] * 1e6)
        slowest = ", and the PLL makes no whole MHz clock that slow" if lower is None else ""
        hint = f"--clock-mhz {float(lower.f_out) / 1e6:g} or less, or " if lower else ""
        raise UsageError(f"{config.name} on the {board.part} reaches {report['fmax_mhz']:.1f} MHz, below its "
                         f"{report['clock_mhz']:g} MHz clock{slowest}", f"{hint}{fix}; log: {report['logs']}")
    built = Path(report.pop("built"))
    write_atomic(report["bitstream"], lambda f: f.write(built.read_bytes()))
    write_json(out / "report.json", report)
    write_atomic(out / "report.md", lambda f: f.write(markdown(report).encode()))
    return report


def _run(config, board, pll, work: Path, bar, fix, *, seed, baud, store_samples, store_in) -> dict:
    """One build at ``pll``'s clock in ``work``: elaborate, then the plan's synthesis, place-and-route and packing."""
    work.mkdir(parents=True)
    seconds = {}
    bar.total += 4
    bar.refresh()
    bar.set_postfix_str(f"elaborate ({float(pll.f_out) / 1e6:g} MHz)")
    start = time.monotonic()
    commands = prepare(config, board.name, work, clock_hz=pll.f_out, seed=seed, baud=baud, store_samples=store_samples,
                       store_in=store_in)
    seconds["elaborate"] = time.monotonic() - start
    bar.update(1)
    for command in commands:
        tool = Path(command[0]).name.removeprefix("yowasp-")
        bar.set_postfix_str(f"{tool} ({float(pll.f_out) / 1e6:g} MHz)")
        start = time.monotonic()
        log = work / f"{tool}.log"
        result = run_logged(command, log, work)
        seconds[tool] = time.monotonic() - start
        if result.returncode != 0:
            if tool.startswith("nextpnr"):  # its full log (amaranth's --log) has the utilisation table
                full_log = work / f"{config.name}.tim"
                text = full_log.read_text() if full_log.exists() else result.stdout + result.stderr
                raise does_not_fit(config.name, board.part, text, f"{fix}; log: {full_log}")
            raise UsageError(f"{tool} failed building {config.name} for the {board.name}", f"see {log}")
        bar.update(1)
    return _report(config, board, pll, work, work / f"{config.name}{board.bitstream_suffix}", seconds,
                   seed=seed, baud=baud, store_samples=store_samples, store_in=store_in)


def _report(config, board, pll, work: Path, built: Path, seconds, *, seed, baud, store_samples, store_in) -> dict:
    cells = cell_counts((work / STAT).read_text())
    pnr = json.loads((work / PNR_REPORT).read_text())
    clock_mhz = float(pll.f_out) / 1e6
    fmax = achieved_fmax(pnr)
    return {
        "config": config.name, "board": board.name, "part": board.part, "seed": seed, "baud": baud,
        "store_samples": store_samples, "store_in": store_in if store_samples else None,
        "uart_divisor": uart_divisor(float(pll.f_out), baud),
        "luts": lut_count(cells), "ffs": ff_count(cells), "utilization": utilization(pnr, board.family),
        "oscillator_mhz": board.oscillator_hz / 1e6, "clock_mhz": clock_mhz, "pll": pll_fields(pll),
        "fmax_mhz": fmax, "margin": fmax / clock_mhz - 1, "timing_met": fmax >= clock_mhz,
        # what nextpnr timed the design against: the PLL output's constraint, derived from the oscillator's
        "pnr_constraint_mhz": min(clock["constraint"] for clock in pnr["fmax"].values()),
        "bitstream": str(bitstream_path(board.name, config.name, store=store_samples > 0)),
        "bitstream_bytes": built.stat().st_size,
        "built": str(built), "seconds": {step: round(s, 1) for step, s in seconds.items()},
        "logs": str(work), "cells": cells,
    }


def pll_fields(pll) -> dict:
    """The PLL's dividers by name, for the report."""
    return {name: value for name, value in vars(pll).items() if name != "f_in"}


def rows(report) -> list:
    """(name, value) pairs, shared by the terminal table and report.md."""
    result = [("LUTs", report["luts"]), ("FFs", report["ffs"])]
    for key, u in report["utilization"].items():
        share = f" ({100 * u['used'] / u['available']:.0f}%)" if u["available"] else ""
        result.append((LABELS[key], f"{u['used']} / {u['available']}{share}"))
    dividers = ", ".join(f"{name} {value}" for name, value in report["pll"].items())
    result += [("clock", f"{report['clock_mhz']:g} MHz from the {report['oscillator_mhz']:g} MHz oscillator's PLL "
                         f"({dividers}); {report['clock_choice']}"),
               ("Fmax", f"{report['fmax_mhz']:.1f} MHz, margin {report['margin']:+.0%}: "
                        f"timing {'met' if report['timing_met'] else 'NOT met'}"),
               ("builds", ", ".join(f"{run['fmax_mhz']:.1f} MHz Fmax at {run['clock_mhz']:g} MHz"
                                    for run in report["runs"])),
               ("data store", f"{report['store_samples']} samples in "
                              + ("the SPI flash (trifactor flash --data)" if report["store_in"] == "flash" else "memory")
                              if report["store_samples"] else "none"),
               ("bitstream", f"{report['bitstream']} ({report['bitstream_bytes']} bytes)"),
               ("build time", f"{sum(run['seconds'] for run in report['runs']):.0f} s")]
    return result


def markdown(report) -> str:
    return "\n".join([f"# {report['config']} on the {report['board']} ({report['part']})", "",
                      f"Seed {report['seed']}, host link at {report['baud']} baud (UART divisor "
                      f"{report['uart_divisor']} at {report['clock_mhz']:g} MHz).", "",
                      markdown_table(["", ""], rows(report))]) + "\n"
