"""What every core testbench checks against golden: the samples, the expected cost counters, the weights.

Shared by the cocotb testbenches of the core (``tb/core``), the data store (``tb/store``) and the
host link (``tb/link``); they run in the simulator's Python, so this imports no pytest.
"""

import numpy as np

from trifactor.golden.fixedpoint import Overflow
from trifactor.golden.train import load_data
from trifactor.hdl.layout import WeightLayout
from trifactor.hdl.protocol import COST_NAMES

__all__ = ["sample_data", "list_entries", "expected_costs", "assert_weights", "golden_epoch"]


def sample_data(cfg, params, rng):
    """A real data set (``digits``, ``mnist5k``) when the net fits it, else random inputs over the input format (many zeros)."""
    n = params["samples"] + params["test_samples"]
    if params["data"] in ("digits", "mnist5k"):
        split = load_data(cfg, params["data"])
        x = cfg.input.quantize(np.concatenate([split.x_train, split.x_test])[:n])
        y = np.concatenate([split.y_train, split.y_test])[:n]
    else:
        x = rng.integers(cfg.input.min, cfg.input.max + 1, (n, cfg.sizes[0]))
        x[rng.random(x.shape) < 0.3] = 0
        y = rng.integers(0, cfg.n_classes, n)
    return x, y


def list_entries(cfg, step, layer) -> int:
    """Entries of weight layer ``layer``'s input list (``hdl/core/input_lists.py``): the non-zero inputs with zero
    skipping, else all; a backpropagating core keeps its hidden zeros unless ReLU saturates."""
    exact = cfg.activation == "relu" and cfg.overflow is Overflow.SATURATE
    skips = cfg.zero_skipping and (layer == 0 or exact or not cfg.backprop)
    return int(np.count_nonzero(step["inputs"][layer])) if skips else cfg.sizes[layer]


def expected_costs(cfg, step) -> dict:
    """One training sample's cost counters (``hdl.protocol.COST_NAMES``) from golden's ``train_sample`` intermediates.

    As the sweeper walks (``hdl/core/sweeper.py``): a sweep of layer ``l`` walks its neuron
    groups of ``lanes`` neurons; each group issues one element per entry of the layer
    input's list (:func:`list_entries`) and one for the bias. Each element is a MAC in each
    used lane (the group's neurons; none for a backward sweep's bias) and a bank word read
    in every lane (past the layer's last neuron too); an update element also writes every
    lane. The forward sweep walks every group; the update skips a group whose deltas are all
    0 (zero skipping). On a backpropagation sample every layer but the first is swept
    backward before its update (every group), and the delta provider asks for its deltas
    twice (``hdl.layout.sweeps_backward``). A feedback sample's error path reads a hidden
    neuron's k feedback values (one ROM row; the output layer's error rows hold none); it
    delivers one delta per request of a hidden neuron.
    """
    lay, lanes, backprop = WeightLayout(cfg), cfg.lanes, bool(step["backprop"])
    costs = dict.fromkeys(COST_NAMES, 0)
    learned = cfg.rule == "ddfa"  # hdl/rules/learned_path.py: its passes walk every input, B's every class
    for l, spec in enumerate(cfg.layers):
        if spec.conv:
            _conv_costs(cfg, step, spec, costs)
            continue
        entries = list_entries(cfg, step, l)
        deltas = np.asarray(step["delta"][l])
        walks = 2 if backprop and l > 0 else 1  # the provider's walks over the layer
        if spec.hidden:
            costs["error_path_deltas"] += walks * spec.n_out
        if spec.hidden and learned:  # the feedback pass: C elements a group, every lane's B word
            costs["error_path_feedback_reads"] += lay.groups(l) * cfg.n_classes * lanes
            costs["error_path_macs"] += spec.n_out * cfg.n_classes
        elif spec.hidden and not backprop:  # k entries of B per hidden neuron (low rank: r signs of Q)
            costs["error_path_feedback_reads"] += spec.n_out * (cfg.rank or cfg.nonzeros_per_row)
        if learned and l > 0:  # the tangent pass over the layer's old weights: every input, no bias
            costs["error_path_macs"] += spec.n_out * spec.n_in
            costs["error_path_weight_reads"] += lay.groups(l) * spec.n_in * lanes
        for g in range(lay.groups(l)):
            used = min(lanes, spec.n_out - g * lanes)
            costs["forward_macs"] += used * (entries + 1)
            costs["forward_weight_reads"] += lanes * (entries + 1)
            if walks == 2:
                costs["error_path_macs"] += used * entries
                costs["error_path_weight_reads"] += lanes * (entries + 1)
            if cfg.zero_skipping and not deltas[g * lanes:g * lanes + used].any():
                continue
            costs["update_macs"] += used * (entries + 1)
            costs["update_weight_reads"] += lanes * (entries + 1)
            costs["update_weight_writes"] += lanes * (entries + 1)
    return costs


def _conv_costs(cfg, step, spec, costs):
    """A convolution layer's counts (``hdl/core/window_walker.py``): at every position, each channel group walks the
    window's elements inside the image and the bias; a frozen layer has no deltas and no update walk."""
    lanes, groups = cfg.lanes, -(-spec.n_out // cfg.lanes)
    inside = (spec.conv.windows() >= 0).sum(axis=1)
    deltas = np.asarray(step["delta"][spec.index]).reshape(spec.positions, spec.n_out)
    if spec.trained:
        costs["error_path_deltas"] += spec.neurons
        costs["error_path_feedback_reads"] += spec.neurons * cfg.nonzeros_per_row
    for position, elements in enumerate(inside.tolist()):
        for g in range(groups):
            used = min(lanes, spec.n_out - g * lanes)
            costs["forward_macs"] += used * (elements + 1)
            costs["forward_weight_reads"] += lanes * (elements + 1)
            if not spec.trained or cfg.zero_skipping and not deltas[position, g * lanes:g * lanes + used].any():
                continue
            costs["update_macs"] += used * (elements + 1)
            costs["update_weight_reads"] += lanes * (elements + 1)
            costs["update_weight_writes"] += lanes * (elements + 1)


def assert_weights(got, want, when):
    for layer, (g, w) in enumerate(zip(got, want)):
        if not np.array_equal(g, w):
            rows, cols = np.nonzero(g != w)
            raise AssertionError(f"{when}: layer {layer} differs at {len(rows)} weights, first W[{rows[0]}, {cols[0]}] "
                                 f"= {g[rows[0], cols[0]]}, golden {w[rows[0], cols[0]]}")


def golden_epoch(golden, x, y, order) -> int:
    """Train ``golden`` on ``order``; the predictions it got right (made before each update)."""
    return sum(int(golden.train_sample(x[i], int(y[i]))["prediction"] == y[i]) for i in order)
