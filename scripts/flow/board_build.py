"""The board build flow of ``trifactor build``: a board's bitstream of the core and its host link, with a timing and resource report.

Amaranth's platform prepares the build plan (RTLIL, the pin constraints, the tool
commands, see :class:`hdl.board.BoardTop`); each of its commands then runs here on the
yowasp tools, one at a time, so there is a progress bar, a log per tool and one clear
line when something fails. (``platform.build()`` would refuse the ULX3S without
openFPGALoader, which only programming needs, and ``execute_local`` prints the tools'
output on the terminal.)

Everything lands in ``build/boards/<board>/<config name>/``: the bitstream, ``report.json``
and ``report.md`` once the build succeeded, the plan and the tool logs under ``work/``.
A failed build leaves no bitstream or report there.
"""

import json
import shutil
import time
from pathlib import Path

from tqdm import tqdm

from trifactor.hdl.board import BOARDS, BoardTop
from trifactor.hdl.lane_banks import spram_yosys_commands
from trifactor.hdl.uart import uart_divisor

from ..util.checks import check_seed
from ..util.errors import UsageError
from ..util.output import write_atomic, write_json
from ..util.tables import markdown_table
from .toolchain import (achieved_fmax, cell_counts, does_not_fit, ff_count, lut_count, run_logged, utilization,
                        yowasp_tool)

PNR_REPORT = "nextpnr-report.json"
STAT = "stat.txt"
LABELS = {"logic_cells": "logic cells", "dsps": "DSPs", "brams": "block RAMs", "sprams": "SPRAMs"}


def output_dir(board_name, config_name) -> Path:
    return Path("build") / "boards" / board_name / config_name


def bitstream_path(board_name, config_name) -> Path:
    return output_dir(board_name, config_name) / f"{config_name}{BOARDS[board_name].bitstream_suffix}"


def prepare(config, board_name, work: Path, *, seed=0, baud=1_000_000) -> list:
    """Extract the build plan into ``work``; returns its commands with each tool resolved to its yowasp binary."""
    board = BOARDS[board_name]
    overrides = {
        "script_after_synth": f"tee -q -o {STAT} stat",  # cell counts, as trifactor synth reads them
        # the platform's clock constraint sets the target; we judge timing ourselves, from the report
        "nextpnr_opts": f"--report {PNR_REPORT} --timing-allow-fail",
    }
    if board.family == "ice40":
        overrides["synth_opts"] = "-dsp"  # otherwise the multipliers land in LUTs
        if config.bank_placement == "spram":
            overrides["synth_opts"] += " -spram"
            overrides["script_after_read"] = spram_yosys_commands(config)
    try:
        top = BoardTop(config, board_name, seed=seed, baud=baud)
    except ValueError as exc:
        raise UsageError(f"{config.source}: {exc}", "change the configuration (see docs/configuration.md)") from None
    plan = board.platform().prepare(top, config.name, **overrides)
    plan.extract(work)
    # the plan's JSON lists the commands of its shell script, each tool by its plain name
    # ("yosys", "nextpnr-ice40", "icepack", ...: what $YOSYS, $NEXTPNR_ICE40, ... default to)
    commands = json.loads((work / f"{plan.script}.json").read_text())["commands"]
    return [[yowasp_tool(f"yowasp-{tool}"), *args] for tool, *args in commands]


def _check_options(board, seed, baud):
    check_seed(seed)
    if baud < 1:
        raise UsageError(f"--baud {baud} is not a positive number", "use --baud 1000000 (the default) or 115200")
    try:
        uart_divisor(board.clock_hz, baud)
    except ValueError as exc:
        raise UsageError(f"--baud {baud} on the {board.name} ({board.clock_hz / 1e6:g} MHz clock): {exc}",
                         "use --baud 1000000 (the default) or 115200") from None


def build(config, board_name, *, seed=0, baud=1_000_000, quiet=False) -> dict:
    """Run the board build; returns the report (also written beside the bitstream)."""
    board = BOARDS[board_name]
    _check_options(board, seed, baud)
    out = output_dir(board_name, config.name)
    work = out / "work"
    shutil.rmtree(out, ignore_errors=True)  # a previous build's bitstream must not outlive a failed one
    work.mkdir(parents=True)
    fix = "use fewer lanes or smaller layers" + (", or --board ulx3s-85f" if board.family == "ice40" else "")
    seconds = {}
    bar = tqdm(total=4, desc=f"build {config.name} {board_name}", unit="step", disable=quiet or None,
               leave=False, dynamic_ncols=True)
    with bar:  # four steps: elaborate, then the plan's synthesis, place-and-route and packing
        bar.set_postfix_str("elaborate")
        start = time.monotonic()
        commands = prepare(config, board_name, work, seed=seed, baud=baud)
        seconds["elaborate"] = time.monotonic() - start
        bar.update(1)
        for command in commands:
            tool = Path(command[0]).name.removeprefix("yowasp-")
            bar.set_postfix_str(tool)
            start = time.monotonic()
            log = work / f"{tool}.log"
            result = run_logged(command, log, work)
            seconds[tool] = time.monotonic() - start
            if result.returncode != 0:
                if tool.startswith("nextpnr"):  # its full log (amaranth's --log) has the utilisation table
                    full_log = work / f"{config.name}.tim"
                    text = full_log.read_text() if full_log.exists() else result.stdout + result.stderr
                    raise does_not_fit(config.name, board.part, text, f"{fix}; log: {full_log}")
                raise UsageError(f"{tool} failed building {config.name} for the {board_name}", f"see {log}")
            bar.update(1)
    built = work / f"{config.name}{board.bitstream_suffix}"
    report = _report(config, board, work, built, seconds, seed=seed, baud=baud)
    if not report["timing_met"]:
        raise UsageError(f"{config.name} on the {board.part} reaches {report['fmax_mhz']:.1f} MHz, below the board's "
                         f"{report['clock_mhz']:g} MHz clock", f"{fix}; log: {work}")
    write_atomic(report["bitstream"], lambda f: f.write(built.read_bytes()))
    write_json(out / "report.json", report)
    write_atomic(out / "report.md", lambda f: f.write(markdown(report).encode()))
    return report


def _report(config, board, work: Path, built: Path, seconds, *, seed, baud) -> dict:
    cells = cell_counts((work / STAT).read_text())
    pnr = json.loads((work / PNR_REPORT).read_text())
    clock_mhz = board.clock_hz / 1e6
    fmax = achieved_fmax(pnr)
    return {
        "config": config.name, "board": board.name, "part": board.part, "seed": seed, "baud": baud,
        "luts": lut_count(cells), "ffs": ff_count(cells), "utilization": utilization(pnr, board.family),
        "clock_mhz": clock_mhz, "fmax_mhz": fmax, "timing_met": fmax >= clock_mhz,
        "bitstream": str(bitstream_path(board.name, config.name)), "bitstream_bytes": built.stat().st_size,
        "seconds": {step: round(s, 1) for step, s in seconds.items()},
        "logs": str(work), "cells": cells,
    }


def rows(report) -> list:
    """(name, value) pairs, shared by the terminal table and report.md."""
    result = [("LUTs", report["luts"]), ("FFs", report["ffs"])]
    for key, u in report["utilization"].items():
        share = f" ({100 * u['used'] / u['available']:.0f}%)" if u["available"] else ""
        result.append((LABELS[key], f"{u['used']} / {u['available']}{share}"))
    result += [("Fmax", f"{report['fmax_mhz']:.1f} MHz (board clock {report['clock_mhz']:g} MHz: "
                        f"timing {'met' if report['timing_met'] else 'NOT met'})"),
               ("bitstream", f"{report['bitstream']} ({report['bitstream_bytes']} bytes)"),
               ("build time", f"{sum(report['seconds'].values()):.0f} s")]
    return result


def markdown(report) -> str:
    return "\n".join([f"# {report['config']} on the {report['board']} ({report['part']})", "",
                      f"Seed {report['seed']}, host link at {report['baud']} baud.", "",
                      markdown_table(["", ""], rows(report))]) + "\n"
