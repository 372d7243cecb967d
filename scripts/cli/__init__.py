"""The ``trifactor`` command: one subcommand per job; user errors become one line and exit code 2."""

import argparse
import os
import signal
import sys
import threading

from trifactor.golden.errors import TrifactorError

from . import bench, build, check, compare, demo, depth, flash, generate, measure, sweep, synth, train, units_report

COMMANDS = {
    "generate": (generate, "write the learner core as Verilog plus a JSON description"),
    "synth": (synth, "synthesise, place and route the core; resources, Fmax, samples/s"),
    "depth": (depth, "the logic levels in front of every register of a design trifactor synth mapped"),
    "build": (build, "build a board's bitstream (iCEBreaker, ULX3S) with a timing and resource report"),
    "flash": (flash, "program a board with the bitstream trifactor build made"),
    "train": (train, "train the float or fixed golden model, the core in RTL simulation, or a board, on a data set"),
    "check": (check, "train the core in RTL simulation beside golden and report the first sample where they differ"),
    "demo": (demo, "the default core trained in Verilator beside the golden models; writes build/report.md"),
    "bench": (bench, "measure accuracy and speed of the golden models over several seeds"),
    "compare": (compare, "learning rules side by side on one network: accuracy, cycles, MACs, memory traffic"),
    "sweep": (sweep, "many configurations at once on Dask: accuracy, cycles, resources, Fmax; cached, Pareto report"),
    "units-report": (units_report, "latency, throughput and cell counts of the RTL units (after make units)"),
    "measure": (measure, "re-measure the figures the README quotes into docs/measurements.md (--what PART)"),
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="trifactor", description="FPGA cores that learn on chip with sparse DFA.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return top


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill PID``, a CI cancel), raised like Ctrl-C so that every ``finally`` runs: simulator children
    are ended and half-written files removed."""


def _terminate(signum, frame):
    raise Terminated()


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()  # only there can signals be caught
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        status = COMMANDS[args.command][0].main(args)
        sys.stdout.flush()  # a reader gone (trifactor ... | head) raises here, not at exit
        return status
    except BrokenPipeError:  # quiet, as https://docs.python.org/3/library/signal.html#note-on-sigpipe does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the flush at exit cannot fail again
        return 1
    except TrifactorError as exc:  # ConfigError, DataError, UsageError: the problem and the fix
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
