"""``trifactor demo``: the main job. The default core trained in RTL simulation beside the golden models.

Generates the core, trains it in Verilator from its data store (the native path of ``trifactor
train --backend rtl``: every epoch runs in the simulated core, no Python per sample) for the
configuration's epochs, trains the fixed and float golden models with the same seed and data
order, prints the three accuracy curves side by side, checks that the hardware's weights equal
the fixed model's bit for bit, and ends with what the core costs on the iCEBreaker: the UP5K
synthesis of the same core (one place-and-route seed), which runs in a process of its own beside
the simulation. Writes ``build/report.md`` with a learning-curve plot, the cycles per sample
against the roofline and the UP5K figures.
"""

import contextlib
import json
import sys
from pathlib import Path

import numpy as np

from trifactor.golden.config import load_config
from trifactor.golden.train import load_data
from trifactor.training import run_training

from ..flow.core_files import generate
from ..sim import runner
from ..sim.backend import train_native
from ..util.checks import check_epochs, check_given, check_seed
from ..util.errors import UsageError
from ..util.machine import machine_info
from ..util.network import network_text
from ..util.output import check_folder, write_atomic, write_json
from ..util.plots import learning_curves
from ..util.tables import markdown_table

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "digits.toml"


def add_arguments(parser):
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="TOML configuration (default: configs/digits.toml)")
    parser.add_argument("--epochs", type=int, help="epochs for all three models, 1..100000 (default: the configuration's, 10)")
    parser.add_argument("--seed", type=int, default=0, help="initial weights and data order, 0..4294967295 (default 0)")
    parser.add_argument("--out", default="build", help="folder for the core, report.md and the plot (default build)")
    parser.add_argument("--no-synth", dest="synth", action="store_false",
                        help="skip the UP5K synthesis (the core's logic cells and Fmax on the iCEBreaker's part)")


def _report(config, split, results, budget, weights_equal, seed, machine, synth):
    rtl = results["rtl"]
    ratio = rtl["cycles_per_sample"] / budget["roofline"]
    accuracy = markdown_table(["epoch", "float golden", "fixed golden", "RTL (Verilator)"],
                              [(e + 1, *(f"{100 * results[b]['history'][e]:.2f}" for b in ("float", "fixed", "rtl")))
                               for e in range(len(rtl["history"]))])
    cycles = markdown_table(["", "cycles"], [
        (f"measured (core counters, zero skipping {'on' if config.zero_skipping else 'off'})",
         f"{rtl['cycles_per_sample']:.1f}"),
        ("MAC issue cycles (forward + update, padded lanes included)", budget["mac_issue_cycles"]),
        ("roofline: (forward + update MACs) / lanes", f"{budget['roofline']:.1f}"),
        ("measured / roofline", f"{ratio:.3f}"),
        ("MAC utilization (MACs done / (cycles x lanes))", f"{rtl['mac_utilization']:.3f}"),
        ("MACs skipped (zero input or zero delta group)", f"{rtl['macs_skipped_per_sample'] / budget['macs_per_sample']:.1%}"),
    ])
    return f"""# trifactor demo: {config.name}

{network_text(config)} {config.activation}, {config.loss}, {config.rule} k={config.nonzeros_per_row}, \
{config.lanes} lanes; {split.name}: {len(split.y_train)} train / {len(split.y_test)} test samples; seed {seed}.
Machine: {machine['cpu']}, {machine['cores']} cores.

## Test accuracy (%) per epoch

{accuracy}

RTL weights after training equal the fixed golden model's, bit for bit: **{'yes' if weights_equal else 'NO'}**.

![learning curves](learning_curves.png)

## Cycles per training sample

{cycles}

RTL simulation (native Verilator, epochs from the data store): {np.median(rtl['epoch_seconds']):.2f} s per epoch \
(median of {len(rtl['epoch_seconds'])}).

## On the iCEBreaker (UP5K)

{_synth_text(synth)}
"""


def _synth_text(synth) -> str:
    if synth is None:
        return "Not synthesised (--no-synth)."
    if "error" in synth:
        return f"The synthesis failed: {synth['error']}"
    cells = synth["utilization"]["logic_cells"]
    return (f"{cells['used']} of {cells['available']} logic cells ({cells['used'] / cells['available']:.0%}), "
            f"Fmax {synth['fmax_mhz']:.1f} MHz (one place-and-route seed; `trifactor synth --seeds 3` gives the "
            f"median of three), {synth['samples_per_s']:.0f} training samples/s at that clock.")


class UP5KSynthesis:
    """``trifactor synth --target up5k --seeds 1`` of the demo's configuration in a process group of its own
    (:func:`scripts.sim.runner.apart`), beside the simulation: the machine's second core does it."""

    def __init__(self, config_path: str, out: Path):
        self.report, self.log = out / "synth-up5k.json", out / "synth-up5k.log"
        self.command = [sys.executable, "-c", "import sys; from trifactor.scripts.cli import main; sys.exit(main())",
                        "synth", "--config", config_path, "--target", "up5k", "--seeds", "1", "--quiet",
                        "--json", str(self.report)]

    def __enter__(self):
        self.report.unlink(missing_ok=True)
        self._apart = runner.apart(self.command, self.log)
        self.child = self._apart.__enter__()
        return self

    def result(self) -> dict:
        """Wait for the synthesis; its report, or ``{"error": ...}`` naming the log."""
        if self.child.wait() != 0 or not self.report.exists():
            lines = [line for line in self.log.read_text().splitlines() if line.strip()]
            return {"error": f"{lines[-1] if lines else 'no output'} (see {self.log})"}
        return json.loads(self.report.read_text())

    def __exit__(self, *exc):
        return self._apart.__exit__(*exc)


def main(args) -> int:
    check_given(args.out, "--out")
    check_epochs(args.epochs)
    check_seed(args.seed)
    out = Path(args.out)
    check_folder(out, "--out")
    config = load_config(args.config)
    config.check_hardware()
    split = load_data(config)
    epochs = args.epochs or config.epochs
    v_path, j_path = generate(config, out / config.name, args.seed)
    print(f"generated {v_path} and {j_path}")
    print(f"{config.name}: {network_text(config)} {config.activation}, {config.loss}, {config.rule} "
          f"k={config.nonzeros_per_row}, {config.lanes} lanes; {split.name}: {len(split.y_train)} train / "
          f"{len(split.y_test)} test; seed {args.seed}, {epochs} epochs")
    results, models = {}, {}
    synthesis = UP5KSynthesis(args.config, out) if args.synth else contextlib.nullcontext()
    with synthesis:
        if args.synth:
            print(f"synthesising the core for the UP5K beside the simulation (log: {synthesis.log})")
        for backend in ("float", "fixed"):
            models[backend], results[backend] = run_training(backend, config, split, epochs, args.seed, label=backend)
        results["rtl"] = train_native(config, split, epochs, args.seed, save_weights=True)
        rtl_weights = results["rtl"].pop("weights")
        fixed_weights = models["fixed"].arrays()
        weights_equal = all(np.array_equal(rtl_weights[k], v) for k, v in fixed_weights.items())

        print(f"\n{'epoch':>5}  {'float':>7}  {'fixed':>7}  {'rtl':>7}   test accuracy (%)")
        for epoch in range(epochs):
            print(f"{epoch + 1:5d}  " + "  ".join(f"{100 * results[b]['history'][epoch]:7.2f}"
                                                for b in ("float", "fixed", "rtl")))
        budget = config.cycle_budget()
        cycles = results["rtl"]["cycles_per_sample"]
        print(f"\nRTL weights equal the fixed golden model's: {'yes' if weights_equal else 'NO'}")
        print(f"cycles per training sample: {cycles:.1f}, roofline {budget['roofline']:.1f} "
              f"({cycles / budget['roofline']:.3f}x)")
        print(f"RTL simulation: {np.median(results['rtl']['epoch_seconds']):.2f} s/epoch (median, native Verilator "
              f"from the data store)")
        synth = None
        if args.synth:
            print("waiting for the UP5K synthesis ...", flush=True)
            synth = synthesis.result()
            print(f"on the iCEBreaker (UP5K): {_synth_text(synth)}")

    machine = machine_info()
    learning_curves(out / "learning_curves.png", {f"{b}": r["history"] for b, r in results.items()},
                    f"{network_text(config)} {config.rule} k={config.nonzeros_per_row} on {split.name}")
    text = _report(config, split, results, budget, weights_equal, args.seed, machine, synth)
    write_atomic(out / "report.md", lambda f: f.write(text.encode()))
    write_json(out / "demo.json", {"seed": args.seed, "epochs": epochs, "results": results, "cycle_budget": budget,
                                   "rtl_weights_equal_fixed": weights_equal, "machine": machine,
                                   "up5k_synthesis": synth, "config": config.to_dict()})
    print(f"\nwrote {out / 'report.md'}, {out / 'learning_curves.png'} and {out / 'demo.json'}")
    if synth is not None and "error" in synth:
        raise UsageError(f"the UP5K synthesis failed: {synth['error']}", "run trifactor synth --config "
                         f"{args.config} --target up5k to see it")
    return 0 if weights_equal else 1
