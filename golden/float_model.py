"""Float64 reference trainers: backpropagation, DFA and SSDFA with online SGD.

The same layer layout as the fixed model (``W`` is ``n_out x (n_in + 1)``, bias last) and
the same initialisation, so a float and a fixed run with the same seed start from the
same weights (up to quantisation). The feedback matrices come from
:func:`golden.feedback.feedback_matrices`: ternary or continuous, sparse or dense.
"""

import numpy as np

from .config import Config
from .conv import float_conv_forward, float_conv_input_grad, float_conv_update, pool_grad, read_transfer
from .feedback import feedback_matrices
from .learned import feedback_masks, float_feedback_update, float_tangent, gaussian_directions, initial_feedback
from .lfsr import Directions, RuleChooser

__all__ = ["init_weights", "weight_arrays", "FloatNet"]


def init_weights(config: Config, seed: int) -> list[np.ndarray]:
    """Weights uniform in ``+-1/sqrt(n_in)``, biases zero; seeded by ``seed`` (an integer >= 0).
    ``[network] init = "zero"``: every weight zero (no initial-weight image)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, not {seed!r}")
    if config.init == "zero":
        return [np.zeros((spec.n_out, spec.n_in + 1)) for spec in config.layers]
    rng = np.random.default_rng([seed, 0x7F1])
    weights = []
    for spec in config.layers:
        limit = 1.0 / np.sqrt(spec.n_in)
        w = np.zeros((spec.n_out, spec.n_in + 1))
        w[:, :-1] = rng.uniform(-limit, limit, (spec.n_out, spec.n_in))
        weights.append(w)
    if config.transfer:  # frozen convolution layers: the transferred weights (drawn all the same, so the others match)
        for index, w in read_transfer(config).items():
            weights[index] = w
    return weights


def weight_arrays(weights: list) -> dict:
    """``{"W0": ..., "b0": ..., ...}`` from ``n_out x (n_in + 1)`` matrices: the bias split from its column."""
    out = {}
    for index, w in enumerate(weights):
        out[f"W{index}"], out[f"b{index}"] = w[:, :-1].copy(), w[:, -1].copy()
    return out


def _activation(a, kind):
    if kind == "relu":
        return np.maximum(a, 0.0), (a > 0).astype(np.float64)
    return np.clip(a, -1.0, 1.0), ((a > -1.0) & (a < 1.0)).astype(np.float64)


class FloatNet:
    """Float trainer for rules ``bp``, ``hybrid``, ``dfa``, ``ssdfa`` and ``ddfa``; learning rate ``config.learning_rate``.

    ``hybrid`` picks its BP samples with the fixed model's LFSR (:mod:`golden.lfsr`); ``ddfa`` takes its +-1
    directions from the fixed model's LFSR too, or Gaussians (``perturbation = "gaussian"``), and learns
    ``B_l`` by the moving average at rate ``2**-rate_shift`` (:mod:`golden.learned`). ``self.angles`` (rule
    ``ddfa``, when ``track_angles``) collects, per sample and hidden layer, the angle in degrees between the
    learned feedback's delta and backpropagation's (``f'`` applied to both).
    """

    def __init__(self, config: Config, seed: int = 0, track_angles: bool = False):
        self.config = config
        self.weights = init_weights(config, seed)
        self.feedback = [fb.dense() for fb in feedback_matrices(config)] if config.rule != "bp" else []
        self.chooser = RuleChooser(config.feedback_seed, config.bp_fraction)
        if config.rule == "ddfa":
            self.feedback, self.masks = initial_feedback(config), feedback_masks(config)
            self.directions = Directions(config.feedback_seed)
            self.rng = np.random.default_rng([config.feedback_seed, 0xDDFA])
        self.angles = [] if track_angles else None

    def quantize_inputs(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)

    def _forward(self, x):
        inputs, fprimes, self._neurons = [], [], []
        h = x
        activation = lambda a: _activation(a, self.config.activation)  # noqa: E731
        for index, (w, spec) in enumerate(zip(self.weights, self.config.layers)):
            inputs.append(h)
            if spec.conv:
                _, neurons, fprime, h = float_conv_forward(w, h, spec, activation)
                self._neurons.append(neurons)  # the activations before pooling (its backpropagation needs them)
                fprimes.append(fprime)
                continue
            a = np.concatenate([h, np.ones(h.shape[:-1] + (1,))], axis=-1) @ w.T
            if index < len(self.weights) - 1:
                h, fprime = _activation(a, self.config.activation)
                fprimes.append(fprime)
            else:
                h = a
        return inputs, fprimes, h

    def _backprop(self, index, d_above):
        """The gradient at hidden layer ``index``'s neurons from the deltas of the layer above (before ``f'``)."""
        above = self.config.layers[index + 1]
        if above.conv:
            grad = float_conv_input_grad(self.weights[index + 1], d_above, above)
        else:
            grad = self.weights[index + 1][:, :-1].T @ d_above
        conv = self.config.layers[index].conv
        return pool_grad(conv, self._neurons[index], grad) if conv else grad

    def train_sample(self, x: np.ndarray, label: int) -> dict:
        cfg = self.config
        inputs, fprimes, y = self._forward(x)
        target = np.zeros_like(y)
        target[label] = 1.0
        if cfg.loss == "softmax":
            p = np.exp(y - y.max())
            e = p / p.sum() - target
        else:
            e = y - target
        deltas = [e]
        backprop = self.chooser.next() if cfg.rule == "hybrid" else cfg.rule == "bp"
        for index in range(len(self.weights) - 2, -1, -1):
            if not cfg.layers[index].trained:  # frozen: no delta (nor below it)
                back = np.zeros_like(fprimes[index])
            elif backprop:
                back = self._backprop(index, deltas[0])
            else:
                back = self.feedback[index] @ e
            deltas.insert(0, back * fprimes[index])
        if cfg.rule == "ddfa":
            self._learn_feedback(fprimes, deltas, e)
        for w, xin, d, spec in zip(self.weights, inputs, deltas, cfg.layers):
            if spec.conv:
                if spec.trained:
                    float_conv_update(w, xin, d, spec, cfg.learning_rate)
            else:
                w -= cfg.learning_rate * np.outer(d, np.append(xin, 1.0))
        return {"prediction": int(np.argmax(y))}

    def _learn_feedback(self, fprimes, deltas, e):
        """Rule ``ddfa``: the tangent over the old weights, then every ``B_l`` toward ``u_l d^T`` (after the
        deltas have used the old ``B_l``); the angles to backpropagation's deltas when tracked."""
        cfg = self.config
        hidden = cfg.sizes[1:-1]
        if cfg.perturbation == "gaussian":
            u = gaussian_directions(self.rng, hidden)
        else:
            u = [np.asarray(layer, dtype=np.float64) for layer in self.directions.next(hidden)]
        d = float_tangent(self.weights, fprimes, u)
        if self.angles is not None:
            self.angles.append(_angles_to_backprop(self.weights, fprimes, deltas, e))
        for b, ul, mask in zip(self.feedback, u, self.masks):
            float_feedback_update(b, ul, d, mask, 2.0 ** -cfg.rate_shift)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.argmax(self._forward(x)[2], axis=-1)

    def arrays(self) -> dict:
        out = weight_arrays(self.weights)
        if self.config.rule == "ddfa":
            out.update({f"B{index}": b.copy() for index, b in enumerate(self.feedback)})
        return out


def _angles_to_backprop(weights, fprimes, deltas, e) -> list:
    """Per hidden layer, the angle (degrees) between ``deltas`` and backpropagation's through the same weights;
    NaN where either is zero."""
    bp, angles = e, []
    for index in range(len(weights) - 2, -1, -1):
        bp = (weights[index + 1][:, :-1].T @ bp) * fprimes[index]
        norm = np.linalg.norm(bp) * np.linalg.norm(deltas[index])
        cosine = float(bp @ deltas[index] / norm) if norm > 0 else np.nan
        angles.insert(0, float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))))
    return angles
