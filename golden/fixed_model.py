"""The bit-exact integer model of the hardware: the specification every RTL block is checked against.

One function per hardware unit, integers only (NumPy ``int64``), in the order the RTL
computes. ``docs/fixed-point.md`` walks through the same steps with the formats.

Per training sample (``x`` already quantised to the input format, ``t`` the label):

1. :func:`forward_layer` for every layer: accumulate ``W @ [x, 1]`` exactly, shift to the
   activation fraction with the configured rounding, then (hidden layers) the activation
   and its derivative flag ``f'``, narrowed to the activation format; the output layer's
   scores are narrowed the same way.
2. :func:`softmax_error` or :func:`mse_error`: the output error ``e`` in the error format.
3. Hidden deltas, last hidden layer first; the output layer's delta is ``e`` itself.
   Fixed feedback (rules ``ssdfa``, ``dfa``, and ``hybrid`` on its feedback samples),
   :func:`feedback_delta`: ``d_j = f'_j * narrow((sum_m sign_jm * e[index_jm]) >> scale_shift)``.
   Backpropagation (rule ``bp``, and ``hybrid`` on the samples its LFSR picks,
   :mod:`golden.lfsr`), :func:`backprop_delta`: ``d_i = f'_i * narrow((sum_j W[j, i] d_j) >> weight.frac)``
   with the layer above's weights before this sample's update. Learned feedback (rule ``ddfa``,
   :mod:`golden.learned`): the tangent pass, then :func:`~golden.learned.learned_delta` from ``B_l``.
4. :func:`update_layer` for every layer: ``W <- narrow(W - round((d_j * x_i) >> update_shift))``
   with ``x`` the layer's input as used in step 1 (bias input 1.0 last); rule ``ddfa`` then moves
   each ``B_l`` toward ``u_l d^T`` (:func:`~golden.learned.feedback_update`).

Every update uses only values from steps 1-3 of the same sample (BP's use the old
weights), so the layers can be updated in any order once the deltas are known. Predictions are ``argmax`` of the scores, the lowest index winning ties.
"""

import numpy as np

from .config import Config, LayerSpec
from .conv import conv_windows
from .feedback import Feedback, feedback_matrices
from .fixedpoint import Rounding, narrow, shift_right
from .lfsr import Directions, RuleChooser
from .float_model import init_weights, weight_arrays
from .learned import feedback_masks, feedback_update, initial_feedback, learned_delta, tangent_layer

__all__ = [
    "with_bias_input", "forward_layer", "activate", "exp2_table", "softmax_error", "mse_error",
    "feedback_delta", "backprop_delta", "update_layer", "predict", "FixedNet",
]


def with_bias_input(x: np.ndarray, spec: LayerSpec) -> np.ndarray:
    """Append the constant input 1.0 (in the layer's input format) that multiplies the bias column."""
    x = np.asarray(x, dtype=np.int64)
    return np.concatenate([x, np.full(x.shape[:-1] + (1,), spec.x.one, dtype=np.int64)], axis=-1)


def forward_layer(w: np.ndarray, x: np.ndarray, spec: LayerSpec, cfg: Config):
    """One layer forward: ``(acc, a, h, fprime)`` for one sample (``x`` 1-D) or a batch (2-D).

    - ``acc = W @ [x, 1]``: exact, ``spec.accumulator_width`` bits;
    - ``a = shift_right(acc, spec.forward_shift, cfg.rounding)``: activation fraction, not yet narrowed;
    - hidden ``relu``: ``fprime = a > 0``, ``h = narrow(max(a, 0))``;
      hidden ``hardtanh``: ``fprime = -1 < a < 1``, ``h = clip(a, -1, 1)``;
      output layer: ``fprime = 1``, ``h = narrow(a)`` (the scores ``y``).
    """
    acc = with_bias_input(x, spec) @ w.T
    a = shift_right(acc, spec.forward_shift, cfg.rounding)
    h, fprime = activate(a, spec.hidden, cfg)
    return acc, a, h, fprime


def activate(a, hidden: bool, cfg: Config):
    """``(h, fprime)`` of a layer's ``a`` (:func:`forward_layer`): its activation on a hidden layer, else the scores."""
    a = np.asarray(a, dtype=np.int64)
    if not hidden:
        return narrow(a, cfg.act, cfg.overflow), np.ones_like(a)
    if cfg.activation == "relu":
        fprime = (a > 0).astype(np.int64)
        h = narrow(np.maximum(a, 0), cfg.act, cfg.overflow)
    else:
        one = cfg.act.one
        fprime = ((a > -one) & (a < one)).astype(np.int64)
        h = np.clip(a, -one, one)
    return h, fprime


def conv_forward(w: np.ndarray, x: np.ndarray, spec: LayerSpec, cfg: Config):
    """One convolution layer forward: ``(acc, a, h, fprime)`` like :func:`golden.fixed_model.forward_layer`, with
    ``acc`` per position and channel (``(..., positions, channels)``), ``a`` and ``fprime`` per neuron
    (``(..., neurons)``, walk order) and ``h`` the output image (flat HWC, pooled)."""
    acc = with_bias_input(conv_windows(x, spec), spec) @ w.T
    a = shift_right(acc, spec.forward_shift, cfg.rounding).reshape(acc.shape[:-2] + (-1,))
    h, fprime = activate(a, True, cfg)
    return acc, a, spec.conv.pool_output(h), fprime


def conv_update(w: np.ndarray, x: np.ndarray, d: np.ndarray, spec: LayerSpec, cfg: Config) -> np.ndarray:
    """The position-by-position update of a convolution layer's kernels (module docstring, step 3)."""
    windows = with_bias_input(conv_windows(x, spec), spec)
    d = np.asarray(d, dtype=np.int64).reshape(spec.positions, spec.n_out)
    for position in np.flatnonzero(d.any(axis=1)):  # a position whose deltas are all 0 changes nothing
        step = shift_right(np.outer(d[position], windows[position]), spec.update_shift, cfg.update_rounding)
        w = narrow(w - step, cfg.weight, cfg.overflow)
    return w


def exp2_table(cfg: Config) -> np.ndarray:
    """``table[f] = round(2**(softmax_frac - f / 2**act.frac))`` for every fraction step ``f`` of a score."""
    steps = 1 << cfg.act.frac
    f = np.arange(steps, dtype=np.float64)
    return np.floor(2.0 ** (cfg.softmax_frac - f / steps) + 0.5).astype(np.int64)


def softmax_error(y: np.ndarray, label: int, cfg: Config, table: np.ndarray | None = None) -> dict:
    """Base-2 softmax minus the one-hot label, in the error format. Returns every intermediate.

    - ``z = max(y) - y`` (>= 0, activation fraction); ``n = z >> act.frac``, ``f = z & (2**act.frac - 1)``
    - ``u = table[f] >> n``: ``2**-z`` with ``softmax_frac`` fraction bits (truncated); the max gets 1.0
    - ``s = sum(u)``; reciprocal ``r = floor(2**R / s)`` with ``R = cfg.softmax_recip_bits``
    - ``p = shift_right(u * r, R - error.frac, cfg.rounding)``
    - ``e = narrow(p - onehot(label) * 1.0)``

    Base 2 instead of e scales the scores by ln 2: the net learns the same, with no multiplier.
    """
    table = exp2_table(cfg) if table is None else table
    y = np.asarray(y, dtype=np.int64)
    z = y.max() - y
    n, f = z >> cfg.act.frac, z & ((1 << cfg.act.frac) - 1)
    u = table[f] >> np.minimum(n, 63)
    s = int(u.sum())
    recip_bits = cfg.softmax_recip_bits
    r = (1 << recip_bits) // s
    p = shift_right(u * r, recip_bits - cfg.error.frac, cfg.rounding)
    onehot = np.zeros_like(p)
    onehot[label] = cfg.error.one
    e = narrow(p - onehot, cfg.error, cfg.overflow)
    return {"z": z, "u": u, "sum": s, "recip": r, "p": p, "e": e}


def mse_error(y: np.ndarray, label: int, cfg: Config) -> dict:
    """``e = narrow(y - onehot(label))`` in the error format (``y`` shifted from the activation fraction)."""
    y_e = shift_right(y, cfg.act.frac - cfg.error.frac, cfg.rounding)
    onehot = np.zeros_like(y_e)
    onehot[label] = cfg.error.one
    return {"p": y_e, "e": narrow(y_e - onehot, cfg.error, cfg.overflow)}


def output_error(y: np.ndarray, label: int, cfg: Config, table: np.ndarray | None = None) -> dict:
    """The configured loss's output error (see :func:`softmax_error`, :func:`mse_error`)."""
    return softmax_error(y, label, cfg, table) if cfg.loss == "softmax" else mse_error(y, label, cfg)


def feedback_delta(e: np.ndarray, fprime: np.ndarray, fb: Feedback, cfg: Config):
    """Hidden deltas ``(sum, d)``: ``sum_j = sum_m sign[j,m] * e[index[j,m]]`` (exact), ``d_j = f'_j * narrow(sum_j >> scale_shift)``."""
    total = (fb.sign * np.asarray(e, dtype=np.int64)[fb.index]).sum(axis=1)
    scaled = narrow(shift_right(total, fb.scale_shift, cfg.rounding), cfg.error, cfg.overflow)
    return total, scaled * fprime


def backprop_delta(w_above: np.ndarray, d_above: np.ndarray, fprime: np.ndarray, cfg: Config):
    """Backpropagated deltas ``(sum, d)``: ``sum_i = sum_j W[j, i] * d_above[j]`` (exact; the bias column
    takes no part), ``d_i = f'_i * narrow(shift_right(sum_i, weight.frac, rounding))`` in the error format."""
    total = np.asarray(d_above, dtype=np.int64) @ w_above[:, :-1]
    scaled = narrow(shift_right(total, cfg.weight.frac, cfg.rounding), cfg.error, cfg.overflow)
    return total, scaled * fprime


def update_layer(w: np.ndarray, x: np.ndarray, d: np.ndarray, spec: LayerSpec, cfg: Config) -> np.ndarray:
    """Three-scalar update: ``W[j, i] <- narrow(W[j, i] - shift_right(d[j] * x[i], update_shift, update_rounding))``."""
    step = shift_right(np.outer(d, with_bias_input(x, spec)), spec.update_shift, cfg.update_rounding)
    return narrow(w - step, cfg.weight, cfg.overflow)


def layer_forward(w: np.ndarray, x: np.ndarray, spec: LayerSpec, cfg: Config):
    """:func:`conv_forward` or :func:`forward_layer`, by the layer's kind."""
    return (conv_forward if spec.conv else forward_layer)(w, x, spec, cfg)


def layer_update(w: np.ndarray, x: np.ndarray, d: np.ndarray, spec: LayerSpec, cfg: Config) -> np.ndarray:
    """:func:`conv_update` or :func:`update_layer`, by the layer's kind; a frozen layer's weights stay."""
    if not spec.trained:
        return w
    return (conv_update if spec.conv else update_layer)(w, x, d, spec, cfg)


def predict(weights: list, x: np.ndarray, cfg: Config) -> np.ndarray:
    """Class predictions for a batch of quantised inputs (first maximum wins ties)."""
    h = x
    for w, spec in zip(weights, cfg.layers):
        h = layer_forward(w, h, spec, cfg)[2]
    return np.argmax(h, axis=-1)


class FixedNet:
    """The hardware's learner in integers: weights (``n_out x (n_in + 1)``, bias last) and one step per sample.

    Parameters
    ----------
    config : Config
    seed : int
        Weight initialisation seed: the float initialisation, quantised to the weight format.
    """

    def __init__(self, config: Config, seed: int = 0):
        config.check_bit_exact()  # the fixed model is the hardware's arithmetic: no continuous B (any size)
        self.config = config
        #: picks each training sample's path (rule ``hybrid``), as the core's LFSR does
        self.chooser = RuleChooser(config.feedback_seed, config.bp_fraction)
        self.weights = [config.weight.quantize(w) for w in init_weights(config, seed)]
        self.feedback = feedback_matrices(config)
        self.table = exp2_table(config) if config.loss == "softmax" else None
        if config.rule == "ddfa":
            #: rule ``ddfa``: the perturbations' LFSR, the learned ``B_l`` (weight format) and which entries learn
            self.directions = Directions(config.feedback_seed)
            self.learned = [config.weight.quantize(b) for b in initial_feedback(config)]
            self.masks = feedback_masks(config)

    def quantize_inputs(self, x: np.ndarray) -> np.ndarray:
        """Features in [0, 1] to raw integers of the input format (round half up, saturate)."""
        return self.config.input.quantize(x, Rounding.HALF_UP)

    def train_sample(self, x: np.ndarray, label: int) -> dict:
        """One training step on a quantised sample; returns every intermediate (the RTL's checkpoints)."""
        cfg = self.config
        inputs, outs = [], []
        h = x
        for w, spec in zip(self.weights, cfg.layers):
            inputs.append(h)
            outs.append(layer_forward(w, h, spec, cfg))
            h = outs[-1][2]
        y = h
        err = output_error(y, label, cfg, self.table)
        e = err["e"]
        backprop = self.chooser.next() if cfg.rule == "hybrid" else cfg.rule == "bp"
        learned = self._tangent(outs) if cfg.rule == "ddfa" else None
        sums, deltas = [], [e]
        for layer in range(cfg.n_layers - 2, -1, -1):
            fprime = outs[layer][3]
            if not cfg.layers[layer].trained:  # a frozen layer (and every one below it in a CNN) needs no delta
                total, d = np.zeros_like(fprime), np.zeros_like(fprime)
            elif learned:
                total, d = learned_delta(self.learned[layer], e, fprime, cfg)
            elif backprop:
                total, d = backprop_delta(self.weights[layer + 1], deltas[0], fprime, cfg)
            else:
                total, d = feedback_delta(e, fprime, self.feedback[layer], cfg)
            sums.insert(0, total)
            deltas.insert(0, d)
        self.weights = [layer_update(w, xin, d, spec, cfg)
                        for w, xin, d, spec in zip(self.weights, inputs, deltas, cfg.layers)]
        if learned:
            self.learned = [feedback_update(b, u, learned["d"], mask, cfg)
                            for b, u, mask in zip(self.learned, learned["u"], self.masks)]
        return {
            "prediction": int(np.argmax(y)), "inputs": inputs, "acc": [o[0] for o in outs],
            "a": [o[1] for o in outs], "h": [o[2] for o in outs], "fprime": [o[3] for o in outs],
            "error": err, "backprop": backprop, "feedback_sum": sums, "delta": deltas, "learned": learned,
        }

    def _tangent(self, outs) -> dict:
        """Rule ``ddfa``'s tangent pass over the old weights: the directions ``u``, the hidden tangents ``t`` and
        the output tangent ``d`` (tangent format), and each layer's exact sum ``tau``."""
        cfg = self.config
        u = self.directions.next(cfg.sizes[1:-1])
        t, tau = [np.asarray(u[0], dtype=np.int64) * cfg.tangent.one], []
        for layer in range(1, cfg.n_layers):
            hidden = layer < cfg.n_layers - 1
            total, nxt = tangent_layer(self.weights[layer], t[-1], outs[layer][3] if hidden else None,
                                       u[layer] if hidden else None, cfg)
            tau.append(total)
            t.append(nxt)
        return {"u": u, "t": t[:-1], "tau": tau, "d": t[-1]}

    def predict(self, x: np.ndarray) -> np.ndarray:
        return predict(self.weights, x, self.config)

    def arrays(self) -> dict:
        """``{"W0": ..., "b0": ..., ...}`` as raw integers; rule ``ddfa`` adds the learned ``B0``, ``B1``, ..."""
        return {**weight_arrays(self.weights), **learned_arrays(getattr(self, "learned", []))}


def learned_arrays(learned: list) -> dict:
    """``{"B0": ..., "B1": ...}``: rule ``ddfa``'s feedback matrices (``n_l x n_classes``), hidden layer by layer."""
    return {f"B{index}": b.copy() for index, b in enumerate(learned)}
