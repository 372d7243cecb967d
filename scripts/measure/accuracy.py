"""Part ``accuracy``: the golden models' test accuracy over seeds, every learning rule, the reference networks.

What ``trifactor bench`` and ``trifactor compare`` measure (``run_training``, the same function), for the
configurations the README quotes: on digits and MNIST 5k the float reference rows and the bit-exact fixed model
under each rule (``ssdfa``, ``dfa``, ``hybrid``, ``bp``; on digits from ``configs/digits.toml``,
``digits-hybrid.toml``, ``digits-bp.toml`` and ``dfa`` by the ``[feedback] rule`` key), the deeper digits network
under each rule, the small store-sized digits core and the MNIST core of the iCEBreaker with the formats it was
chosen against.
"""

import numpy as np

from trifactor.golden.train import load_data

from ..util.tables import markdown_table
from .common import FAILURES, Steps, config, median, one_line, pct, variant

__all__ = ["DESCRIPTION", "JOBS", "measure"]

DESCRIPTION = "golden models' test accuracy over seeds, per learning rule (float and bit-exact fixed)"

FLOAT_ROWS = [
    ("BP (float)", "float", None, {"feedback": {"rule": "bp"}}),
    ("DFA, dense ternary (float)", "float", None, {"feedback": {"rule": "dfa"}}),
    ("SSDFA k=1, continuous (float)", "float", None, {"feedback": {"values": "continuous"}}),
    ("SSDFA k=1, ternary (float)", "float", None, {}),
]


def rule_rows(files: dict | None = None) -> list:
    """The fixed model under each rule: from ``files[rule]`` (a configuration name) where given, else by the rule key."""
    files = files or {}
    return [(f"`{rule}` (fixed, bit-exact)", "fixed", files.get(rule),
             {} if rule in files or rule == "ssdfa" else {"feedback": {"rule": rule}})  # every base is ssdfa's
            for rule in ("ssdfa", "dfa", "hybrid", "bp")]


#: (job, base configuration, what it is, rows: (label, backend, configuration name or None for the base, overrides),
#: whether to show seed 0's learning curve)
JOBS = [
    ("digits", "digits", "digits 64-64-10", FLOAT_ROWS + rule_rows(
        {"ssdfa": "digits", "hybrid": "digits-hybrid", "bp": "digits-bp"}), False),
    ("mnist5k", "mnist5k", "MNIST 5k 784-128-10", FLOAT_ROWS + rule_rows(), False),
    ("digits-deep", "digits-deep", "digits 64-48-32-10", rule_rows(), False),
    ("digits-store", "digits-store", "digits 64-32-10, the iCEBreaker's store-sized core", rule_rows()[:1], True),
    ("mnist-up5k", "mnist-up5k", "MNIST 5k 784-128-10 in the UP5K's SPRAM: 8-bit weights (Q0.7)", [
        ("8-bit weights Q0.7 (`configs/mnist-up5k.toml`, fixed)", "fixed", None, {}),
        ("16-bit weights Q3.12 (the default format, fixed)", "fixed", None, {"fixed": {"weight": {"width": 16, "frac": 12}}}),
        ("8-bit weights, learning rate 2^-6 (fixed)", "fixed", None, {"fixed": {"learning_rate_shift": 6}}),
    ], True),
]


def steps(options) -> int:
    return sum(len(rows) for *_, rows, _ in JOBS) * options.seeds


def run_row(what, base, split, backend, overrides, epochs, seeds, say) -> dict:
    from trifactor.training import run_training

    cfg = variant(base, **overrides)
    runs = []
    for seed in range(seeds):
        say.start(f"{what}, seed {seed}")
        result = run_training(backend, cfg, split, epochs, seed, quiet=True)[1]
        runs.append(result)
        say.end(pct(result["test_accuracy"]))
    accuracy = [r["test_accuracy"] for r in runs]
    return {"backend": backend, "rule": cfg.rule, "epochs": epochs, "per_seed": accuracy,
            "mean": float(np.mean(accuracy)), "median": float(median(accuracy)),
            "sd": float(np.std(accuracy, ddof=1)) if len(accuracy) > 1 else 0.0,
            "seconds_per_epoch_median": float(median([s for r in runs for s in r["epoch_seconds"]])),
            "history_seed0": runs[0]["history"]}


def measure(options, say: Steps):
    """Every job's rows over seeds ``0..options.seeds-1``, ``options.epochs`` epochs (default the configuration's);
    returns (markdown body, data)."""
    seeds = f"seeds 0-{options.seeds - 1}" if options.seeds > 1 else "seed 0"
    data, body = {}, [f"The golden models' test accuracy after the configuration's epochs (or `--epochs`), over {seeds}: "
                      f"mean ± standard deviation, median, and each seed's. The fixed model is "
                      f"bit-exact with the hardware (`trifactor train --backend fixed`). s/epoch is the median over all "
                      f"epochs and seeds of the row, on this machine.", ""]
    for job, base_name, title, rows, curve in JOBS:
        base = config(base_name)
        split = load_data(base)
        epochs = options.epochs or base.epochs
        entry = data[job] = {"title": title, "config": f"configs/{base_name}.toml", "dataset": split.name,
                             "train": len(split.y_train), "test": len(split.y_test), "epochs": epochs, "rows": {}}
        table = []
        for label, backend, name, overrides in rows:
            try:
                row = run_row(f"{job}: {label}", config(name) if name else base, split, backend, overrides, epochs, options.seeds, say)
            except FAILURES as exc:
                row = {"error": one_line(exc)}
            row["configuration"] = (f"configs/{name}.toml" if name else f"configs/{base_name}.toml"
                                    + "".join(f", [{s}] {k} = {v}" for s, kv in overrides.items() for k, v in kv.items()))
            entry["rows"][label] = row
            cells = [label, f"`{row['configuration']}`"]
            if "error" in row:
                table.append(cells + [f"not measured: {row['error']}", "", "", ""] + ([""] if curve else []))
                continue
            cells += [f"{pct(row['mean'])} ± {100 * row['sd']:.2f}", pct(row["median"]),
                      ", ".join(pct(a) for a in row["per_seed"]), f"{row['seconds_per_epoch_median']:.2f}"]
            if curve:
                cells.append(", ".join(f"{100 * a:.2f}" for a in row["history_seed0"]))
            table.append(cells)
        header = ["model", "configuration", "test accuracy (mean ± sd)", "median", "per seed", "s/epoch"]
        header += ["seed 0, after each epoch (%)"] if curve else []
        body += [f"### {title}", "",
                 f"`{entry['config']}`: {entry['dataset']}, {entry['train']} training / {entry['test']} test samples, "
                 f"{epochs} epoch{'s' if epochs > 1 else ''}.", "", markdown_table(header, table), ""]
    return "\n".join(body), data
