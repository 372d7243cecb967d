"""``trifactor bench``: accuracy and speed of the golden models, measured, never typed in.

For each data set, the reference rows of docs (BP, DFA, SSDFA k=1 continuous, SSDFA k=1
ternary, all float) and the bit-exact fixed model (SSDFA, hybrid, BP and DFA), then the learned and reduced
feedback of docs/learned-feedback.md in float and fixed: DDFA dense and sparse (k=1), rank-1 DFA feedback and a
zero start (dense DFA with hardtanh and every weight zero), each over several seeds with the configuration's
epochs. A convolutional network (``[[conv]]`` layers: ``configs/digits-conv.toml``, ``configs/mnist5k-conv.toml``)
takes the rows of :data:`CONV_ROWS` instead: BP in float, and DFA and SSDFA k=1 with the convolutions trained by
their feedback, in float and fixed (the rules a convolution takes). Writes ``golden.json`` and ``golden.md``
(tables) and a learning curve plot per data set; prints the tables.
"""

from pathlib import Path

import numpy as np

from trifactor.golden.config import config_from_dict, load_config
from trifactor.golden.train import load_data
from trifactor.training import run_training

from ..util.checks import check_given, check_seed_count
from ..util.errors import FAILURES, one_line
from ..util.machine import machine_info
from ..util.network import network_text
from ..util.output import check_folder, write_atomic, write_json
from ..util.plots import learning_curves
from ..util.tables import markdown_table

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SPARSE_RULES = {"ssdfa", "hybrid"}  # the rules whose feedback rows have nonzeros_per_row entries
#: rule ddfa's own keys, by section: refused with any other rule, so a variant of a ddfa configuration drops them
LEARNED_KEYS = {"feedback": ("rate_shift", "perturbation", "start"), "fixed": ("tangent",)}
#: the zero start: every weight 0 needs hardtanh (f'(0) = 1); relu and the BP rules refuse it
ZERO_START = {"activation": "hardtanh", "init": "zero"}

# label -> (backend, feedback overrides[, other sections' overrides])
REFERENCE_ROWS = {
    "BP (float)": ("float", {"rule": "bp"}),
    "DFA dense ternary (float)": ("float", {"rule": "dfa"}),
    "SSDFA k=1 continuous (float)": ("float", {"values": "continuous"}),
    "SSDFA k=1 ternary (float)": ("float", {}),
    "SSDFA k=1 ternary (fixed, bit-exact)": ("fixed", {}),
    "hybrid, 25% BP (fixed, bit-exact)": ("fixed", {"rule": "hybrid"}),
    "BP (fixed, bit-exact)": ("fixed", {"rule": "bp"}),
}
#: learned and reduced feedback (docs/learned-feedback.md), and the fixed DFA row the others are read against
LEARNED_ROWS = {
    "DFA dense ternary (fixed, bit-exact)": ("fixed", {"rule": "dfa"}),
    "DDFA dense, learned B (float)": ("float", {"rule": "ddfa"}),
    "DDFA dense, learned B (fixed, bit-exact)": ("fixed", {"rule": "ddfa"}),
    "DDFA sparse k=1, learned B (float)": ("float", {"rule": "ddfa", "nonzeros_per_row": 1}),
    "DDFA sparse k=1, learned B (fixed, bit-exact)": ("fixed", {"rule": "ddfa", "nonzeros_per_row": 1}),
    "DFA rank-1 ternary B (float)": ("float", {"rule": "dfa", "rank": 1}),
    "DFA rank-1 ternary B (fixed, bit-exact)": ("fixed", {"rule": "dfa", "rank": 1}),
    "zero start: DFA dense, hardtanh, zero weights (float)": ("float", {"rule": "dfa"}, {"network": ZERO_START}),
    "zero start: DFA dense, hardtanh, zero weights (fixed, bit-exact)": ("fixed", {"rule": "dfa"},
                                                                         {"network": ZERO_START}),
}
ROWS = {**REFERENCE_ROWS, **LEARNED_ROWS}
#: a convolutional network's rows (``[[conv]]`` layers): backpropagation in float only (the fixed model has none
#: through a convolution), then the two feedback rules the convolutions learn by (hybrid and ddfa refuse them)
CONV_ROWS = {
    "BP (float)": ("float", {"rule": "bp"}),
    "DFA dense ternary (float)": ("float", {"rule": "dfa"}),
    "DFA dense ternary (fixed, bit-exact)": ("fixed", {"rule": "dfa"}),
    "SSDFA k=1 ternary (float)": ("float", {"rule": "ssdfa", "nonzeros_per_row": 1}),
    "SSDFA k=1 ternary (fixed, bit-exact)": ("fixed", {"rule": "ssdfa", "nonzeros_per_row": 1}),
}
#: the rows of the second curve plot: the learned rows in float, against BP's and DFA's
LEARNED_CURVES = ["BP (float)", "DFA dense ternary (float)",
                  *(label for label, (backend, *_) in LEARNED_ROWS.items() if backend == "float")]


def add_arguments(parser):
    parser.add_argument("--configs", nargs="+", default=[str(CONFIGS / f"{name}.toml") for name in
                                                         ("digits", "mnist5k", "digits-conv", "mnist5k-conv")])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--out", default="build/bench")


def config_variant(config, **sections):
    """The configuration with other settings, validated and derived again like any config.

    Parameters
    ----------
    config : Config
    **sections : dict
        ``section={key: value}`` overrides, e.g. ``feedback={"rule": "bp"}``; an array of tables takes them in
        every table (``conv={"feedback": "lfsr"}``: every ``[[conv]]`` layer). A new rule resets what
        follows the rule, unless the overrides give it: ``bp_fraction``; ``nonzeros_per_row`` and
        ``scale_shift`` unless both rules take a sparse ``k`` (:data:`SPARSE_RULES`; rule ``ddfa``'s ``k``
        defaults to dense); ``rank`` unless the new rule is ``dfa``; and, from rule ``ddfa``, its own keys
        (:data:`LEARNED_KEYS`).
    """
    data = config.to_dict()
    del data["derived"]
    for section, overrides in sections.items():
        for table in data[section] if isinstance(data[section], list) else [data[section]]:
            table.update(overrides)
    rule = data["feedback"]["rule"]
    if rule != config.rule:
        reset = {"feedback": ["bp_fraction"]}
        if not {rule, config.rule} <= SPARSE_RULES:
            reset["feedback"] += ["scale_shift", "nonzeros_per_row"]
        if rule != "dfa":
            reset["feedback"].append("rank")
        if config.rule == "ddfa":
            for section, keys in LEARNED_KEYS.items():
                reset.setdefault(section, []).extend(keys)
        for section, keys in reset.items():
            for key in keys:
                if key not in sections.get(section, {}):
                    data[section].pop(key, None)
    return config_from_dict(data, source=config.source)


def bench_row(config, split, label, backend, sections, seeds) -> dict:
    """One row over seeds ``0..seeds-1``, or ``{"backend": ..., "error": reason}`` when the configuration or backend
    cannot take it (a network without hidden layers has no feedback to learn, say)."""
    try:
        variant = config_variant(config, **sections)
        runs = [run_training(backend, variant, split, config.epochs, seed,
                             label=f"{config.name}: {label} seed {seed}")[1] for seed in range(seeds)]
    except FAILURES as exc:
        return {"backend": backend, "error": one_line(exc)}
    accuracy = [r["test_accuracy"] for r in runs]
    return {
        "backend": backend, "test_accuracy": accuracy, "mean": float(np.mean(accuracy)),
        "seconds_per_epoch_median": float(np.median([s for r in runs for s in r["epoch_seconds"]])),
        "history_seed0": runs[0]["history"],
    }


def rows_of(config) -> dict:
    """The rows a configuration takes: :data:`CONV_ROWS` for a convolutional network, else :data:`ROWS`."""
    return CONV_ROWS if config.convs else ROWS


def bench_config(path, seeds):
    config = load_config(path)
    split = load_data(config)
    rows = {}
    table = rows_of(config)
    width = max(map(len, table))
    for label, (backend, overrides, *others) in table.items():
        sections = {"feedback": overrides, **(others[0] if others else {})}
        row = rows[label] = bench_row(config, split, label, backend, sections, seeds)
        result = (f"not measured: {row['error']}" if "error" in row else
                  f"{100 * row['mean']:6.2f}%  ({', '.join(f'{100 * a:.1f}' for a in row['test_accuracy'])})")
        print(f"  {config.name:>8}  {label:<{width}} {result}", flush=True)
    return config, split, rows


def table_row(label, row) -> tuple:
    if "error" in row:
        return label, f"not measured: {row['error']}", "", ""
    return (label, f"{100 * row['mean']:.2f}%", ", ".join(f"{100 * a:.1f}" for a in row["test_accuracy"]),
            f"{row['seconds_per_epoch_median']:.2f}")


def curves(rows, labels) -> dict:
    """Seed 0's learning curve of each measured row of ``labels``."""
    return {label: rows[label]["history_seed0"] for label in labels if "history_seed0" in rows.get(label, {})}


def markdown(results, machine, seeds):
    lines = ["# Golden model benchmark\n", f"Machine: {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}.",
             f"Test accuracy after the configured epochs, mean over seeds 0..{seeds - 1} (per seed in brackets); "
             "time per epoch is the median over all epochs and seeds.\n"]
    for name, entry in results.items():
        lines += [f"## {name}: {entry['net']} on {entry['dataset']} ({entry['train']} train / {entry['test']} test, "
                  f"{entry['epochs']} epochs)\n",
                  markdown_table(["model", "test accuracy", "per seed", "s/epoch"],
                                 [table_row(label, row) for label, row in entry["rows"].items()]), ""]
    return "\n".join(lines)


def main(args) -> int:
    check_given(args.out, "--out")
    check_seed_count(args.seeds)
    out = Path(args.out)
    check_folder(out, "--out")
    results = {}
    for path in args.configs:
        config, split, rows = bench_config(path, args.seeds)
        results[config.name] = {
            "net": network_text(config), "dataset": split.name, "epochs": config.epochs,
            "train": len(split.y_train), "test": len(split.y_test), "rows": rows, "config": config.to_dict(),
        }
        learning_curves(out / f"{config.name}_curves.png", curves(rows, REFERENCE_ROWS),
                        f"{config.name} ({split.name}), seed 0")
        learned = curves(rows, LEARNED_CURVES) if not config.convs else {}
        if learned:
            learning_curves(out / f"{config.name}_learned_curves.png", learned,
                            f"{config.name} ({split.name}): learned and reduced feedback, seed 0")
    machine = machine_info()
    write_json(out / "golden.json", {"seeds": args.seeds, "machine": machine, "results": results})
    text = markdown(results, machine, args.seeds)
    write_atomic(out / "golden.md", lambda f: f.write(text.encode()))
    print("\n" + text)
    print(f"wrote {out / 'golden.md'}, {out / 'golden.json'} and the curve plots")
    return 0
