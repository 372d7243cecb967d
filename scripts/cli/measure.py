"""``trifactor measure``: re-measure the figures the README quotes and write them to docs/measurements.md.

    trifactor measure                       # every part, one after another (hours: synthesis and board builds)
    trifactor measure --what synth          # one part: its section is replaced, the others kept
    trifactor measure --what accuracy,cycles
    trifactor measure --what conv           # the convolutional networks (about 15 minutes)
    trifactor measure --what variants       # what learned feedback and convolutions cost in synthesis (about an hour)

The parts and what they compose are in :mod:`scripts.measure`; this module only reads the arguments.
"""

import shlex

from ..measure import DOCUMENT, PARTS, measure, parse_parts
from ..measure.document import check_document


def add_arguments(parser):
    parser.add_argument("--what", action="append", metavar="PART",
                        help=f"the part(s) to measure: {', '.join(PARTS)}, or all (the default); repeatable, or "
                             "comma-separated")
    parser.add_argument("--out", default=str(DOCUMENT), help=f"the measurements file (default {DOCUMENT})")
    parser.add_argument("--seeds", type=int, default=3,
                        help="accuracy, learned, conv: training seeds, synth, variants: place-and-route seeds, 0..N-1 "
                             "(default 3)")
    parser.add_argument("--epochs", type=int, help="accuracy, learned, conv: epochs, 1..100000 (default: each configuration's)")
    parser.add_argument("--runs", type=int, default=3, help="speed: timed runs per backend (default 3)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines or bars")


def command_line(args) -> str:
    """The command that measures a part again as this one did (``--what`` is added per part)."""
    words = ["trifactor", "measure"]
    if args.out != str(DOCUMENT):
        words += ["--out", args.out]
    for option, default in (("seeds", 3), ("epochs", None), ("runs", 3)):
        if getattr(args, option) != default:
            words += [f"--{option}", str(getattr(args, option))]
    return shlex.join(words)


def main(args) -> int:
    parts = parse_parts(args.what)
    check_document(args.out)
    done = measure(parts, args.out, command=command_line(args), seeds=args.seeds, epochs=args.epochs, runs=args.runs,
                   quiet=args.quiet)
    for part, result in done.items():
        print(f"{part}: measured in {result['provenance']['seconds'] / 60:.1f} min")
    print(f"wrote {args.out} ({', '.join(done)}) and build/measure/<part>.json")
    return 0
