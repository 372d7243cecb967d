"""``trifactor train``: train one backend on one data set, with a progress bar; optional JSON and weights."""

import numpy as np

import trifactor
from trifactor.golden.config import load_config
from trifactor.training import BOARD, SIMULATED

from ..util.checks import check_count, check_epochs, check_seed
from ..util.errors import UsageError
from ..util.output import check_outputs, check_waveform, json_writer, npz_writer, write_all
from . import check


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
    parser.add_argument("--epochs", type=int, help="passes over the training set, 1..100000 (default: [training] epochs)")
    parser.add_argument("--seed", type=int, default=0,
                        help="weight initialisation and data order, 0..4294967295 (default 0)")
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
    parser.add_argument("--trace", metavar="PATH.fst",
                        help="rtl, board-sim: write an FST waveform of every signal of the simulated core or board "
                             "(Verilator --trace-fst; a build of its own, slower) to PATH.fst, in a folder that "
                             "exists; open it with gtkwave PATH or surfer PATH")
    parser.add_argument("--trace-samples", metavar="A:B",
                        help="with --trace: training samples A..B-1 (or A alone), counted from 0 over the whole "
                             "run in training order (epoch e's k-th sample is e * training samples + k); a digits "
                             "sample is about 440 KB of FST (default: the first 100 samples)")
    parser.add_argument("--check", action="store_true",
                        help="rtl: train beside golden and stop at the first sample where they differ, with a report "
                             "(what trifactor check does; --trace then holds that sample)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    check.add_fault_argument(parser)


def sample_range(text: str, option: str = "--trace-samples") -> tuple:
    """``A:B`` (or ``A``, which is ``A:A+1``) as ``(A, B)``; a :class:`UsageError` unless ``0 <= A < B``."""
    first, _, end = text.partition(":")
    fix = f"give {option} A:B with whole numbers 0 <= A < B, e.g. {option} 2:4 (samples 2 and 3)"
    if not first.isdigit() or end and not end.isdigit() or not end and ":" in text:
        raise UsageError(f"{option} {text} is not a range A:B of training samples", fix)
    first, end = int(first), int(end) if end else int(first) + 1
    if end <= first:
        raise UsageError(f"{option} {text} holds no sample (its end is not after its start)", fix)
    return first, end


def check_trace_options(args):
    """The trace and check options against the backend and each other, before any work."""
    if args.trace_samples and not args.trace:
        raise UsageError("--trace-samples chooses the samples of a --trace", "add --trace PATH.fst")
    if args.trace and args.backend not in SIMULATED:
        raise UsageError(f"--trace is for the simulated backends, not --backend {args.backend}",
                         "use --backend rtl or board-sim")
    if args.check:
        if args.backend != "rtl" or args.per_sample:
            raise UsageError(f"--check runs the core in the native simulator, not --backend {args.backend}"
                             f"{' --per-sample' if args.per_sample else ''}", "use --backend rtl without --per-sample")
        for option, given in (("--save-weights", args.save_weights), ("--trace-samples", args.trace_samples)):
            if given:
                raise UsageError(f"--check does not take {option}", f"drop {option} (--check traces the first "
                                 "diverging sample, and keeps no weights)")
    elif args.inject_fault:
        raise UsageError("--inject-fault is for --check", "add --check")
    if args.trace:
        check_waveform(args.trace)
    return sample_range(args.trace_samples) if args.trace_samples else None


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


def trace_line(trace: dict) -> str:
    """``result["trace"]`` as one line: where the waveform is and when its samples ran in it."""
    first, end = trace["samples"]
    which = f"training sample {first}" if end == first + 1 else f"training samples {first}..{end - 1}"
    return (f"trace: {trace['path']} holds {which}, from {trace['start_ns']:,.0f} ns to {trace['end_ns']:,.0f} ns "
            f"({trace['period_ns']} ns a clock cycle); open it with gtkwave {trace['path']} or surfer {trace['path']}")


def main(args) -> int:
    check_epochs(args.epochs)
    check_seed(args.seed)
    check_count(args.baud, "--baud")
    check_outputs({"--json": args.json, "--save-weights": args.save_weights, "--trace": args.trace})
    if args.backend == BOARD and not args.port:
        raise UsageError("--backend board needs --port", "name the board's serial port, e.g. --port /dev/ttyUSB1")
    samples = check_trace_options(args)
    config = load_config(args.config)
    data = trifactor.datasets.load(config, args.dataset, label_column=args.label_column)
    if args.check:
        return check.run_check(config, data, epochs=args.epochs, seed=args.seed, trace=args.trace,
                               json_path=args.json, quiet=args.quiet, fault=args.inject_fault)
    total = (args.epochs or config.epochs) * len(data.y_train)
    if samples and samples[1] > total:
        raise UsageError(f"--trace-samples {args.trace_samples} goes past the run's {total} training samples "
                         f"(0..{total - 1})", f"give --trace-samples A:B with B <= {total}")
    run = trifactor.train(config, data, backend=args.backend, epochs=args.epochs, seed=args.seed,
                          per_sample=args.per_sample, store_in=args.store_in, port=args.port, baud=args.baud,
                          quiet=args.quiet, trace=args.trace, trace_samples=samples)
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
        if "trace" in result:
            print(trace_line(result["trace"]))
    outputs = {args.save_weights: npz_writer(run.weights)} if args.save_weights else {}
    if args.json:
        outputs[args.json] = json_writer(run.record())
    write_all(outputs)  # both or neither
    return 0
