"""``trifactor demo``: the float and the bit-exact fixed golden model trained side by side.

Until the learner core exists this is the main job: the same configuration, seed and data
order for both, accuracy per epoch printed as two columns, and a learning-curve plot.
"""

from pathlib import Path

import numpy as np

from trifactor.golden.config import load_config
from trifactor.golden.train import load_data

from .machine import machine_info
from .output import write_json
from .plots import learning_curves
from .train_cmd import run_training

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "digits.toml"


def add_arguments(parser):
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="TOML configuration (default: configs/digits.toml)")
    parser.add_argument("--epochs", type=int, help="default: [training] epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="build/demo", help="folder for the plot and JSON (default build/demo)")


def main(args) -> int:
    config = load_config(args.config)
    split = load_data(config)
    epochs = args.epochs or config.epochs
    print(f"{config.name}: {'-'.join(map(str, config.sizes))} {config.activation}, {config.loss}, {config.rule} "
          f"k={config.nonzeros_per_row}; {split.name}: {len(split.y_train)} train / {len(split.y_test)} test; seed {args.seed}")
    results = {}
    for backend in ("float", "fixed"):
        results[backend] = run_training(backend, config, split, epochs, args.seed, label=backend)[1]

    print(f"\n{'epoch':>5}  {'float':>7}  {'fixed':>7}   test accuracy (%)")
    for epoch in range(epochs):
        print(f"{epoch + 1:5d}  {100 * results['float']['history'][epoch]:7.2f}  {100 * results['fixed']['history'][epoch]:7.2f}")
    for backend, result in results.items():
        print(f"{backend:>5}: {np.median(result['epoch_seconds']):.2f} s/epoch (median)")

    out = Path(args.out)
    learning_curves(out / "learning_curves.png", {f"{b} golden": r["history"] for b, r in results.items()},
                    f"{'-'.join(map(str, config.sizes))} {config.rule} k={config.nonzeros_per_row} on {split.name}")
    write_json(out / "demo.json", {"seed": args.seed, "epochs": epochs, "results": results,
                                   "machine": machine_info(), "config": config.to_dict()})
    print(f"\nwrote {out / 'learning_curves.png'} and {out / 'demo.json'}")
    return 0
