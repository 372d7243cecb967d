"""``trifactor synth``: synthesis and place-and-route of the core with the yowasp tools, and what they report.

The core is measured inside :class:`hdl.boards.synth_top.MeasurementTop` (inputs from registers,
outputs into a register, three pins), so the figures are the core's own. Yosys maps it
once; nextpnr places and routes it once per seed. The report has the resources against
the part's, the median Fmax over seeds, and samples/s = Fmax / cycles per sample. The
cycles come from the dense MAC issue count of ``trifactor generate``, or, with
``--cycles-from``, from a run of the core itself (``trifactor train --backend rtl --json``):
the measured core runs above the dense count with many lanes and few neurons, below it
with zero skipping. Logs stay under ``build/synth/<name>-<target>/``.
"""

from pathlib import Path

import trifactor
from trifactor.golden.config import load_config
from trifactor.hardware import TARGETS

from ..util.checks import check_seed_count
from ..util.output import check_outputs, write_json
from ..util.tables import text_table


def add_arguments(parser):
    parser.add_argument("--config", required=True, help="TOML configuration")
    parser.add_argument("--target", required=True, choices=sorted(TARGETS))
    parser.add_argument("--seeds", type=int, default=3, help="place-and-route seeds; Fmax is their median (default 3)")
    parser.add_argument("--json", metavar="PATH", help="also write the report here")
    parser.add_argument("--cycles-from", metavar="PATH",
                        help="samples/s from the cycles per training sample measured in this JSON of "
                             "trifactor train --backend rtl|board-sim|board (default: the dense MAC count)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def table(report) -> str:
    rows = [("LUTs", report["luts"]), ("FFs", report["ffs"])]
    rows += [(key.replace("_", " "), f"{u['used']} / {u['available']}") for key, u in report["utilization"].items()]
    rows += [("Fmax (median of %d seeds)" % report["seeds"], f"{report['fmax_mhz']:.1f} MHz "
              f"({', '.join(f'{f:.1f}' for f in report['fmax_mhz_per_seed'])}; target {report['target_mhz']})"),
             ("weight banks", report["banks"]),
             ("cycles per training sample", f"{report['cycles_per_sample']:.6g} ({report['cycles_basis']})"),
             ("samples / s", f"{report['samples_per_s']:.0f}")]
    deep = report["logic_depth"]
    rows.append(("logic levels (LUTs)", f"{deep['deepest']:.3g} deepest; {deep['endpoints']} register inputs at "
                 f"{deep['at_least']} or more, from {deep['groups']} start/end register pairs"))
    rows += [("", f"{g['levels']:.3g}: {g['start']} -> {g['end']} (x{g['endpoints']})") for g in deep["deepest_groups"]]
    if "mapping" in report:
        rows.append(("mapping", report["mapping"]))
    return text_table(f"{report['config']} on {report['part']}", rows)


def main(args) -> int:
    check_seed_count(args.seeds)
    check_outputs({"--json": args.json})
    config = load_config(args.config)
    report = trifactor.synth(config, args.target, seeds=args.seeds, cycles_from=args.cycles_from, quiet=args.quiet)
    print(table(report))
    if args.json:
        write_json(args.json, report)
    print(f"logs and report: {Path('build') / 'synth' / f'{config.name}-{args.target}'}")
    return 0
