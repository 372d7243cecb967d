"""The geometry of a convolution layer: one definition of where every window, position and feedback row is.

An image is stored flat in HWC order: pixel ``(y, x)``'s channel ``c`` is element ``(y * W + x) * C + c``. A
convolution layer's output is stored the same way, so the dense layer above it, or the next convolution, reads it
like any input. Its weights are a matrix of ``channels`` rows and ``kernel * kernel * C_in + 1`` columns (the bias
last), each row a kernel in ``(ky, kx, c)`` order: the same order a window walks its input, so a window's element
``k`` multiplies column ``k``.

The layer walks its output positions in one fixed order, the *walk order*: row-major over the output grid, or,
with pooling, row-major over the pooled grid and, inside each pooling window, row-major over its ``pool x pool``
positions (so a pooled output is complete as soon as its window's positions have been computed). A convolution
neuron is a (position, channel) pair, numbered ``position * channels + channel`` in walk order: its activation's
derivative ``f'`` and its delta are in that order, in golden and in the core.

The layer's feedback (convolutional DFA, Han et al. 2020): the output error reaches neuron ``(y, x, c)`` through a
sparse ternary row, the same row for every channel of a channel group (``groups``) and, with ``dilation = D``,
for every position with the same ``(y mod D, x mod D)``: the rows form a dilated pattern over the output grid.
The rows come from a ROM (``feedback = "rom"``: ``phases * groups`` rows) or from an LFSR the core steps once per
row (``feedback = "lfsr"``: a row for every position and group, in walk order, no table).
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["ConvSpec", "MODES", "SOURCES"]

MODES = ("trained", "frozen")
SOURCES = ("rom", "lfsr")


@dataclass(frozen=True)
class ConvSpec:
    """One convolution layer, from its ``[[conv]]`` table and the shape of its input.

    Members
    -------
    in_shape : (H, W, C)
        The layer's input image.
    channels, kernel, stride, padding, pool : int
        Output channels; a square ``kernel x kernel`` window moved by ``stride``, over the input with ``padding``
        zeros around it; then ``pool x pool`` max pooling (1: none) with stride ``pool``.
    mode : str
        ``"trained"`` (on chip, by convolutional DFA) or ``"frozen"`` (weights from ``[network] transfer``).
    feedback : str
        ``"rom"`` or ``"lfsr"``: where a trained layer's feedback rows come from.
    dilation : int
        ROM feedback: rows repeat every ``dilation`` positions in y and in x (0: every position its own rows).
    groups : int
        Channel groups; every channel of a group takes the same feedback row.
    """

    in_shape: tuple
    channels: int
    kernel: int
    stride: int
    padding: int
    pool: int
    mode: str
    feedback: str
    dilation: int
    groups: int

    # -- shapes ------------------------------------------------------------------------

    @property
    def grid(self) -> tuple:
        """The convolution's output grid ``(Ho, Wo)`` (before pooling)."""
        h, w, _ = self.in_shape
        return tuple((n + 2 * self.padding - self.kernel) // self.stride + 1 for n in (h, w))

    @property
    def pooled(self) -> tuple:
        """The output grid after pooling ``(Hp, Wp)`` (positions past a whole pooling window are dropped)."""
        return tuple(n // self.pool for n in self.grid)

    @property
    def out_shape(self) -> tuple:
        """The image this layer outputs: ``(Hp, Wp, channels)``."""
        return (*self.pooled, self.channels)

    @property
    def fan_in(self) -> int:
        """Window elements: ``kernel * kernel * C_in`` (the weight matrix has one column more, the bias)."""
        return self.kernel * self.kernel * self.in_shape[2]

    @property
    def positions(self) -> int:
        """Output positions a forward pass computes (every position of the pooled windows)."""
        hp, wp = self.pooled
        return hp * wp * self.pool * self.pool

    @property
    def neurons(self) -> int:
        """Neurons with an activation, ``f'`` and a delta: ``positions * channels``."""
        return self.positions * self.channels

    @property
    def outputs(self) -> int:
        """Elements of the output image (the next layer's inputs)."""
        hp, wp, c = self.out_shape
        return hp * wp * c

    @property
    def trained(self) -> bool:
        return self.mode == "trained"

    # -- the walk ----------------------------------------------------------------------

    def walk(self) -> np.ndarray:
        """``(positions, 2)``: each position's ``(y, x)`` on the output grid, in walk order."""
        hp, wp = self.pooled
        q = self.pool
        py, px, dy, dx = np.meshgrid(np.arange(hp), np.arange(wp), np.arange(q), np.arange(q), indexing="ij")
        return np.stack([(py * q + dy).ravel(), (px * q + dx).ravel()], axis=1).astype(np.int64)

    def windows(self) -> np.ndarray:
        """``(positions, fan_in)``: the input element each window element reads, in walk order; -1 in the padding.

        Element ``k = (ky * kernel + kx) * C_in + c`` of position ``(y, x)`` reads input pixel
        ``(y * stride - padding + ky, x * stride - padding + kx)``, channel ``c``.
        """
        h, w, c = self.in_shape
        yx = self.walk()
        ky, kx, ci = np.meshgrid(np.arange(self.kernel), np.arange(self.kernel), np.arange(c), indexing="ij")
        iy = yx[:, 0:1] * self.stride - self.padding + ky.ravel()[None, :]
        ix = yx[:, 1:2] * self.stride - self.padding + kx.ravel()[None, :]
        inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
        return np.where(inside, (iy * w + ix) * c + ci.ravel()[None, :], -1).astype(np.int64)

    def valid_elements(self) -> int:
        """Window elements inside the image, over all positions: the forward pass's multiplies (bias excluded)."""
        return int((self.windows() >= 0).sum())

    # -- pooling ----------------------------------------------------------------------

    def pool_output(self, h: np.ndarray) -> np.ndarray:
        """The output image (flat, HWC) from the neurons' activations ``h`` (``(..., neurons)``, walk order):
        the maximum over each pooling window, or ``h`` itself without pooling."""
        h = np.asarray(h)
        if self.pool == 1:
            return h
        window = self.pool * self.pool
        return h.reshape(h.shape[:-1] + (-1, window, self.channels)).max(axis=-2).reshape(h.shape[:-1] + (-1,))

    def pool_argmax(self, h: np.ndarray) -> np.ndarray:
        """For each output element (flat, HWC), the neuron (walk order) its pooling window's maximum came from
        (the first maximum, as :meth:`pool_output` takes it)."""
        if self.pool == 1:
            return np.arange(self.neurons)
        window = self.pool * self.pool
        within = np.asarray(h).reshape(-1, window, self.channels).argmax(axis=1)  # (outputs / C, C)
        base = np.arange(within.shape[0])[:, None] * window
        return ((base + within) * self.channels + np.arange(self.channels)[None, :]).ravel()

    # -- feedback rows ----------------------------------------------------------------

    @property
    def phases(self) -> int:
        """Distinct position patterns of the feedback: ``min(D, Ho) * min(D, Wo)`` with dilation ``D``, else every
        position."""
        if self.dilation == 0:
            return self.positions
        ho, wo = self.grid
        return min(self.dilation, ho) * min(self.dilation, wo)

    @property
    def feedback_rows(self) -> int:
        """Rows of the layer's feedback table (``phases * groups``): a ROM's depth, or the LFSR's steps a sample."""
        return self.phases * self.groups

    def neuron_rows(self) -> np.ndarray:
        """``(neurons,)``: the feedback row of every neuron (walk order).

        Channel ``c`` is in group ``c // (channels / groups)``. ROM feedback with dilation ``D``: position ``(y, x)``
        is phase ``(y mod D) * min(D, Wo) + (x mod D)``; without dilation (and for the LFSR) the phase is the
        position's place in the walk, so the rows follow the walk.
        """
        yx = self.walk()
        if self.dilation == 0:
            phase = np.arange(self.positions)
        else:
            wide = min(self.dilation, self.grid[1])
            phase = (yx[:, 0] % self.dilation) * wide + (yx[:, 1] % self.dilation)
        group = np.arange(self.channels) // (self.channels // self.groups)
        return (phase[:, None] * self.groups + group[None, :]).ravel().astype(np.int64)

    def to_dict(self) -> dict:
        """The layer's ``[[conv]]`` table (every key resolved)."""
        out = {"channels": self.channels, "kernel": self.kernel, "stride": self.stride, "padding": self.padding,
               "pool": self.pool, "mode": self.mode}
        if self.trained:  # a frozen layer has no feedback (its table refuses the keys)
            out.update(feedback=self.feedback, dilation=self.dilation, groups=self.groups)
        return out
