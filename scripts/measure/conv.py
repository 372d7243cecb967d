"""Part ``conv``: convolutional networks (``[[conv]]`` layers), trained in the float and the bit-exact fixed golden
model over seeds, against backpropagation and the MLP of the same weight budget.

For each network of :data:`NETWORKS` (digits from ``configs/digits-conv.toml``, MNIST 5k from
``configs/mnist5k-conv.toml``), the rows of :data:`ROWS`, each over seeds ``0..S-1`` with the configuration's
epochs (``run_training``, as ``trifactor bench`` and ``compare``):

- **BP CNN** (float only: the fixed model has no backpropagation through a convolution): the same network with
  ``[feedback] rule = "bp"``;
- **frozen convolutions + SSDFA head** (Crafton et al.'s transfer): per seed, the BP CNN's weights of that seed
  (saved to a temporary ``.npz``) are the ``[network] transfer`` of the same network with every ``[[conv]]`` layer
  ``mode = "frozen"``, and the dense head learns by SSDFA k=1, in float and in fixed point (the core's case: the
  convolutions trained offline, the head on chip);
- **convolutional DFA**: the configuration as given, every layer trained by its feedback rule;
- **control**: the same, the convolutions frozen at their random initialisation (the seed's own, saved the same
  way): what the trained convolutions add over random features;
- **MLP of the same weight budget**: the reference MLP's configuration (``configs/digits.toml``,
  ``configs/mnist5k.toml``: SSDFA k=1) with one hidden layer sized so its weights (biases included) are about the
  CNN's;
- **the reference MLP** itself, the figure a CNN trained on chip has to beat.

The section ends with the aims, met or not: on MNIST 5k, the frozen convolutions with the on-chip head at least
:data:`FROZEN_AIM` in fixed point, and, on every network, the CNN trained entirely on chip (fixed) above the
reference MLP (fixed).
"""

import tempfile
from pathlib import Path

import numpy as np

from trifactor.golden.config import config_from_dict
from trifactor.golden.float_model import init_weights, weight_arrays
from trifactor.golden.train import load_data

from ..util.tables import markdown_table
from .common import FAILURES, Steps, config, one_line, pct, variant

__all__ = ["DESCRIPTION", "NETWORKS", "ROWS", "FROZEN_AIM", "weight_count", "budget_hidden", "frozen_variant",
           "measure"]

DESCRIPTION = ("convolutional networks over seeds, float and bit-exact fixed: BP, frozen BP-trained convolutions "
               "with an on-chip SSDFA head, convolutional DFA trained on chip, and MLPs of the same weight budget")

#: (job, the CNN's configuration, the reference MLP's configuration, title)
NETWORKS = [
    ("digits", "digits-conv", "digits", "digits 8x8x1"),
    ("mnist5k", "mnist5k-conv", "mnist5k", "MNIST 5k 28x28x1"),
]
#: (row, label, backends): the rows of every network's table, in order
ROWS = [
    ("bp", "BP CNN", ("float",)),
    ("frozen", "frozen BP convolutions + SSDFA k=1 head (transfer)", ("float", "fixed")),
    ("trained", "convolutional DFA: the configuration, every layer trained", ("float", "fixed")),
    ("control", "control: convolutions frozen at their random initialisation", ("float", "fixed")),
    ("budget", "MLP of the same weight budget, SSDFA k=1", ("float", "fixed")),
    ("reference", "reference MLP", ("float", "fixed")),
]
#: aim (a): the frozen convolutions with the on-chip head, fixed point, by job
FROZEN_AIM = {"mnist5k": 0.953}
#: the keys of a ``[[conv]]`` table that only a trained layer takes
TRAINED_ONLY = ("feedback", "dilation", "groups")
SSDFA_HEAD = {"rule": "ssdfa", "nonzeros_per_row": 1}


def steps(options) -> int:
    return len(NETWORKS) * sum(len(backends) for *_, backends in ROWS) * options.seeds


def weight_count(cfg) -> int:
    """Every weight and bias of the network (a convolution's kernels once, however many positions they visit)."""
    return sum(spec.n_out * (spec.n_in + 1) for spec in cfg.layers)


def budget_hidden(weights: int, n_in: int, n_out: int) -> int:
    """The hidden size ``H`` of an ``n_in-H-n_out`` MLP whose ``H (n_in + 1) + n_out (H + 1)`` weights are closest
    to ``weights``."""
    return max(1, round((weights - n_out) / (n_in + 1 + n_out)))


def shape_text(cfg) -> str:
    """The network in one line: ``8x8x1 -> conv 8ch 3x3 s2 p1 -> 128 -> 10``."""
    parts = ["x".join(map(str, cfg.input_shape))] if cfg.convs else [str(cfg.sizes[0])]
    for conv in cfg.convs:
        pool = f" pool {conv.pool}" if conv.pool > 1 else ""
        parts.append(f"conv {conv.channels}ch {conv.kernel}x{conv.kernel} s{conv.stride} p{conv.padding}{pool}"
                     + (" (frozen)" if not conv.trained else ""))
    parts += [str(n) for n in cfg.sizes[max(len(cfg.convs), 1):]]  # sizes: the input, each conv's output, ...
    return " → ".join(parts)


def frozen_variant(base, transfer, feedback=None):
    """``base`` with every ``[[conv]]`` layer ``mode = "frozen"`` and ``[network] transfer = transfer``; with
    ``feedback`` (``{key: value}``) the head's rule too (as ``trifactor bench`` makes a variant)."""
    data = (variant(base, feedback=feedback) if feedback else base).to_dict()
    del data["derived"]
    # a frozen layer takes none of a trained layer's feedback keys
    data["conv"] = [{**{key: value for key, value in layer.items() if key not in TRAINED_ONLY}, "mode": "frozen"}
                    for layer in data["conv"]]
    data["network"]["transfer"] = str(transfer)
    return config_from_dict(data, source=base.source)


def save_weights(path: Path, arrays: dict) -> Path:
    np.savez(path, **arrays)
    return path


def run_cell(what, config_for, split, backend, epochs, seeds, say, keep=None) -> dict:
    """One row in one backend over seeds ``0..seeds-1``; ``config_for(seed)`` gives the seed's configuration and
    ``keep(seed, model)``, if given, is called with each trained model (the BP CNN's weights are kept this way)."""
    from trifactor.training import run_training

    runs = []
    for seed in range(seeds):
        say.start(f"{what}, seed {seed}")
        try:
            model, result = run_training(backend, config_for(seed), split, epochs, seed, quiet=True)
        except FAILURES as exc:
            say.end(f"not measured: {one_line(exc)}")
            return {"backend": backend, "error": one_line(exc)}
        if keep:
            keep(seed, model)
        runs.append(result)
        say.end(pct(result["test_accuracy"]))
    accuracy = [r["test_accuracy"] for r in runs]
    return {"backend": backend, "per_seed": accuracy, "mean": float(np.mean(accuracy)),
            "sd": float(np.std(accuracy, ddof=1)) if len(accuracy) > 1 else 0.0,
            "seconds_per_epoch_median": float(np.median([s for r in runs for s in r["epoch_seconds"]])),
            "history_seed0": runs[0]["history"]}


def skipped(backends, reason) -> dict:
    return {backend: {"backend": backend, "error": reason} for backend in backends}


def measure_network(job, cnn_name, mlp_name, title, options, say, folder: Path) -> dict:
    """Every row of one network over the seeds; ``folder`` holds the transferred weights while it runs."""
    base, reference = config(cnn_name), config(mlp_name)
    split = load_data(base)
    epochs = options.epochs or base.epochs
    cnn_weights = weight_count(base)
    hidden = budget_hidden(cnn_weights, reference.sizes[0], reference.n_classes)
    budget = variant(reference, network={"sizes": [reference.sizes[0], hidden, reference.n_classes]},
                     feedback=SSDFA_HEAD)
    transfers = {"bp": {}, "init": {}}
    for seed in range(options.seeds):  # the control's convolutions: each seed's random initialisation
        transfers["init"][seed] = save_weights(folder / f"{job}-init-seed{seed}.npz",
                                               weight_arrays(init_weights(base, seed)))

    def keep_bp(seed, model):
        transfers["bp"][seed] = save_weights(folder / f"{job}-bp-seed{seed}.npz", model.arrays())

    def frozen_from(kind, feedback=None):
        return lambda seed: frozen_variant(base, transfers[kind][seed], feedback)

    rows = {
        "bp": (lambda seed: variant(base, feedback={"rule": "bp"}), f"configs/{cnn_name}.toml, [feedback] rule = bp"),
        "frozen": (frozen_from("bp", SSDFA_HEAD), f"configs/{cnn_name}.toml, [[conv]] mode = frozen, [network] "
                   "transfer = the BP CNN's weights of the same seed, [feedback] rule = ssdfa, nonzeros_per_row = 1"),
        "trained": (lambda seed: base, f"configs/{cnn_name}.toml"),
        "control": (frozen_from("init"), f"configs/{cnn_name}.toml, [[conv]] mode = frozen, [network] transfer = "
                    "the seed's own initial weights"),
        "budget": (lambda seed: budget, f"configs/{mlp_name}.toml, [network] sizes = {list(budget.sizes)}, "
                   "[feedback] rule = ssdfa, nonzeros_per_row = 1"),
        "reference": (lambda seed: reference, f"configs/{mlp_name}.toml"),
    }
    shapes = {"bp": base, "frozen": base, "trained": base, "control": base, "budget": budget, "reference": reference}
    entry = {"title": title, "config": f"configs/{cnn_name}.toml", "network": shape_text(base),
             "reference_config": f"configs/{mlp_name}.toml", "dataset": split.name, "train": len(split.y_train),
             "test": len(split.y_test), "epochs": epochs, "cnn_weights": cnn_weights, "rule": base.rule,
             "nonzeros_per_row": base.nonzeros_per_row, "rows": {}}
    for key, label, backends in ROWS:
        config_for, text = rows[key]
        row = entry["rows"][key] = {"label": label, "configuration": text, "network": shape_text(shapes[key]),
                                    "weights": weight_count(shapes[key])}
        if key == "frozen" and len(transfers["bp"]) < options.seeds:
            row.update(skipped(backends, "the BP CNN was not measured, so there are no weights to transfer"))
            continue
        own = options.epochs or shapes[key].epochs  # the MLPs: their configuration's epochs
        for backend in backends:
            row[backend] = run_cell(f"{job}: {label} ({backend})", config_for, split, backend, own, options.seeds,
                                    say, keep_bp if key == "bp" else None)
    entry["aims"] = aims(job, entry)
    return entry


def aims(job, entry) -> list:
    """``[{"aim", "met", "why"}]``: (a) on the jobs of :data:`FROZEN_AIM`, (b) on every job."""
    rows, out = entry["rows"], []
    if job in FROZEN_AIM:
        cell, goal = rows["frozen"].get("fixed", {}), FROZEN_AIM[job]
        met = "mean" in cell and cell["mean"] >= goal
        why = (f"fixed mean {accuracy_text(cell)}, seeds {seeds_text(cell)} %" if "mean" in cell else
               f"not measured: {cell.get('error', '')}")
        out.append({"aim": f"(a) frozen BP convolutions + on-chip SSDFA head, fixed point, ≥ {pct(goal)}",
                    "met": met, "why": why})
    cnn, mlp = rows["trained"].get("fixed", {}), rows["reference"].get("fixed", {})
    met = "mean" in cnn and "mean" in mlp and cnn["mean"] > mlp["mean"]
    why = (f"CNN fixed {accuracy_text(cnn)} (seeds {seeds_text(cnn)} %) against the MLP's {accuracy_text(mlp)} "
           f"(seeds {seeds_text(mlp)} %): {100 * (cnn['mean'] - mlp['mean']):+.2f} points; seeds above the MLP's "
           f"mean: {sum(a > mlp['mean'] for a in cnn['per_seed'])} of {len(cnn['per_seed'])}"
           if "mean" in cnn and "mean" in mlp else "not measured")
    out.append({"aim": f"(b) the CNN trained entirely on chip (fixed) beats the reference MLP {entry['reference_config']} "
                       "(fixed)", "met": met, "why": why})
    return out


def accuracy_text(cell: dict) -> str:
    if "error" in cell:
        return f"not measured: {cell['error']}"
    if "mean" not in cell:
        return "— (float only)"
    return f"{pct(cell['mean'])} ± {100 * cell['sd']:.2f}"


def seeds_text(cell: dict) -> str:
    return ", ".join(f"{100 * a:.2f}" for a in cell.get("per_seed", []))


def seconds_text(cell: dict) -> str:
    return f"{cell['seconds_per_epoch_median']:.2f}" if "seconds_per_epoch_median" in cell else ""


def network_lines(entry: dict) -> list:
    """The lines of one network's table and its aims."""
    table = []
    for key, label, _ in ROWS:
        row = entry["rows"][key]
        float_cell, fixed_cell = row.get("float", {}), row.get("fixed", {})
        table.append([label, f"`{row['configuration']}`", row["network"], f"{row['weights']:,}",
                      accuracy_text(float_cell), seeds_text(float_cell),
                      accuracy_text(fixed_cell), seeds_text(fixed_cell),
                      f"{seconds_text(float_cell) or '—'} / {seconds_text(fixed_cell) or '—'}"])
    header = ["model", "configuration", "network", "weights", "float (mean ± sd)", "float per seed (%)",
              "fixed, bit-exact (mean ± sd)", "fixed per seed (%)", "s/epoch float / fixed"]
    lines = [markdown_table(header, table), "", "Aims:", ""]
    lines += [f"- {aim['aim']}: **{'met' if aim['met'] else 'not met'}** ({aim['why']})." for aim in entry["aims"]]
    return lines + [""]


def measure(options, say: Steps):
    """Every network's rows over seeds ``0..options.seeds-1``, ``options.epochs`` epochs (default the configuration's);
    returns (markdown body, data)."""
    seeds = f"seeds 0-{options.seeds - 1}" if options.seeds > 1 else "seed 0"
    data = {}
    body = [f"Test accuracy after the configuration's epochs (or `--epochs`), over {seeds}: mean ± standard deviation "
            "and each seed's, in the float golden model and the bit-exact fixed one (`trifactor train --backend "
            "float|fixed`). BP CNN: the same network trained by backpropagation, float only. Frozen BP convolutions: "
            "per seed, the BP CNN's weights of that seed are the `[network] transfer` of the same network with every "
            "`[[conv]]` layer `mode = \"frozen\"`, and only the dense head learns, by SSDFA k=1 (Crafton et al.'s "
            "transfer: the convolutions trained offline, the head on chip). Convolutional DFA: the configuration as "
            "given, every layer trained by its feedback rule (the convolutions by convolutional DFA, Han et al.). The "
            "control freezes the convolutions at the seed's own random initialisation instead. The MLPs: the reference "
            "MLP's configuration, and the same with one hidden layer sized so its weights are about the CNN's. "
            "Weights count every weight and bias (a kernel once, however many positions it visits). s/epoch: the "
            "median over the row's epochs and seeds, on this machine.", ""]
    with tempfile.TemporaryDirectory(prefix="trifactor-conv-") as folder:
        for job, cnn_name, mlp_name, title in NETWORKS:
            entry = data[job] = measure_network(job, cnn_name, mlp_name, title, options, say, Path(folder))
            epochs = entry["epochs"]
            rule = entry["rule"] + (f" k={entry['nonzeros_per_row']}" if entry["rule"] == "ssdfa" else "")
            body += [f"### {title}: {entry['network']}", "",
                     f"`{entry['config']}` ({rule}, {entry['cnn_weights']:,} weights): {entry['dataset']}, "
                     f"{entry['train']} training / {entry['test']} test samples, {epochs} epoch"
                     f"{'s' if epochs > 1 else ''}.", "", *network_lines(entry)]
    return "\n".join(body), data
