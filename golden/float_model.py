"""Float64 reference trainers: backpropagation, DFA and SSDFA with online SGD.

The same layer layout as the fixed model (``W`` is ``n_out x (n_in + 1)``, bias last) and
the same initialisation, so a float and a fixed run with the same seed start from the
same weights (up to quantisation). The feedback matrices come from
:func:`golden.feedback.feedback_matrices`: ternary or continuous, sparse or dense.
"""

import numpy as np

from .config import Config
from .feedback import feedback_matrices
from .lfsr import RuleChooser

__all__ = ["init_weights", "weight_arrays", "FloatNet"]


def init_weights(config: Config, seed: int) -> list[np.ndarray]:
    """Weights uniform in ``+-1/sqrt(n_in)``, biases zero; seeded by ``seed`` (an integer >= 0)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, not {seed!r}")
    rng = np.random.default_rng([seed, 0x7F1])
    weights = []
    for spec in config.layers:
        limit = 1.0 / np.sqrt(spec.n_in)
        w = np.zeros((spec.n_out, spec.n_in + 1))
        w[:, :-1] = rng.uniform(-limit, limit, (spec.n_out, spec.n_in))
        weights.append(w)
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
    """Float trainer for rules ``bp``, ``hybrid``, ``dfa`` and ``ssdfa``; learning rate ``config.learning_rate``.

    ``hybrid`` picks its BP samples with the fixed model's LFSR (:mod:`golden.lfsr`)."""

    def __init__(self, config: Config, seed: int = 0):
        self.config = config
        self.weights = init_weights(config, seed)
        self.feedback = [fb.dense() for fb in feedback_matrices(config)] if config.rule != "bp" else []
        self.chooser = RuleChooser(config.feedback_seed, config.bp_fraction)

    def quantize_inputs(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)

    def _forward(self, x):
        inputs, fprimes = [], []
        h = x
        for index, w in enumerate(self.weights):
            inputs.append(h)
            a = np.concatenate([h, np.ones(h.shape[:-1] + (1,))], axis=-1) @ w.T
            if index < len(self.weights) - 1:
                h, fprime = _activation(a, self.config.activation)
                fprimes.append(fprime)
            else:
                h = a
        return inputs, fprimes, h

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
            if backprop:
                back = self.weights[index + 1][:, :-1].T @ deltas[0]
            else:
                back = self.feedback[index] @ e
            deltas.insert(0, back * fprimes[index])
        for w, xin, d in zip(self.weights, inputs, deltas):
            w -= cfg.learning_rate * np.outer(d, np.append(xin, 1.0))
        return {"prediction": int(np.argmax(y))}

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.argmax(self._forward(x)[2], axis=-1)

    def arrays(self) -> dict:
        return weight_arrays(self.weights)
