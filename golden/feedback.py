"""Fixed random feedback matrices ``B_l`` (``n_hidden x n_classes``): the single source for golden and hdl.

A hidden neuron ``j`` of layer ``l`` receives ``(B_l e)_j``. In the sparse ternary form the
hardware uses, row ``j`` holds ``k`` entries (class index, sign +1/-1) and one scale
``2**-scale_shift`` shared by the whole matrix, so ``(B_l e)_j`` is a signed sum of ``k``
output errors, shifted. Dense ternary feedback (rule ``dfa``) is the same with ``k`` equal
to the class count. The continuous form (float only) puts Gaussian values at the same
positions: the paper's sparse B.

Low-rank feedback (``[feedback] rank = r``, rule ``dfa``, after bcrafton/ssdfa's ``rank``
option) is ``B = 2**-scale_shift * Q P^T`` with ternary factors: ``Q`` (``n_hidden x r``)
random signs, ``P`` (``n_classes x r``) balanced signs (each column sums to 0 or 1, so the
softmax error, whose entries sum to 0, does not vanish in ``P^T e``). Its table holds the
integer entries of ``Q P^T`` (in ``-r .. r``) at every class, so the fixed model's
:func:`~golden.fixed_model.feedback_delta` is the same sum; ``factors`` keeps ``(Q, P)``.

Everything is drawn from ``numpy.random.default_rng([seed, layer])``: the same seed gives
the same matrices on every machine.
"""

from dataclasses import dataclass

import numpy as np

from .config import Config
from .conv import conv_feedback_rows

__all__ = ["Feedback", "feedback_for_layer", "feedback_matrices"]


@dataclass(frozen=True, eq=False)
class Feedback:
    """One layer's feedback matrix in table form.

    Members
    -------
    index : ndarray of int64, shape (n_hidden, k)
        Class index of each non-zero, ascending within a row (the order the hardware sums in).
    sign : ndarray of int64, shape (n_hidden, k)
        +1 or -1.
    scale_shift : int
        The matrix is scaled by ``2**-scale_shift``.
    magnitude : ndarray of float64, shape (n_hidden, k), or None
        Continuous magnitudes (float models only); None for ternary feedback.
    n_classes : int
    factors : (Q, P) or None
        Low-rank feedback's ternary factors (``sign`` then holds ``Q P^T``); None for full-rank feedback.
    """

    index: np.ndarray
    sign: np.ndarray
    scale_shift: int
    magnitude: np.ndarray | None
    n_classes: int
    factors: tuple | None = None

    @property
    def k(self) -> int:
        return self.index.shape[1]

    @property
    def ternary(self) -> bool:
        return self.magnitude is None

    def dense(self) -> np.ndarray:
        """The float matrix ``B`` (``n_hidden x n_classes``) this table stands for."""
        values = self.sign * (1.0 if self.magnitude is None else self.magnitude) * 2.0 ** -self.scale_shift
        matrix = np.zeros((self.index.shape[0], self.n_classes))
        np.put_along_axis(matrix, self.index, values, axis=1)
        return matrix


def _positions(rng, n_hidden, n_classes, k, balanced):
    """``k`` distinct class indices per row; balanced: every class used ``n_hidden*k/n_classes`` times (+-1)."""
    if k == n_classes:
        return np.tile(np.arange(n_classes), (n_hidden, 1))
    if not balanced:
        return np.sort(np.argsort(rng.random((n_hidden, n_classes)), axis=1)[:, :k], axis=1)
    # Deal classes out cyclically: row r takes k consecutive slots of a class permutation,
    # so each row's classes are distinct (k <= n_classes) and the counts differ by at most one.
    perm = rng.permutation(n_classes)
    slots = (np.arange(n_hidden)[:, None] * k + np.arange(k)[None, :]) % n_classes
    rows = perm[slots]
    return np.sort(rows[rng.permutation(n_hidden)], axis=1)


def feedback_for_layer(config: Config, layer: int) -> Feedback:
    """Feedback table of hidden weight layer ``layer`` (0 .. n_layers-2)."""
    if not 0 <= layer < config.n_layers - 1:
        raise ValueError(f"layer {layer} is not a hidden layer of {list(config.sizes)}")
    conv = config.layers[layer].conv
    n_classes, k = config.n_classes, config.nonzeros_per_row
    if conv and not conv.trained:  # a frozen layer takes no delta: no rows
        return Feedback(index=np.zeros((0, k), dtype=np.int64), sign=np.zeros((0, k), dtype=np.int64),
                        scale_shift=config.scale_shift, magnitude=None, n_classes=n_classes)
    # a convolution layer draws a table of rows (golden.config.conv) and gives each neuron its row
    n_hidden = conv.feedback_rows if conv else config.sizes[layer + 1]
    rng = np.random.default_rng([config.feedback_seed, layer])
    if config.rank:
        return _low_rank(rng, n_hidden, n_classes, config.rank, config.scale_shift)
    index = _positions(rng, n_hidden, n_classes, k, config.balanced).astype(np.int64)
    sign = np.where(rng.random((n_hidden, k)) < 0.5, -1, 1).astype(np.int64)
    magnitude = None
    if config.feedback_values == "continuous":
        magnitude = np.abs(rng.standard_normal((n_hidden, k)))
    if conv:
        index, sign, magnitude = conv_feedback_rows(config, layer, index, sign, magnitude)
    return Feedback(index=index, sign=sign, scale_shift=config.scale_shift, magnitude=magnitude, n_classes=n_classes)


def _low_rank(rng, n_hidden, n_classes, rank, scale_shift) -> Feedback:
    q = np.where(rng.random((n_hidden, rank)) < 0.5, -1, 1).astype(np.int64)
    half = np.where(np.arange(n_classes) < (n_classes + 1) // 2, 1, -1)
    p = np.stack([rng.permutation(half) for _ in range(rank)], axis=1).astype(np.int64)
    return Feedback(index=np.tile(np.arange(n_classes, dtype=np.int64), (n_hidden, 1)), sign=q @ p.T,
                    scale_shift=scale_shift, magnitude=None, n_classes=n_classes, factors=(q, p))


def feedback_matrices(config: Config) -> list[Feedback]:
    """Feedback tables for every hidden layer, in layer order (empty for a single-layer net)."""
    return [feedback_for_layer(config, layer) for layer in range(config.n_layers - 1)]
