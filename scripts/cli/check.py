"""``trifactor check``: the core beside golden, sample by sample, to the first divergence (also ``train --check``)."""

import argparse

import trifactor
from trifactor.golden.config import load_config

from ..util.checks import check_epochs, check_seed
from ..util.output import check_outputs, check_waveform, json_writer, write_all

HELP_TRACE = ("write an FST waveform of the first diverging sample (every signal of the core, Verilator "
              "--trace-fst, a build of its own) to PATH.fst, in a folder that exists; open it with gtkwave PATH or "
              "surfer PATH")


def add_arguments(parser):
    parser.add_argument("config", metavar="CONFIG", help="TOML configuration (e.g. configs/digits.toml)")
    parser.add_argument("--dataset", help="digits | mnist5k | idx:DIR | npz:PATH | csv:PATH "
                                          "(default: the config's [data] dataset)")
    parser.add_argument("--label-column", metavar="N|NAME", help="csv: the label's column (default: the last)")
    parser.add_argument("--epochs", type=int, help="passes over the training set, 1..100000 (default: [training] epochs)")
    parser.add_argument("--seed", type=int, default=0,
                        help="weight initialisation and data order, 0..4294967295 (default 0)")
    parser.add_argument("--trace", metavar="PATH.fst", help=HELP_TRACE)
    parser.add_argument("--json", metavar="PATH", help="write the report here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_fault_argument(parser)
    parser.description = (
        "Train the core (--backend rtl's, with a data store, in the native Verilator simulator) beside golden's "
        "bit-exact fixed model, compare after every sample (the weights are read back; the prediction too) and "
        "stop at the first divergence: the sample, the pass (forward or update), the layer, neuron and input, "
        "golden's value and the hardware's, golden's intermediates for that neuron. Exit code 0 when every sample "
        "matched, 1 at a divergence, 2 for a bad argument.")


def add_fault_argument(parser):
    """``--inject-fault``: for tests, a core broken on purpose (hdl/core/update_unit.py FAULTS); not in --help."""
    parser.add_argument("--inject-fault", metavar="FAULT", help=argparse.SUPPRESS)


def run_check(config, data, *, epochs, seed, trace, json_path, quiet, fault) -> int:
    """Run the check and print its report; 0 when every sample matched, 1 at a divergence."""
    from ..sim.check import check_core, report_text

    epochs = epochs or config.epochs
    report = check_core(config, data, epochs, seed, fault=fault, trace=trace, quiet=quiet)
    print(report_text(report, config, data.name, seed, epochs))
    if json_path:
        record = {"dataset": data.name, "seed": seed, "epochs": epochs, **report, "config": config.to_dict()}
        write_all({json_path: json_writer(record)})
    return 0 if report["divergence"] is None else 1


def main(args) -> int:
    check_epochs(args.epochs)
    check_seed(args.seed)
    check_outputs({"--json": args.json, "--trace": args.trace})
    if args.trace:
        check_waveform(args.trace)
    config = load_config(args.config)
    data = trifactor.datasets.load(config, args.dataset, label_column=args.label_column)
    return run_check(config, data, epochs=args.epochs, seed=args.seed, trace=args.trace, json_path=args.json,
                     quiet=args.quiet, fault=args.inject_fault)
