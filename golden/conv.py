"""Convolution layers in the golden models: the forward pass, the update, the feedback rows and the transfer.

The geometry (windows, walk order, pooling, feedback rows) is :class:`~golden.config.conv.ConvSpec`'s. Per sample,
a convolution layer with weights ``W`` (``channels x (fan_in + 1)``, a kernel per row, the bias last):

1. **Forward** (:func:`golden.fixed_model.conv_forward`): every position's window (``x`` at :meth:`~ConvSpec.windows`, 0 in the
   padding) is a dense layer's input: ``acc = W @ [window, 1]``, then the same shift, activation and ``f'`` as a
   dense hidden layer (:func:`golden.fixed_model.forward_layer`), per neuron. With pooling, the output image is the
   maximum of each pooling window's activations.
2. **Deltas**: ``d = f' * narrow((B e) >> scale_shift)`` per neuron, as a dense layer's
   (:func:`golden.fixed_model.feedback_delta`), with ``B``'s rows from :func:`conv_feedback`. Every neuron of a
   pooling window receives its own delta (DFA needs no path through the maximum).
3. **Update** (:func:`golden.fixed_model.conv_update`), position by position in walk order: ``W <- narrow(W - shift_right(d_p [window_p,
   1]^T, update_shift))`` for each position ``p``, the rounding and saturation applied at every position. The core
   does exactly this: its update unit reads, updates and writes a kernel at each position as it would a dense
   layer's group, so the kernel needs no accumulator memory of its own (``channels x (fan_in + 1)`` wide sums),
   and a delta of zero skips a position.

The float model sums the positions' steps and applies them once (:func:`float_conv_update`).
"""

import numpy as np

from .config import Config, LayerSpec
from .errors import ConfigError
from .lfsr import advance, initial_state

__all__ = ["conv_windows", "conv_feedback_rows", "lfsr_rows", "lfsr_seed_state", "float_conv_forward",
           "float_conv_update", "float_conv_input_grad", "pool_grad", "read_transfer", "LFSR_ROW_STEPS"]

#: LFSR steps between two feedback rows: 32, so no two rows share a bit of the state (a Galois LFSR's next
#: state is its state shifted by one)
LFSR_ROW_STEPS = 32


def conv_windows(x: np.ndarray, spec: LayerSpec) -> np.ndarray:
    """Every position's window of ``x`` (``(..., inputs)`` flat HWC): ``(..., positions, fan_in)``, 0 in the padding."""
    x = np.asarray(x)
    index = spec.conv.windows()
    padded = np.concatenate([x, np.zeros(x.shape[:-1] + (1,), dtype=x.dtype)], axis=-1)  # index -1: the zero
    return padded[..., index]


def lfsr_seed_state(config: Config, layer: int) -> int:
    """The state an LFSR-fed layer's rows start from every sample (the core loads it as a constant)."""
    return initial_state((config.feedback_seed ^ (0xC0DE0000 + layer)) & 0xFFFFFFFF)


def lfsr_rows(config: Config, layer: int) -> tuple:
    """``(index, sign)`` (``(rows, k)``) of an LFSR-fed layer's feedback rows, in walk order.

    The LFSR (:mod:`golden.lfsr`'s polynomial) starts every sample at ``initial_state(seed ^ (0xC0DE0000 +
    layer))`` and steps :data:`LFSR_ROW_STEPS` times before each row. Row ``r``'s first class is ``c0 = (state[31:16]
    * n_classes) >> 16``, its ``k`` classes ``c0, c0 + 1, ...`` (mod ``n_classes``), and entry ``t``'s sign is
    ``-1`` when bit ``t`` of the state is 1.
    """
    spec = config.layers[layer]
    classes, k = config.n_classes, config.nonzeros_per_row
    state = lfsr_seed_state(config, layer)
    rows = spec.conv.feedback_rows
    index, sign = np.zeros((rows, k), dtype=np.int64), np.zeros((rows, k), dtype=np.int64)
    for row in range(rows):
        state = advance(state, LFSR_ROW_STEPS)
        first = ((state >> 16) * classes) >> 16
        index[row] = (first + np.arange(k)) % classes
        sign[row] = np.where((state >> np.arange(k)) & 1, -1, 1)
    return index, sign


def conv_feedback_rows(config: Config, layer: int, table_index, table_sign, magnitude):
    """A convolution layer's per-neuron ``(index, sign, magnitude)`` from its table of rows (ROM: drawn like a
    dense layer's; LFSR: :func:`lfsr_rows`), by :meth:`~golden.config.conv.ConvSpec.neuron_rows`."""
    conv = config.layers[layer].conv
    if conv.feedback == "lfsr":
        table_index, table_sign = lfsr_rows(config, layer)
        magnitude = None
    rows = conv.neuron_rows()
    return table_index[rows], table_sign[rows], None if magnitude is None else magnitude[rows]


# -- float ------------------------------------------------------------------------------


def float_conv_forward(w: np.ndarray, x: np.ndarray, spec: LayerSpec, activation):
    """Float forward: ``(a, h_neurons, fprime, out)`` per neuron (walk order) and the pooled output image."""
    windows = conv_windows(x, spec)
    a = (np.concatenate([windows, np.ones(windows.shape[:-1] + (1,))], axis=-1) @ w.T).reshape(
        windows.shape[:-2] + (-1,))
    h, fprime = activation(a)
    return a, h, fprime, spec.conv.pool_output(h)


def float_conv_update(w: np.ndarray, x: np.ndarray, d: np.ndarray, spec: LayerSpec, rate: float):
    """``W -= rate * sum over positions of d_p [window_p, 1]^T`` (in place)."""
    windows = conv_windows(x, spec)
    windows = np.concatenate([windows, np.ones((windows.shape[0], 1))], axis=1)
    w -= rate * (d.reshape(spec.positions, spec.n_out).T @ windows)


def float_conv_input_grad(w: np.ndarray, d: np.ndarray, spec: LayerSpec) -> np.ndarray:
    """Backpropagation through the convolution: the gradient at its input image from the neurons' deltas."""
    index = spec.conv.windows()
    per_element = d.reshape(spec.positions, spec.n_out) @ w[:, :-1]  # (positions, fan_in)
    grad = np.zeros(int(np.prod(spec.conv.in_shape)) + 1)
    np.add.at(grad, np.where(index < 0, grad.size - 1, index), per_element)
    return grad[:-1]


def pool_grad(conv, h: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
    """Backpropagation through max pooling: each output's gradient to the neuron its maximum came from."""
    grad = np.zeros(conv.neurons)
    grad[conv.pool_argmax(h)] = grad_out
    return grad


# -- transfer -----------------------------------------------------------------------------


def read_transfer(config: Config) -> dict:
    """The frozen layers' float weights (``n_out x (n_in + 1)``, bias last) from ``[network] transfer``, by layer.

    The file is an ``.npz`` with ``W{l}`` and ``b{l}`` for each frozen layer ``l``, as ``trifactor train
    --save-weights`` writes them (float or fixed backend: raw integers are taken as the weight format's).
    """
    path, where = config.transfer, "[network] transfer"
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise ConfigError(where, f"= {path!r} does not exist",
                          "train the network first, e.g. trifactor train --config C --backend float --save-weights "
                          f"{path} (with [feedback] rule = 'bp')", config.source) from None
    except (OSError, ValueError, TypeError, AttributeError) as exc:  # a .npy array has no files and no with
        raise ConfigError(where, f"= {path!r} is not an .npz file of arrays ({exc})",
                          "give the file trifactor train --save-weights wrote", config.source) from None
    out = {}
    for spec in config.layers:
        if spec.trained:
            continue
        names = (f"W{spec.index}", f"b{spec.index}")
        missing = [name for name in names if name not in arrays]
        if missing:
            raise ConfigError(where, f"= {path!r} has no {missing[0]} for frozen layer {spec.index}",
                              "give the weights of the same network", config.source)
        w, b = (np.asarray(arrays[name]) for name in names)
        if w.dtype.kind not in "biuf" or b.dtype.kind not in "biuf":
            raise ConfigError(where, f"= {path!r}: layer {spec.index}'s weights are not numbers ({w.dtype}, {b.dtype})",
                              "give the file trifactor train --save-weights wrote", config.source)
        if w.shape != (spec.n_out, spec.n_in) or b.shape != (spec.n_out,):
            raise ConfigError(where, f"= {path!r}: {names[0]} is {w.shape} and {names[1]} {b.shape}, but layer "
                              f"{spec.index} needs ({spec.n_out}, {spec.n_in}) and ({spec.n_out},)",
                              "give the weights of the same network", config.source)
        matrix = np.concatenate([w, b[:, None]], axis=1).astype(np.float64)
        if np.issubdtype(w.dtype, np.integer):
            matrix = matrix / config.weight.one
        if not np.isfinite(matrix).all():
            raise ConfigError(where, f"= {path!r}: layer {spec.index}'s weights are not all finite",
                              "give the weights of a run that trained", config.source)
        out[spec.index] = matrix
    return out
