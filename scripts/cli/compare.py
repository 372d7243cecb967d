"""``trifactor compare``: the learning rules side by side on one network, measured.

For each rule (the configuration with its ``[feedback] rule`` replaced, see
:func:`scripts.cli.bench.config_variant`):

- the test accuracy of the bit-exact fixed model (:class:`golden.fixed_model.FixedNet`), per seed
  ``0..S-1`` and their mean and standard deviation;
- cycles, MACs and memory traffic per training sample from the core's own counters: the core in
  RTL simulation (:func:`scripts.sim.backend.train_rtl`) trained on the first ``--samples`` samples
  of seed 0's first epoch; every figure the counters give is reported, and the configuration's
  analytic costs (MACs by pass, roofline, MAC issue cycles) beside them;
- with ``--target``, resources and Fmax from synthesis (:func:`scripts.flow.synth.synthesize`).

With rule ``ddfa`` (learned feedback) among the rules, also the angle between its learned feedback's deltas and
backpropagation's over training (:func:`trifactor.training.train_with_angles`: the float model, seed 0, per hidden
layer), plotted to ``angles.png``.

A measurement that cannot be made (a core that does not fit the target, a feedback form the core has no hardware for) is recorded
with its one-line reason and the comparison goes on. A rule the configuration itself refuses (a network with
``[[conv]]`` layers takes ``ssdfa`` and ``dfa``; ``bp`` only above frozen convolutions; never ``hybrid`` or ``ddfa``)
is left out of the default rules with one line saying why, and refused before any work when ``--rules`` names it. A
convolutional network's report adds a table of its layers (shapes, weights, positions, MACs and walk cycles).
Writes ``report.md`` (tables and the ratios of every rule against ``ssdfa``), ``compare.json`` and ``compare.png`` (accuracy
against cycles per sample), and ``angles.png`` with ``ddfa``, to ``build/compare/<name>/``.
"""

import shlex
import sys
import warnings
from pathlib import Path

import numpy as np
from amaranth.hdl import UnusedElaboratable
from tqdm import tqdm

from trifactor.golden.config import RULES, ConfigError, load_config
from trifactor.golden.train import load_data
from trifactor.training import run_training, train_with_angles

from ..flow.synth import TARGETS, synthesize
from ..sim.backend import train_rtl
from ..util.checks import check_count, check_epochs, check_given, check_seed_count
from ..util.errors import FAILURES, UsageError, one_line
from ..util.machine import machine_info
from ..util.network import layer_rows, network_text
from ..util.output import check_folder, write_atomic, write_json
from ..util.plots import labelled_points, line_series
from ..util.tables import markdown_table, text_table
from .bench import config_variant

BASELINE = "ssdfa"  # the rule every other is divided by
#: the rules compared by default: the core's four; ``ddfa`` on request (``--rules ssdfa,dfa,hybrid,bp,ddfa``) until its
#: core path is final and counts its costs by pass
DEFAULT_RULES = ("ssdfa", "dfa", "hybrid", "bp")
LEARNED = "ddfa"  # the rule with learned feedback, whose angles to backpropagation are plotted
#: the analytic passes in table order: every rule's, then rule ddfa's own (``Config.macs_by_pass``)
PASSES = ("forward", "backward", "update", "tangent", "feedback", "feedback_update")
COST_COUNTERS = "cost_counters"  # [hardware] option for the per-pass counters, where the schema has it


def add_arguments(parser):
    parser.add_argument("--config", required=True, help="TOML configuration: the network every rule trains")
    parser.add_argument("--rules",
                        help=f"comma-separated learning rules out of {', '.join(RULES)} (default: "
                             f"{','.join(DEFAULT_RULES)}, the core's, less those the configuration refuses: "
                             f"ssdfa,dfa with [[conv]] layers; {LEARNED} adds the angle plot)")
    parser.add_argument("--epochs", type=int, help="epochs of the fixed model, 1..100000 (default: [training] epochs)")
    parser.add_argument("--seeds", type=int, default=3, help="accuracy over seeds 0..N-1 (default 3)")
    parser.add_argument("--samples", type=int, default=200,
                        help="training samples the core is simulated on, for its counters (default 200)")
    parser.add_argument("--target", choices=sorted(TARGETS), help="also synthesise every rule's core for this part")
    parser.add_argument("--synth-seeds", type=int, default=1, help="place-and-route seeds; Fmax is their median (default 1)")
    parser.add_argument("--out", help="output folder (default build/compare/<name>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


# -- the arguments, all checked before any work ---------------------------------------------


def check_numbers(args):
    """Raise :class:`UsageError` for a count below 1, or past its range (:mod:`scripts.util.checks`)."""
    check_epochs(args.epochs)
    check_seed_count(args.seeds, "--seeds")
    check_count(args.samples, "--samples")
    check_seed_count(args.synth_seeds, "--synth-seeds")


def parse_rules(text: str) -> list:
    """The rules of ``--rules``: known, each once, at least one."""
    rules = [rule.strip() for rule in text.split(",")]
    fix = f"give a comma-separated list out of {','.join(RULES)}, e.g. --rules ssdfa,bp"
    unknown = [rule for rule in rules if rule not in RULES]
    if unknown:
        raise UsageError(f"--rules {text!r}: {', '.join(repr(r) for r in unknown)} is not a learning rule", fix)
    repeated = sorted({rule for rule in rules if rules.count(rule) > 1})
    if repeated:
        raise UsageError(f"--rules {text!r} names {', '.join(repeated)} more than once", fix)
    return rules


def refusal(config, rule: str):
    """The :class:`ConfigError` with which ``config`` refuses ``rule`` itself (its ``[feedback] rule``: say, ``hybrid``
    with ``[[conv]]`` layers, or ``bp`` through a trained convolution, which only the float model takes), or None.
    Other refusals (continuous feedback, a core too large) are measurements' failures, recorded in the report."""
    try:
        config_variant(config, feedback={"rule": rule}).check_bit_exact()
    except ConfigError as exc:
        if exc.key == "[feedback] rule":
            return exc
    return None


def choose_rules(config, text) -> tuple:
    """(the rules to compare, ``{rule: reason}`` of the default rules left out): ``--rules`` as given (``text``),
    refused before any work if the configuration refuses one of them; without it :data:`DEFAULT_RULES`, less those
    the configuration refuses."""
    rules = parse_rules(",".join(DEFAULT_RULES) if text is None else text)
    refused = {rule: exc for rule in rules if (exc := refusal(config, rule))}
    if not refused:
        return rules, {}
    takes = [rule for rule in RULES if refusal(config, rule) is None]
    fix = f"compare the rules it takes: --rules {','.join(takes)}" if takes else "use another configuration"
    if text is not None:
        rule, exc = next(iter(refused.items()))
        raise UsageError(f"--rules {text}: {config.name} does not take rule {rule} ({exc.key} {exc.problem})", fix)
    kept = [rule for rule in rules if rule not in refused]
    if not kept:
        raise UsageError(f"{config.name} takes none of the default rules {','.join(DEFAULT_RULES)}", fix)
    return kept, {rule: f"{exc.key} {exc.problem}" for rule, exc in refused.items()}


# -- the measurements: each returns a dict, or {"error": reason} ------------------------------


def attempt(bar, label: str, measure, *args) -> dict:
    """``measure(*args)``, or ``{"error": reason}`` when it fails as a rule the tools cannot handle would;
    one step of ``bar`` either way."""
    bar.set_postfix_str(label)
    try:
        return measure(*args)
    except FAILURES as exc:
        return {"error": one_line(exc)}
    finally:
        bar.update()


def fixed_accuracy(config, split, epochs: int, seed: int) -> dict:
    """The fixed golden model's test accuracy after ``epochs`` epochs with ``seed`` (as ``trifactor train``)."""
    return {"test_accuracy": run_training("fixed", config, split, epochs, seed, quiet=True)[1]["test_accuracy"]}


def accuracy_summary(runs: list) -> dict:
    """Mean and sample standard deviation over the seeds' runs, or the first failure's reason."""
    failed = [run["error"] for run in runs if "error" in run]
    if failed:
        return {"error": failed[0]}
    accuracy = [run["test_accuracy"] for run in runs]
    return {"per_seed": accuracy, "mean": float(np.mean(accuracy)),
            "sd": float(np.std(accuracy, ddof=1)) if len(accuracy) > 1 else 0.0}


def counting(config):
    """``config`` with the per-pass cost counters switched on, where the configuration has that option and the core
    can count this configuration's passes (not yet rule ``ddfa``'s learned-feedback path)."""
    try:
        counted = config_variant(config, hardware={COST_COUNTERS: True})
    except ConfigError as exc:
        if COST_COUNTERS not in exc.key:
            raise
        return config
    try:
        counted.check_hardware()
    except ConfigError as exc:  # any other refusal is the simulation's to report, as without counters
        if COST_COUNTERS in exc.key:
            return config
    return counted


def core_costs(config, split, samples: int) -> dict:
    """The core's counters in RTL simulation over the first ``samples`` samples of seed 0's first epoch.

    Returns ``samples``; ``cost_counters``, whether the per-pass cost counters were on; ``per_sample``:
    every counter divided by the samples, and every other number the run reported
    (:func:`scripts.host.model.counter_summary`), by name; ``by_pass``: the run's costs per sample by
    pass (``{pass: {event: value}}``, empty without cost counters).
    """
    counted = counting(config)
    run = train_rtl(counted, split, 1, 0, quiet=True, samples=samples)
    counters = flatten(run["counters"])
    per_sample = {name: value / max(1, counters["samples"]) for name, value in counters.items() if name != "samples"}
    for name, value in run.items():  # the summary's own numbers; its dicts regroup counters already listed
        if is_number(value) and name != "samples" and name.removesuffix("_per_sample") not in counters:
            per_sample[name] = value
    return {"samples": run["samples"], "cost_counters": getattr(counted, COST_COUNTERS, False),
            "per_sample": per_sample, "by_pass": run.get("costs_per_sample") or {}}


def synthesis(config, target: str, seeds: int, out: Path, core: dict) -> dict:
    """Resources and the median Fmax of ``config``'s core on ``target`` (samples/s from the measured cycles).

    The core is synthesised as configured: the cost counters the simulation switched on are not in it.
    """
    config.check_hardware()
    cycles = core.get("per_sample", {}).get("cycles")
    basis = (cycles, f"measured: RTL simulation, {core['samples']} training samples") if cycles else None
    report = synthesize(config, target, seeds, out, quiet=True, cycles=basis)
    return {"part": report["part"], "logic_cells": report["utilization"]["logic_cells"]["used"],
            "luts": report["luts"], "ffs": report["ffs"], "dsps": report["dsps"], "brams": report["brams"],
            "fmax_mhz": report["fmax_mhz"], "fmax_mhz_per_seed": report["fmax_mhz_per_seed"],
            "samples_per_s": report["samples_per_s"], "logs": report["logs"]}


def analytic_costs(config) -> dict:
    """The configuration's own cost figures per training sample (a hybrid's backward pass: its mean share; rule
    ``ddfa``: its tangent and feedback passes, and its feedback updates)."""
    by_pass = config.macs_by_pass(False)
    by_pass["backward"] = config.bp_fraction * config.macs_by_pass(True)["backward"]
    costs = {"macs_by_pass": by_pass, "macs_per_sample": config.macs_per_sample,
             "roofline_cycles": config.roofline_cycles, "mac_issue_cycles": config.mac_issue_cycles}
    if config.rule == LEARNED:  # the learned feedback's updates, which take no multiplier (Config.feedback_updates)
        costs["feedback_updates"] = getattr(config, "feedback_updates", None)
    return costs


def compare_rule(config, split, options, bar) -> dict:
    """Every measurement of one rule's configuration; ``options``: epochs, seeds, samples, target, synth_seeds, out."""
    rule = config.rule
    runs = [attempt(bar, f"{rule}: fixed model, seed {seed}", fixed_accuracy, config, split, options.epochs, seed)
            for seed in range(options.seeds)]
    core = attempt(bar, f"{rule}: core in RTL simulation", core_costs, config, split, options.samples)
    entry = {"rule": rule, "nonzeros_per_row": config.nonzeros_per_row, "bp_fraction": config.bp_fraction,
             "accuracy": accuracy_summary(runs), "core": core, "analytic": analytic_costs(config),
             "synthesis": None, "config": config.to_dict()}
    if rule == LEARNED:
        entry["angles"] = attempt(bar, f"{rule}: angles to backpropagation (float)", train_with_angles, config, split,
                                  options.epochs, 0)
    if options.target:
        entry["synthesis"] = attempt(bar, f"{rule}: synthesis for {options.target}", synthesis, config,
                                     options.target, options.synth_seeds,
                                     options.out / "synth" / f"{rule}-{options.target}", core)
    return entry


# -- figures, ratios and the report -----------------------------------------------------------


def flatten(data: dict, prefix: str = "") -> dict:
    """The numbers in nested dicts as ``{"outer.inner": number}`` (booleans, strings and lists left out)."""
    flat = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        elif is_number(value):
            flat[f"{prefix}{key}"] = value
    return flat


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def figures(entry: dict) -> dict:
    """A rule's numbers by name: accuracy, the core's counters per sample, the analytic costs, synthesis."""
    found = {"accuracy (mean)": entry["accuracy"].get("mean")}
    found.update({f"core: {k}": v for k, v in entry["core"].get("per_sample", {}).items()})
    found.update({f"analytic: {k}": v for k, v in flatten(entry["analytic"]).items()})
    synth = entry["synthesis"] or {}
    found.update({f"synthesis: {k}": synth[k] for k in ("logic_cells", "luts", "ffs", "dsps", "brams", "fmax_mhz",
                                                         "samples_per_s") if k in synth})
    return {name: value for name, value in found.items() if value is not None}


def ratios(results: dict) -> dict:
    """``{rule: {figure: rule's / ssdfa's}}`` for every other rule, over the figures both have (ssdfa's not 0)."""
    if BASELINE not in results:
        return {}
    base = figures(results[BASELINE])
    return {rule: {name: value / base[name] for name, value in figures(entry).items() if base.get(name)}
            for rule, entry in results.items() if rule != BASELINE}


def fmt(value) -> str:
    """A figure for a table: whole numbers as such, others to 4 significant digits; missing: ``-``."""
    if value is None:
        return "-"
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.4g}"


def accuracy_cell(accuracy: dict) -> str:
    return "not measured" if "error" in accuracy else f"{100 * accuracy['mean']:.2f}% ± {100 * accuracy['sd']:.2f}"


def summary_table(results: dict, synthesised: bool) -> str:
    """One row per rule: accuracy, measured cycles and costs by pass, analytic MACs by pass and cycles, synthesis."""
    events = measured_events(results)
    header = ["rule", "k", "test accuracy (mean ± sd)", "per seed (%)", "cycles / sample (measured)"]
    header += [f"{event} / sample ({' / '.join(passes)})" for event, passes in events.items()]
    passes = analytic_passes(results)
    header += [f"MACs / sample, analytic ({' / '.join(passes)})", "MAC issue cycles", "roofline cycles"]
    header += ["logic cells", "Fmax (MHz)"] if synthesised else []
    rows = []
    for rule, entry in results.items():
        accuracy, analytic, core = entry["accuracy"], entry["analytic"], entry["core"]
        row = [rule, entry["nonzeros_per_row"], accuracy_cell(accuracy),
               ", ".join(f"{100 * a:.1f}" for a in accuracy.get("per_seed", [])) or "-",
               fmt(core.get("per_sample", {}).get("cycles"))]
        row += [" / ".join(fmt(core.get("by_pass", {}).get(p, {}).get(event)) for p in passes)
                for event, passes in events.items()]
        row += [" / ".join(fmt(analytic["macs_by_pass"].get(p)) for p in passes),
                fmt(analytic["mac_issue_cycles"]), fmt(analytic["roofline_cycles"])]
        if synthesised:
            synth = entry["synthesis"]
            row += [fmt(synth.get("logic_cells")), fmt(synth.get("fmax_mhz"))]
        rows.append(row)
    return markdown_table(header, rows)


def analytic_passes(results: dict) -> list:
    """The analytic passes any rule counts, in :data:`PASSES` order (rule ddfa's only when it is compared)."""
    counted = {name for entry in results.values() for name in entry["analytic"]["macs_by_pass"]}
    return [name for name in PASSES if name in counted]


def measured_events(results: dict) -> dict:
    """``{event: [passes that count it]}`` over every rule's measured costs by pass, in the order they came."""
    events = {}
    for entry in results.values():
        for pass_, counted in entry["core"].get("by_pass", {}).items():
            for event in counted:
                events.setdefault(event, [])
                if pass_ not in events[event]:
                    events[event].append(pass_)
    return events


def counters_table(results: dict) -> str:
    """One row per figure of the core's counters (per training sample), one column per rule."""
    names = list(dict.fromkeys(name for entry in results.values() for name in entry["core"].get("per_sample", {})))
    if not names:
        return "No rule's core could be simulated (see below)."
    return markdown_table(["per training sample", *results],
                          [(name, *(fmt(entry["core"].get("per_sample", {}).get(name)) for entry in results.values()))
                           for name in names])


def ratio_table(results: dict, rule_ratios: dict) -> str:
    """One row per figure, one column per rule: the rule's figure over ``ssdfa``'s."""
    if not rule_ratios:
        return f"No ratios: {BASELINE} is not among the rules compared."
    names = list(dict.fromkeys(name for entry in rule_ratios.values() for name in entry))
    return markdown_table(["figure", *(f"{rule} / {BASELINE}" for rule in rule_ratios)],
                          [(name, *(fmt(entry.get(name)) for entry in rule_ratios.values())) for name in names])


def failures(results: dict) -> list:
    """``(rule, measurement, reason)`` of every measurement that could not be made."""
    found = []
    for rule, entry in results.items():
        for part in ("accuracy", "core", "angles", "synthesis"):
            if entry.get(part) and "error" in entry[part]:
                found.append((rule, part, entry[part]["error"]))
    return found


def cost_note(results: dict) -> str:
    """Whether the simulated cores counted their costs by pass, in a sentence."""
    counted = {entry["core"]["cost_counters"] for entry in results.values() if "cost_counters" in entry["core"]}
    if counted == {True}:
        return "The simulated cores counted their costs by pass (`[hardware] cost_counters = true`)."
    if counted == {False}:
        return "This version of the core has no cost counters by pass: only cycles and MACs were counted."
    return ""


LAYER_HEADER = ["layer", "kind", "input", "output", "weights", "positions", "forward MACs", "trained",
                "walk cycles"]


def layers_of(config) -> list:
    """The network's layers for the report (:func:`scripts.util.network.layer_rows`, with each layer's cycles of one
    forward walk, ``Config.walk_cycles``), as dicts by :data:`LAYER_HEADER` name."""
    return [dict(zip(LAYER_HEADER, (*row, config.walk_cycles(row[0])))) for row in layer_rows(config)]


def layers_section(layers: list) -> list:
    """A convolutional network's layers as a table (its MACs and walk cycles are what the summary adds up)."""
    return ["## Layers\n",
            "Every layer's shapes, its weight matrix (a convolution's: one kernel per channel, the bias last), the "
            "positions a forward pass computes with it, its forward MACs (a convolution's window elements inside the "
            "image at every position, and the biases) and the cycles of one forward walk on the lanes "
            "(docs/configuration.md, Convolution layers).\n",
            markdown_table(LAYER_HEADER, [[layer[name] for name in LAYER_HEADER] for layer in layers]), ""]


def markdown(report: dict) -> str:
    results, machine = report["rules"], report["machine"]
    net = report["network"]
    missing = failures(results)
    lines = [
        f"# trifactor compare: {report['name']}\n",
        f"{net['sizes']} {net['activation']}, {net['loss']}, {report['lanes']} lanes; {report['dataset']}: "
        f"{report['train']} train / {report['test']} test samples.",
        f"Test accuracy: the bit-exact fixed golden model after {report['epochs']} epoch(s), mean ± sample standard "
        f"deviation over seeds 0..{report['seeds'] - 1}. Core figures: the core's own counters in RTL simulation "
        f"(Verilator), trained on the first {report['samples']} training samples of seed 0's first epoch; analytic "
        "figures from the configuration (a hybrid's backward pass counts with its bp_fraction).",
        cost_note(results),
        f"Machine: {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}.\n",
        f"Command: `{report['command']}`\n",
        *(layers_section(report["layers"]) if report.get("layers") else []),
        "## Summary\n", summary_table(results, bool(report["target"])), "",
        "![accuracy against cycles per sample](compare.png)\n",
        "## Core counters per training sample\n", counters_table(results), "",
        f"## Ratios against {BASELINE}\n", ratio_table(results, report["ratios"]), "",
    ]
    angles = (results.get(LEARNED) or {}).get("angles")
    if angles and "error" not in angles:
        lines += angle_section(angles, report["rules"][LEARNED]["config"])
    if missing:
        lines += ["## Not measured\n", markdown_table(["rule", "measurement", "reason"], missing), ""]
    if report.get("skipped"):
        lines += ["## Not compared\n", "Default rules this configuration refuses:\n",
                  markdown_table(["rule", "reason"], report["skipped"].items()), ""]
    return "\n".join(lines)


def angle_section(angles: dict, config: dict) -> list:
    """The report's lines on rule ddfa's angles to backpropagation: how they were measured, the plot, the epochs."""
    feedback = config["feedback"]
    layers = len(angles["per_epoch"][0]) if angles["per_epoch"] else 0
    rows = [(epoch + 1, *(fmt_angle(a) for a in means)) for epoch, means in enumerate(angles["per_epoch"])]
    return [
        f"## {LEARNED}: angle between the learned feedback's deltas and backpropagation's\n",
        f"The float golden model, seed {angles['seed']}, {angles['epochs']} epoch(s) "
        f"(test accuracy {100 * angles['test_accuracy']:.2f}%): per training sample and hidden layer, the angle "
        "between `f' * (B_l e)` and backpropagation's delta through the same weights, averaged over each epoch "
        f"(table) and over windows of {angles['window_samples']} samples (plot); samples with a zero delta are left out. "
        f"`nonzeros_per_row` = {feedback['nonzeros_per_row']}, `rate_shift` = {feedback['rate_shift']}, "
        f"`perturbation` = {feedback['perturbation']}, `start` = {feedback['start']}. "
        "90 degrees: no better than chance.\n",
        "![angle to backpropagation over training](angles.png)\n",
        markdown_table(["epoch", *(f"hidden layer {layer} (degrees)" for layer in range(layers))], rows), "",
    ]


def fmt_angle(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def plot_angles(path, angles: dict, title: str):
    """Rule ddfa's window means of the angle to backpropagation, one line per hidden layer, against epochs."""
    layers = len(angles["windows"][0]) if angles["windows"] else 0
    lines = {}
    for layer in range(layers):
        points = [(x, means[layer]) for x, means in zip(angles["window_epochs"], angles["windows"])
                  if means[layer] is not None]
        lines[f"hidden layer {layer}"] = tuple(zip(*points)) if points else ((), ())
    line_series(path, lines, "epoch", "angle to backpropagation's delta (degrees)", title, reference=90.0)


def plot(path, results: dict, title: str):
    """Accuracy against cycles per sample, one labelled point per rule; a rule the core could not run is
    placed at its MAC issue cycles, hollow."""
    points = {}
    for rule, entry in results.items():
        if "error" in entry["accuracy"]:
            continue
        cycles = entry["core"].get("per_sample", {}).get("cycles")
        label = rule if cycles else f"{rule} (not simulated: MAC issue cycles)"
        points[label] = (cycles or entry["analytic"]["mac_issue_cycles"], 100 * entry["accuracy"]["mean"], bool(cycles))
    labelled_points(path, points, "cycles per training sample", "test accuracy (%)", title)


def terminal_summary(report: dict) -> str:
    pairs = []
    for rule, entry in report["rules"].items():
        cycles = entry["core"].get("per_sample", {}).get("cycles")
        pairs.append((rule, f"{accuracy_cell(entry['accuracy'])}, "
                            f"{fmt(cycles) + ' cycles/sample' if cycles else 'cycles not measured'}"))
    return text_table(f"{report['name']}: test accuracy, cycles per training sample", pairs)


# -- the command --------------------------------------------------------------------------------


def main(args) -> int:
    check_given(args.out, "--out")
    check_numbers(args)
    config = load_config(args.config)
    rules, skipped = choose_rules(config, args.rules)
    out = Path(args.out) if args.out else Path("build") / "compare" / config.name
    check_folder(out, "--out")
    split = load_data(config)
    variants = [config_variant(config, feedback={"rule": rule}) for rule in rules]
    for rule, reason in skipped.items():
        print(f"skipped rule {rule}: {reason}", flush=True)
    args.epochs, args.out = args.epochs or config.epochs, out
    # a core that cannot be built (say, continuous feedback) leaves its parts unelaborated: recorded, not noise
    warnings.simplefilter("ignore", UnusedElaboratable)
    steps = (args.seeds + 1 + (1 if args.target else 0)) * len(rules) + (LEARNED in rules)
    with tqdm(total=steps, unit="task", desc=f"compare {config.name}", disable=args.quiet or None,
              dynamic_ncols=True) as bar:
        results = {variant.rule: compare_rule(variant, split, args, bar) for variant in variants}
    report = {
        "name": config.name, "command": shlex.join(["trifactor", *sys.argv[1:]]), "machine": machine_info(),
        "network": {"sizes": network_text(config), "activation": config.activation, "loss": config.loss},
        "lanes": config.lanes, "dataset": split.name, "train": len(split.y_train), "test": len(split.y_test),
        "epochs": args.epochs, "seeds": args.seeds, "samples": args.samples, "target": args.target,
        "synth_seeds": args.synth_seeds, "baseline": BASELINE, "rules": results, "ratios": ratios(results),
        "skipped": skipped, "layers": layers_of(config) if config.convs else [],
        "config": config.to_dict(),
    }
    plot(out / "compare.png", results, f"{config.name}: {report['network']['sizes']} on {split.name}")
    angles = (results.get(LEARNED) or {}).get("angles")
    plotted = bool(angles) and "error" not in angles
    if plotted:
        plot_angles(out / "angles.png", angles, f"{config.name}: {LEARNED} (float, seed {angles['seed']}), "
                                                f"{report['network']['sizes']} on {split.name}")
    write_json(out / "compare.json", report)
    text = markdown(report)
    write_atomic(out / "report.md", lambda f: f.write(text.encode()))
    print(terminal_summary(report))
    for rule, part, reason in failures(results):
        print(f"  not measured: {rule} {part}: {reason}")
    plots = f"{out / 'compare.png'}" + (f" and {out / 'angles.png'}" if plotted else "")
    print(f"wrote {out / 'report.md'}, {out / 'compare.json'}, {plots}")
    return 0
