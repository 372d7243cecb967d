"""Part ``learned``: learned and reduced feedback (docs/learned-feedback.md) against BP, DFA and SSDFA over seeds.

For three networks (digits 64-64-10 from ``configs/digits.toml``; digits 64-32-32-32-10, the same file with
``[network] sizes`` replaced; MNIST 5k 784-128-10 from ``configs/mnist5k.toml``), every rule of :data:`ROWS` in the
float and the bit-exact fixed golden model, each over seeds ``0..S-1`` with the configuration's epochs
(``run_training``, as ``trifactor bench`` and ``compare``). Rule ``ddfa``'s float runs also track the angle between
the learned feedback's deltas and backpropagation's (:func:`trifactor.training.train_with_angles`, as ``trifactor
compare`` plots them); its last epoch's mean is reported per hidden layer. Then DDFA in float with Gaussian
directions (``[feedback] perturbation = "gaussian"``, the authors' ``randn``) beside the Rademacher rows (+-1, the
default and what the fixed model and the core draw).
"""

import numpy as np

from trifactor.golden.train import load_data

from ..util.tables import markdown_table
from .common import FAILURES, Steps, config, one_line, pct, variant

__all__ = ["DESCRIPTION", "NETWORKS", "ROWS", "GAUSSIAN_ROWS", "BACKENDS", "measure"]

DESCRIPTION = ("learned and reduced feedback (DDFA dense and sparse, rank-1 DFA, zero start) against BP, DFA and "
               "SSDFA over seeds, float and bit-exact fixed; DDFA's Gaussian against Rademacher directions")

#: (job, base configuration, title, overrides every row of the job takes)
NETWORKS = [
    ("digits", "digits", "digits 64-64-10", {}),
    ("digits-3x32", "digits", "digits 64-32-32-32-10", {"network": {"sizes": [64, 32, 32, 32, 10]}}),
    ("mnist5k", "mnist5k", "MNIST 5k 784-128-10", {}),
]
#: the zero start: every weight 0 needs hardtanh (f'(0) = 1); relu and the BP rules refuse it
ZERO_START = {"activation": "hardtanh", "init": "zero"}
#: (label, overrides), each measured in every backend of :data:`BACKENDS`; the first is the reference of the gaps
ROWS = [
    ("BP", {"feedback": {"rule": "bp"}}),
    ("DFA, dense ternary B", {"feedback": {"rule": "dfa"}}),
    ("SSDFA k=1, ternary B", {"feedback": {"rule": "ssdfa", "nonzeros_per_row": 1}}),
    ("DDFA dense, learned B", {"feedback": {"rule": "ddfa"}}),
    ("DDFA sparse k=1, learned B", {"feedback": {"rule": "ddfa", "nonzeros_per_row": 1}}),
    ("DFA rank-1, ternary B = Q P^T", {"feedback": {"rule": "dfa", "rank": 1}}),
    ("zero start: DFA dense, hardtanh, all weights 0", {"feedback": {"rule": "dfa"}, "network": ZERO_START}),
    ("zero start: SSDFA k=1, hardtanh, all weights 0",
     {"feedback": {"rule": "ssdfa", "nonzeros_per_row": 1}, "network": ZERO_START}),
    ("DFA dense, hardtanh, uniform start (the zero starts' reference)",
     {"feedback": {"rule": "dfa"}, "network": {"activation": "hardtanh"}}),
]
BACKENDS = ("float", "fixed")
#: DDFA with Gaussian directions (float only), each beside the Rademacher row of :data:`ROWS` it varies
GAUSSIAN_ROWS = [(label, {**overrides, "feedback": {**overrides["feedback"], "perturbation": "gaussian"}})
                 for label, overrides in ROWS if overrides["feedback"]["rule"] == "ddfa"]


def steps(options) -> int:
    return len(NETWORKS) * (len(ROWS) * len(BACKENDS) + len(GAUSSIAN_ROWS)) * options.seeds


def merged(*overrides) -> dict:
    """``{section: {key: value}}`` of every override, later ones winning key by key."""
    out = {}
    for sections in overrides:
        for section, values in sections.items():
            out.setdefault(section, {}).update(values)
    return out


def describe(base_name: str, overrides: dict) -> str:
    """The configuration of a row as text: the file and every override."""
    pairs = [(section, key, value) for section, values in overrides.items() for key, value in values.items()]
    return f"configs/{base_name}.toml" + "".join(f", [{section}] {key} = {value}" for section, key, value in pairs)


def train_once(backend: str, cfg, split, epochs: int, seed: int) -> dict:
    """One run: test accuracy, history and epoch times; rule ``ddfa`` in float also its angles to backpropagation."""
    from trifactor.training import run_training, train_with_angles

    if backend == "float" and cfg.rule == "ddfa":
        return train_with_angles(cfg, split, epochs, seed)
    return run_training(backend, cfg, split, epochs, seed, quiet=True)[1]


def run_cell(what, cfg, split, backend, epochs, seeds, say) -> dict:
    """One row in one backend over seeds ``0..seeds-1``."""
    runs = []
    for seed in range(seeds):
        say.start(f"{what}, seed {seed}")
        try:
            result = train_once(backend, cfg, split, epochs, seed)
        except FAILURES as exc:
            say.end(f"not measured: {one_line(exc)}")
            return {"backend": backend, "error": one_line(exc)}
        runs.append(result)
        say.end(pct(result["test_accuracy"]))
    accuracy = [r["test_accuracy"] for r in runs]
    cell = {"backend": backend, "per_seed": accuracy, "mean": float(np.mean(accuracy)),
            "sd": float(np.std(accuracy, ddof=1)) if len(accuracy) > 1 else 0.0,
            "seconds_per_epoch_median": float(np.median([s for r in runs for s in r["epoch_seconds"]])),
            "history_seed0": runs[0]["history"]}
    if "per_epoch" in runs[0]:  # the angles, per seed: the last epoch's mean per hidden layer
        cell["angle_last_epoch_per_seed"] = [r["per_epoch"][-1] for r in runs]
        cell["angle_last_epoch"] = mean_angles(cell["angle_last_epoch_per_seed"])
    return cell


def mean_angles(per_seed: list) -> list:
    """Per hidden layer, the mean over seeds of the seeds that have an angle (None if none has)."""
    layers = zip(*per_seed)
    return [float(np.mean(found)) if (found := [a for a in layer if a is not None]) else None for layer in layers]


def accuracy_text(cell: dict) -> str:
    if "error" in cell:
        return f"not measured: {cell['error']}"
    return f"{pct(cell['mean'])} ± {100 * cell['sd']:.2f}"


def seeds_text(cell: dict) -> str:
    return ", ".join(f"{100 * a:.2f}" for a in cell.get("per_seed", []))


def gap_text(cell: dict, reference: dict) -> str:
    """``cell``'s mean minus the reference's, in percentage points."""
    if "mean" not in cell or "mean" not in reference:
        return "-"
    return f"{100 * (cell['mean'] - reference['mean']):+.2f}"


def angle_text(cell: dict) -> str:
    angles = cell.get("angle_last_epoch")
    return " / ".join("-" if a is None else f"{a:.1f}" for a in angles) if angles else ""


def network_tables(entry: dict) -> list:
    """The lines of one network's tables: every row in both backends, then Gaussian against Rademacher."""
    rows, reference = entry["rows"], entry["rows"][ROWS[0][0]]
    table = []
    for label, row in rows.items():
        float_cell, fixed_cell = row["float"], row["fixed"]
        table.append([label, f"`{row['configuration']}`",
                      accuracy_text(float_cell), seeds_text(float_cell), gap_text(float_cell, reference["float"]),
                      accuracy_text(fixed_cell), seeds_text(fixed_cell), gap_text(fixed_cell, reference["fixed"]),
                      angle_text(float_cell)])
    header = ["model", "configuration", "float (mean ± sd)", "float per seed (%)", "float − BP (points)",
              "fixed, bit-exact (mean ± sd)", "fixed per seed (%)", "fixed − BP (points)",
              "float: angle to BP, last epoch (degrees, per hidden layer)"]
    gaussian = []
    for label, cell in entry["gaussian"].items():
        rademacher = rows[label]["float"]
        gaussian.append([label, accuracy_text(rademacher), seeds_text(rademacher), angle_text(rademacher),
                         accuracy_text(cell), seeds_text(cell), angle_text(cell), gap_text(cell, rademacher)])
    return [markdown_table(header, table), "",
            "DDFA's directions in float, over the same seeds: Rademacher (+-1 from the LFSR, the default) against "
            "Gaussian (`[feedback] perturbation = \"gaussian\"`, N(0, 1) as the authors' `randn_like`).", "",
            markdown_table(["model", "Rademacher (mean ± sd)", "per seed (%)", "angle, last epoch",
                            "Gaussian (mean ± sd)", "per seed (%)", "angle, last epoch",
                            "Gaussian − Rademacher (points)"], gaussian), ""]


def measure(options, say: Steps):
    """Every network's rows over seeds ``0..options.seeds-1``, ``options.epochs`` epochs (default the configuration's);
    returns (markdown body, data)."""
    seeds = f"seeds 0-{options.seeds - 1}" if options.seeds > 1 else "seed 0"
    data = {}
    body = [f"Test accuracy after the configuration's epochs (or `--epochs`), over {seeds}: mean ± standard deviation "
            "and each seed's, in the float golden model and the bit-exact fixed one (`trifactor train --backend "
            "float|fixed`), and each mean's difference to BP's in the same model. DDFA: rule `ddfa`, the feedback "
            "`B` learned from the directional derivative (docs/learned-feedback.md); rank-1: `[feedback] rank = 1`; "
            "zero start: `[network] init = \"zero\"`, which needs hardtanh, so a hardtanh row with the uniform start "
            "is its reference. The angle column: rule `ddfa` in float, the mean angle between its deltas and "
            "backpropagation's through the same weights over the last epoch's samples, averaged over the seeds (90 "
            "degrees: no better than chance).", ""]
    for job, base_name, title, network in NETWORKS:
        base = variant(config(base_name), **network)
        split = load_data(base)
        epochs = options.epochs or base.epochs
        entry = data[job] = {"title": title, "config": describe(base_name, network), "dataset": split.name,
                             "train": len(split.y_train), "test": len(split.y_test), "epochs": epochs,
                             "rows": {}, "gaussian": {}}
        for label, overrides in ROWS:
            row = entry["rows"][label] = {"configuration": describe(base_name, merged(network, overrides))}
            try:
                cfg = variant(base, **overrides)
            except FAILURES as exc:
                row.update({backend: {"backend": backend, "error": one_line(exc)} for backend in BACKENDS})
                continue
            for backend in BACKENDS:
                row[backend] = run_cell(f"{job}: {label} ({backend})", cfg, split, backend, epochs, options.seeds, say)
        for label, overrides in GAUSSIAN_ROWS:
            try:
                cfg = variant(base, **overrides)
            except FAILURES as exc:
                entry["gaussian"][label] = {"backend": "float", "error": one_line(exc)}
                continue
            entry["gaussian"][label] = run_cell(f"{job}: {label}, Gaussian directions (float)", cfg, split, "float",
                                                epochs, options.seeds, say)
        body += [f"### {title}", "",
                 f"`{entry['config']}`: {entry['dataset']}, {entry['train']} training / {entry['test']} test samples, "
                 f"{epochs} epoch{'s' if epochs > 1 else ''}.", "", *network_tables(entry)]
    return "\n".join(body), data
