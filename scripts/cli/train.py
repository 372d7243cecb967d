"""``trifactor train``: train one backend on one data set, with a progress bar; optional JSON and weights."""

import numpy as np

import trifactor
from trifactor.golden.config import load_config
from trifactor.training import BOARD, SIMULATED

from ..util.checks import check_count, check_seed
from ..util.errors import UsageError
from ..util.output import check_outputs, json_writer, npz_writer, write_all


def add_arguments(parser):
    parser.add_argument("--backend", required=True, choices=sorted(trifactor.BACKENDS),
                        help="float or fixed golden model; rtl: the core in Verilator; board-sim: the board top "
                             "(UART host link included) in Verilator; board: a board on --port")
    parser.add_argument("--config", required=True, help="TOML configuration (e.g. configs/digits.toml)")
    parser.add_argument("--dataset", help="digits | mnist5k | idx:DIR | npz:PATH | csv:PATH "
                                          "(default: the config's [data] dataset)")
    parser.add_argument("--label-column", metavar="N|NAME",
                        help="csv: the label's column, a number (0 the first, -1 the last) or a header name "
                             "(default: the last)")
    parser.add_argument("--epochs", type=int, help="passes over the training set (default: [training] epochs)")
    parser.add_argument("--seed", type=int, default=0, help="weight initialisation and data order (default 0)")
    parser.add_argument("--json", metavar="PATH", help="write accuracies, history and the resolved config here")
    parser.add_argument("--save-weights", metavar="PATH.npz", help="write W0, b0, W1, b1, ... here")
    parser.add_argument("--port", help="--backend board: the serial port (e.g. /dev/ttyUSB1)")
    parser.add_argument("--baud", type=int, default=1_000_000, help="--backend board: UART bit rate (default 1000000)")
    parser.add_argument("--per-sample", action="store_true",
                        help="rtl, board-sim: send every sample from the host through cocotb (the path the tests "
                             "check sample by sample), instead of storing the data set in the simulated core and "
                             "letting it run each epoch by itself in the native simulator (the default); board: "
                             "TRAIN requests even when the board's core has a data store")
    parser.add_argument("--store-in", choices=("memory", "flash"), default="memory",
                        help="board-sim: keep the data set in the simulated board's block RAM (default) or in its "
                             "SPI flash (a W25Q128JV model, filled as trifactor flash --data fills a board's)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def cost_table(costs: dict) -> str:
    """``costs_per_sample`` (:func:`scripts.host.model.costs_per_sample`) as a small table: a row per pass."""
    events = list(dict.fromkeys(event for by_event in costs.values() for event in by_event))
    width, first = max(len(event) for event in events) + 2, max(len(pass_) for pass_ in costs) + 2
    lines = ["costs per training sample (core counters):", "pass".ljust(first) + "".join(e.rjust(width) for e in events)]
    for pass_, by_event in costs.items():
        cells = (f"{by_event[event]:.1f}" if event in by_event else "-" for event in events)
        lines.append(pass_.ljust(first) + "".join(cell.rjust(width) for cell in cells))
    return "\n".join(lines)


def throughput_line(result: dict, baud: int) -> str:
    """``result["throughput"]`` (:func:`trifactor.training.throughput`) as one line."""
    parts = []
    for name, figures in result["throughput"].items():
        stored = f"{figures['stored']:.0f} from the data store, " if "stored" in figures else ""
        parts.append(f"{name} at {figures['clock_hz'] / 1e6:g} MHz ({figures['clock']}): {stored}"
                     f"{figures['per_sample_link']:.0f} per sample over the UART at {baud} baud")
    return "training samples/s (core counters): " + "; ".join(parts)


def main(args) -> int:
    check_count(args.epochs, "--epochs")
    check_seed(args.seed)
    check_count(args.baud, "--baud")
    check_outputs({"--json": args.json, "--save-weights": args.save_weights})
    if args.backend == BOARD and not args.port:
        raise UsageError("--backend board needs --port", "name the board's serial port, e.g. --port /dev/ttyUSB1")
    config = load_config(args.config)
    data = trifactor.datasets.load(config, args.dataset, label_column=args.label_column)
    run = trifactor.train(config, data, backend=args.backend, epochs=args.epochs, seed=args.seed,
                          per_sample=args.per_sample, store_in=args.store_in, port=args.port, baud=args.baud, quiet=args.quiet)
    result, hardware = run.result, args.backend in (*SIMULATED, BOARD)
    for epoch, accuracy in enumerate(result["history"], 1):
        print(f"epoch {epoch:3d}  test accuracy {accuracy:.4f}")
    print(f"{args.backend} {config.rule} on {run.dataset}: test {result['test_accuracy']:.4f}, "
          f"train {result['train_accuracy']:.4f}, {np.median(result['epoch_seconds']):.2f} s/epoch (median)")
    if hardware:
        print(f"core: {result['cycles_per_sample']:.1f} cycles per training sample, roofline "
              f"{result['roofline_cycles_per_sample']:.1f} ({result['cycles_per_sample'] / result['roofline_cycles_per_sample']:.3f}x), "
              f"MAC utilization {result['mac_utilization']:.3f}; zero skipping "
              f"{'on, ' + format(result['macs_skipped_per_sample'] / result['macs_per_sample'], '.1%') + ' of MACs skipped' if config.zero_skipping else 'off'}")
        print(throughput_line(result, args.baud))
        if "costs_per_sample" in result:  # [hardware] cost_counters
            print(cost_table(result["costs_per_sample"]))
    outputs = {args.save_weights: npz_writer(run.weights)} if args.save_weights else {}
    if args.json:
        outputs[args.json] = json_writer(run.record())
    write_all(outputs)  # both or neither
    return 0
