"""Learned feedback (rule ``ddfa``, Bacho & Chu's directional DFA): the tangent pass and the feedback update.

One sample, after the forward pass (``docs/learned-feedback.md`` says what was followed and every deviation;
``docs/fixed-point.md`` gives the integer steps):

1. **Directions** ``u_l``: +-1 per hidden neuron (:class:`golden.lfsr.Directions`; the float model may draw
   Gaussians instead).
2. **Tangent**, with the forward weights before this sample's update: ``t_0 = u_0``;
   ``t_l = f'_l * (W_l t_{l-1}) + u_l`` for the hidden layers above; ``d = W_out t_{L-2}`` (no bias column: the
   tangent of the constant input is 0). ``d`` is the network's directional derivative along every layer's ``u``
   at once, so ``E[u_l d^T] = J_l^T`` (``J_l = dy/dh_l``).
3. **Deltas** from the learned ``B_l`` (before its update): ``delta_l = f'_l * (B_l e)``.
4. **Feedback update**, an exponential moving average toward the one-sample estimate:
   ``B_l <- B_l - 2**-rate_shift * (B_l - u_l d^T)``, on the ``k`` entries of each row the mask keeps
   (``nonzeros_per_row < n_classes``: sparse DDFA; the positions are the fixed rule's, :mod:`golden.feedback`).

``B_l`` is ``n_l x n_classes`` as in :mod:`golden.feedback`; in the fixed model it is in the weight format.
"""

import numpy as np

from .config import Config
from .feedback import feedback_matrices
from .fixedpoint import narrow, shift_right

__all__ = ["feedback_masks", "initial_feedback", "tangent_layer", "learned_delta", "feedback_update",
           "float_tangent", "float_feedback_update", "gaussian_directions"]


def feedback_masks(config: Config) -> list[np.ndarray]:
    """Per hidden layer, which entries of ``B_l`` are learned (``n_l x n_classes`` bool): all, or the ``k`` positions
    of the fixed rule's table."""
    masks = []
    for fb in feedback_matrices(config):
        mask = np.zeros((fb.index.shape[0], fb.n_classes), dtype=bool)
        np.put_along_axis(mask, fb.index, True, axis=1)
        masks.append(mask)
    return masks


def initial_feedback(config: Config) -> list[np.ndarray]:
    """``B_l`` at the start, as floats: zero (``start = "zero"``, the authors' code) or the fixed rule's ternary
    values ``+-2**-scale_shift`` at the mask's positions (``start = "random"``)."""
    out = []
    for fb in feedback_matrices(config):
        out.append(np.zeros((fb.index.shape[0], fb.n_classes)) if config.feedback_start == "zero" else fb.dense())
    return out


def gaussian_directions(rng, sizes) -> list[np.ndarray]:
    """The float model's ``perturbation = "gaussian"``: N(0, 1) per hidden neuron, as the authors' ``randn_like``."""
    return [rng.standard_normal(n) for n in sizes]


# -- fixed point ------------------------------------------------------------------------------------------------

def tangent_layer(w: np.ndarray, t: np.ndarray, fprime, u, cfg: Config):
    """One layer of the tangent pass above the first hidden layer: ``(tau, t_next)``.

    - ``tau = W[:, :-1] @ t``: exact (``t`` in the tangent format, ``W`` in the weight format);
    - ``a = shift_right(tau, weight.frac, rounding)``: back to the tangent fraction;
    - hidden layer (``u`` given): ``t_next = narrow(f' * a + u * tangent.one)``;
      the output layer (``u`` None): ``d = narrow(a)``.
    """
    tau = w[:, :-1] @ np.asarray(t, dtype=np.int64)
    a = shift_right(tau, cfg.weight.frac, cfg.rounding)
    if u is None:
        return tau, narrow(a, cfg.tangent, cfg.overflow)
    return tau, narrow(np.asarray(fprime, dtype=np.int64) * a + np.asarray(u, dtype=np.int64) * cfg.tangent.one,
                       cfg.tangent, cfg.overflow)


def learned_delta(b: np.ndarray, e: np.ndarray, fprime: np.ndarray, cfg: Config):
    """Deltas from a learned ``B`` (``n x C``, weight format, zero outside its mask): ``(sum, d)`` with
    ``sum_j = sum_c B[j, c] e_c`` exact and ``d_j = f'_j * narrow(shift_right(sum_j, weight.frac, rounding))``."""
    total = b @ np.asarray(e, dtype=np.int64)
    scaled = narrow(shift_right(total, cfg.weight.frac, cfg.rounding), cfg.error, cfg.overflow)
    return total, scaled * fprime


def feedback_update(b: np.ndarray, u, d: np.ndarray, mask: np.ndarray, cfg: Config) -> np.ndarray:
    """``B[j, c] <- narrow(B - shift_right(B - (u_j d_c << (weight.frac - tangent.frac)), rate_shift, update_rounding))``
    on the mask's entries; the others stay 0."""
    target = np.outer(np.asarray(u, dtype=np.int64), np.asarray(d, dtype=np.int64)) << (cfg.weight.frac - cfg.tangent.frac)
    step = shift_right(b - target, cfg.rate_shift, cfg.update_rounding)
    return np.where(mask, narrow(b - step, cfg.weight, cfg.overflow), b)


# -- float ------------------------------------------------------------------------------------------------------

def float_tangent(weights: list, fprimes: list, directions: list) -> np.ndarray:
    """The float output tangent ``d`` (no bias columns)."""
    t = directions[0]
    for w, fprime, u in zip(weights[1:-1], fprimes[1:], directions[1:]):
        t = fprime * (w[:, :-1] @ t) + u
    return weights[-1][:, :-1] @ t


def float_feedback_update(b: np.ndarray, u: np.ndarray, d: np.ndarray, mask: np.ndarray, rate: float):
    """``B <- B - rate * (B - u d^T)`` on the mask's entries, in place."""
    b -= rate * (b - np.outer(u, d)) * mask
