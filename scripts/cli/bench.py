"""``trifactor bench``: accuracy and speed of the golden models, measured, never typed in.

For each data set, the reference rows of docs (BP, DFA, SSDFA k=1 continuous, SSDFA k=1
ternary, all float) and the bit-exact fixed model (SSDFA, hybrid and BP), each over several seeds with the
configuration's epochs. Writes ``golden.json`` and ``golden.md`` (tables) and a learning
curve plot per data set; prints the tables.
"""

from pathlib import Path

import numpy as np

from trifactor.golden.config import config_from_dict, load_config
from trifactor.golden.train import load_data
from trifactor.training import run_training

from ..util.checks import check_given, check_seed_count
from ..util.machine import machine_info
from ..util.output import check_folder, write_atomic, write_json
from ..util.plots import learning_curves
from ..util.tables import markdown_table

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SPARSE_RULES = {"ssdfa", "hybrid"}  # the rules whose feedback rows have nonzeros_per_row entries

# label -> (backend, feedback overrides)
ROWS = {
    "BP (float)": ("float", {"rule": "bp"}),
    "DFA dense ternary (float)": ("float", {"rule": "dfa"}),
    "SSDFA k=1 continuous (float)": ("float", {"values": "continuous"}),
    "SSDFA k=1 ternary (float)": ("float", {}),
    "SSDFA k=1 ternary (fixed, bit-exact)": ("fixed", {}),
    "hybrid, 25% BP (fixed, bit-exact)": ("fixed", {"rule": "hybrid"}),
    "BP (fixed, bit-exact)": ("fixed", {"rule": "bp"}),
}


def add_arguments(parser):
    parser.add_argument("--configs", nargs="+", default=[str(CONFIGS / "digits.toml"), str(CONFIGS / "mnist5k.toml")])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--out", default="build/bench")


def config_variant(config, **sections):
    """The configuration with other settings, validated and derived again like any config.

    Parameters
    ----------
    config : Config
    **sections : dict
        ``section={key: value}`` overrides, e.g. ``feedback={"rule": "bp"}``. A new rule resets what
        follows the rule (``bp_fraction``; ``nonzeros_per_row`` and ``scale_shift`` unless both rules
        take a sparse ``k``).
    """
    data = config.to_dict()
    del data["derived"]
    for section, overrides in sections.items():
        data[section].update(overrides)
    feedback = data["feedback"]
    if feedback["rule"] != config.rule:
        del feedback["bp_fraction"]
        if not {feedback["rule"], config.rule} <= SPARSE_RULES:
            del feedback["scale_shift"], feedback["nonzeros_per_row"]
    return config_from_dict(data, source=config.source)


def bench_config(path, seeds):
    config = load_config(path)
    split = load_data(config)
    rows = {}
    for label, (backend, overrides) in ROWS.items():
        variant = config_variant(config, feedback=overrides)
        runs = [run_training(backend, variant, split, config.epochs, seed, label=f"{config.name}: {label} seed {seed}")[1]
                for seed in range(seeds)]
        accuracy = [r["test_accuracy"] for r in runs]
        rows[label] = {
            "backend": backend, "test_accuracy": accuracy, "mean": float(np.mean(accuracy)),
            "seconds_per_epoch_median": float(np.median([s for r in runs for s in r["epoch_seconds"]])),
            "history_seed0": runs[0]["history"],
        }
        print(f"  {config.name:>8}  {label:<38} {100 * rows[label]['mean']:6.2f}%  "
              f"({', '.join(f'{100 * a:.1f}' for a in accuracy)})", flush=True)
    return config, split, rows


def markdown(results, machine, seeds):
    lines = ["# Golden model benchmark\n", f"Machine: {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}.",
             f"Test accuracy after the configured epochs, mean over seeds 0..{seeds - 1} (per seed in brackets); "
             "time per epoch is the median over all epochs and seeds.\n"]
    for name, entry in results.items():
        lines += [f"## {name}: {entry['net']} on {entry['dataset']} ({entry['train']} train / {entry['test']} test, "
                  f"{entry['epochs']} epochs)\n",
                  markdown_table(["model", "test accuracy", "per seed", "s/epoch"],
                                 [(label, f"{100 * row['mean']:.2f}%", ", ".join(f"{100 * a:.1f}" for a in row["test_accuracy"]),
                                   f"{row['seconds_per_epoch_median']:.2f}") for label, row in entry["rows"].items()]), ""]
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
            "net": "-".join(map(str, config.sizes)), "dataset": split.name, "epochs": config.epochs,
            "train": len(split.y_train), "test": len(split.y_test), "rows": rows, "config": config.to_dict(),
        }
        learning_curves(out / f"{config.name}_curves.png", {label: r["history_seed0"] for label, r in rows.items()},
                        f"{config.name} ({split.name}), seed 0")
    machine = machine_info()
    write_json(out / "golden.json", {"seeds": args.seeds, "machine": machine, "results": results})
    text = markdown(results, machine, args.seeds)
    write_atomic(out / "golden.md", lambda f: f.write(text.encode()))
    print("\n" + text)
    print(f"wrote {out / 'golden.md'}, {out / 'golden.json'} and the curve plots")
    return 0
