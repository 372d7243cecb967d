"""Your own data in trifactor, from Python: scikit-learn's wine data (13 features, 3 classes) trained on the
float and fixed golden models and on the core in Verilator, the learning curves plotted, then built for the
iCEBreaker. docs/examples/own-data.md walks through it.

    .venv/bin/python docs/examples/own_data.py                  # float, fixed, rtl; build/own-data/curves.png
    .venv/bin/python docs/examples/own_data.py --board icebreaker   # and the bitstream (a few minutes)

Run it from the repository's root (the RTL build is cached under build/rtl/, as trifactor train's is).
"""

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

import trifactor

ROOT = Path(__file__).resolve().parents[2]


def write_wine_csv(path: Path) -> Path:
    """scikit-learn's wine data as a CSV file: a header row, 13 feature columns, the class (0, 1, 2) last."""
    from sklearn.datasets import load_wine

    wine = load_wine()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow([*wine.feature_names, "class"])
        out.writerows([*map(float, x), int(label)] for x, label in zip(wine.data, wine.target))
    return path


def plot_curves(runs: dict, path: Path) -> Path:
    """Test accuracy after each epoch, one line per backend, into ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    for (backend, run), style in zip(runs.items(), ("-o", "--s", ":^", "-.v")):
        ax.plot(range(1, len(run.history) + 1), [100 * a for a in run.history], style, label=backend)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{runs[next(iter(runs))].config.name}: {'-'.join(map(str, runs[next(iter(runs))].config.sizes))}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="float,fixed,rtl", help="comma-separated (default float,fixed,rtl)")
    parser.add_argument("--epochs", type=int, help="default: the configuration's [training] epochs")
    parser.add_argument("--out", default="build/own-data", help="the CSV file and the plot go here")
    parser.add_argument("--board", help="also build the bitstream for this board (icebreaker, ulx3s-85f)")
    args = parser.parse_args(argv)
    out = Path(args.out)

    # 1. the configuration: sizes start with the 13 features and end with the 3 classes
    cfg = trifactor.load_config(ROOT / "configs" / "wine.toml")

    # 2. the data, from arrays ...
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    data = trifactor.datasets.from_arrays(X, y, config=cfg, name="wine")
    # ... or from a file: the same samples, the same split and standardisation
    from_csv = trifactor.datasets.from_file(write_wine_csv(out / "wine.csv"), config=cfg)
    assert np.array_equal(from_csv.x_train, data.x_train) and np.array_equal(from_csv.y_test, data.y_test)
    print(f"wine: {data.n_features} features, {data.n_classes} classes, "
          f"{len(data.y_train)} training / {len(data.y_test)} test samples")

    # 3. train each backend from the same initial weights (seed) on the same sample order
    runs = {backend: trifactor.train(cfg, data, backend=backend, epochs=args.epochs, seed=0, quiet=True)
            for backend in args.backends.split(",")}
    print("epoch " + "".join(f"{backend:>9}" for backend in runs) + "   test accuracy (%)")
    for epoch in range(len(next(iter(runs.values())).history)):
        print(f"{epoch + 1:5d} " + "".join(f"{100 * run.history[epoch]:9.2f}" for run in runs.values()))
    if "rtl" in runs:
        rtl = runs["rtl"]
        print(f"rtl: {rtl.result['cycles_per_sample']:.1f} cycles per training sample "
              f"({rtl.counters['samples']} samples counted), MAC utilization {rtl.result['mac_utilization']:.3f}")
        if "fixed" in runs:
            same = all(np.array_equal(runs["fixed"].weights[k], rtl.weights[k]) for k in rtl.weights)
            print(f"rtl weights equal the fixed golden model's bit for bit: {same}")
            if not same:
                return 1
    print(f"learning curves: {plot_curves(runs, out / 'curves.png')}")

    # 4. the core for a board (yosys + nextpnr; a few minutes), or the same from the command line:
    #    trifactor build --config configs/wine.toml --board icebreaker
    if args.board:
        report = trifactor.build(cfg, args.board)
        print(f"{args.board}: {report['bitstream']}, core clock {report['clock_mhz']:g} MHz, Fmax {report['fmax_mhz']:.1f} MHz")
    else:
        print("next: trifactor build --config configs/wine.toml --board icebreaker")
    return 0


if __name__ == "__main__":
    sys.exit(main())
