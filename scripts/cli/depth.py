"""``trifactor depth``: the logic levels in front of every register of a design ``trifactor synth`` mapped.

nextpnr names one critical path per seed; this lists every path at ``--levels`` or more (:mod:`scripts.flow.depth`),
from the ``top.json`` Yosys left in ``build/synth/<name>-<target>/`` (or ``build/measure/synth/<job>/``,
``build/measure/variants/<job>/``), or a board build's ``build/boards/<board>/<name>/work/<clock>/<name>.json``.
"""

import json
from pathlib import Path

from ..flow.depth import DEEP_LEVELS, census, deep_groups
from ..util.errors import UsageError


def add_arguments(parser):
    parser.add_argument("netlist", help="the mapped design: build/synth/<name>-<target>/top.json of trifactor synth, "
                                        "or build/boards/<board>/<name>/work/<clock>/<name>.json of trifactor build")
    parser.add_argument("--levels", type=float, default=DEEP_LEVELS,
                        help=f"list the paths this deep or deeper (default {DEEP_LEVELS})")
    parser.add_argument("--paths", action="store_true", help="print each group's deepest path, signal by signal")


def main(args) -> int:
    try:
        groups = deep_groups(census(json.loads(Path(args.netlist).read_text())), args.levels)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"cannot read {args.netlist} as a mapped Yosys netlist ({type(exc).__name__}: {exc})",
                         "give the top.json that trifactor synth leaves in build/synth/<name>-<target>/") from None
    print(f"{sum(g.endpoints for g in groups)} endpoints at {args.levels:g} logic levels or more, "
          f"in {len(groups)} groups (start -> end register)")
    for g in groups:
        print(f"{g.levels:5.2f}  x{g.endpoints:<4d} {g.start} -> {g.end}")
        if args.paths:
            print("".join(f"{'':14}{signal}\n" for signal in g.path), end="")
    return 0
