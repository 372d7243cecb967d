"""``trifactor build``: a board's bitstream of the core and its host link, with a timing and resource report.

The flow itself (the build plan, the tools, the report) is :mod:`scripts.flow.board_build`.
"""

import trifactor
from trifactor.arguments import as_clock
from trifactor.golden.config import load_config
from trifactor.hdl.boards.board import BOARDS

from ..flow.board_build import output_dir, rows
from ..util.output import check_outputs, write_json
from ..util.tables import text_table


def add_arguments(parser):
    parser.add_argument("--config", required=True, help="TOML configuration")
    parser.add_argument("--board", required=True, choices=list(BOARDS))
    parser.add_argument("--clock-mhz", type=float, default=None,
                        help="core clock from the board's PLL (default: the fastest the design meets, measured)")
    parser.add_argument("--seed", type=int, default=0, help="initial weights: golden's FixedNet(config, seed), 0..4294967295 (default 0)")
    parser.add_argument("--baud", type=int, default=1_000_000, help="host link bit rate (default 1000000)")
    parser.add_argument("--store", metavar="DATASET", default=None,
                        help="give the core a data store that holds DATASET (train and test samples), so that "
                             "trifactor train --backend board stores it once and runs whole epochs on the board")
    parser.add_argument("--store-in", choices=("memory", "flash"), default=None,
                        help="where the store keeps the samples: the FPGA's memory (sent once by STORE) or the "
                             "board's SPI flash (written by trifactor flash --data); default: the flash on the "
                             "iCEBreaker, memory on the ULX3S")
    parser.add_argument("--json", metavar="PATH", help="also write the report here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args) -> int:
    as_clock(args.clock_mhz, "--clock-mhz")
    check_outputs({"--json": args.json})
    config = load_config(args.config)
    report = trifactor.build(config, args.board, clock_mhz=args.clock_mhz, seed=args.seed, baud=args.baud,
                             store=args.store, store_in=args.store_in, quiet=args.quiet)
    print(text_table(f"{report['config']} on the {report['board']}, {report['part']}", rows(report)))
    if args.json:
        write_json(args.json, report)
    store_in = report["store_in"]  # None: no data store
    print(f"report: {output_dir(args.board, config.name, store=store_in is not None) / 'report.md'}; "
          f"program it with: trifactor flash --board {args.board} --config {args.config}"
          + {"flash": f" --data {args.store}", "memory": " --store", None: ""}[store_in])
    return 0
