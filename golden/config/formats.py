"""The fixed-point arithmetic a configuration derives: each layer's formats, widths and shifts.

Derived here once, and read by the golden models and the hardware alike.
"""

import math
from dataclasses import dataclass

from ..fixedpoint import Fixed
from .conv import ConvSpec

__all__ = ["accumulator_width", "LayerSpec", "DerivedFormats"]


def accumulator_width(x: Fixed, w: Fixed, terms: int) -> int:
    """Narrowest two's complement width that holds any sum of ``terms`` products ``x * w``.

    The largest magnitude is ``terms * x.min * w.min = terms * 2**(x.width + w.width - 2)``
    (positive); one sign bit on top of its bit length.
    """
    return (terms << (x.width + w.width - 2)).bit_length() + 1


@dataclass(frozen=True)
class LayerSpec:
    """Derived arithmetic of weight layer ``index`` (``W[index]`` maps ``sizes[index]`` to ``sizes[index+1]``).

    Members
    -------
    n_in, n_out : int
        Layer sizes; the weight matrix is ``n_out x (n_in + 1)``, the last column the bias.
    hidden : bool
        False for the output layer (no activation, its delta is the output error).
    x : Fixed
        Format of the layer's input (the input format for layer 0, else the activation format).
    accumulator_width : int
        Bits of the forward sum of ``n_in + 1`` products: it can never overflow.
    forward_shift : int
        Right shift from the accumulator (``x.frac + weight.frac``) to the activation fraction.
    update_shift : int
        Right shift from ``x * delta`` (``x.frac + error.frac``) to the weight fraction, times ``lr``.
    conv : ConvSpec or None
        A convolution layer's geometry (:mod:`.conv`): ``n_in`` is then its window's elements and ``n_out`` its
        channels, the weights one kernel per channel; None for a dense layer.
    """

    index: int
    n_in: int
    n_out: int
    hidden: bool
    x: Fixed
    accumulator_width: int
    forward_shift: int
    update_shift: int
    conv: ConvSpec | None = None

    @property
    def positions(self) -> int:
        """Output positions a forward pass computes with these weights: 1 for a dense layer."""
        return self.conv.positions if self.conv else 1

    @property
    def neurons(self) -> int:
        """Neurons with an activation, ``f'`` and a delta (a convolution's positions times channels)."""
        return self.n_out * self.positions

    @property
    def outputs(self) -> int:
        """Elements of the layer's output, the next layer's input (after pooling)."""
        return self.conv.outputs if self.conv else self.n_out

    @property
    def trained(self) -> bool:
        """Whether the layer's weights learn (a frozen convolution's do not)."""
        return self.conv is None or self.conv.trained

    @property
    def forward_macs(self) -> int:
        """Multiply-accumulates of the layer's forward pass, biases included (a convolution's padding excluded)."""
        if self.conv:
            return (self.conv.valid_elements() + self.positions) * self.n_out
        return (self.n_in + 1) * self.n_out


class DerivedFormats:
    """The layers and widths of a :class:`~trifactor.golden.config.Config` (one of its bases; no fields of its own).

    It reads the configuration's ``sizes``, ``input``, ``weight``, ``act``, ``error``,
    ``learning_rate_shift`` and ``softmax_frac``.
    """

    @property
    def n_layers(self) -> int:
        """Number of weight layers (``len(sizes) - 1``)."""
        return len(self.sizes) - 1

    @property
    def n_classes(self) -> int:
        return self.sizes[-1]

    def layer(self, index: int) -> LayerSpec:
        conv = self.convs[index] if index < len(self.convs) else None
        n_in, n_out = (conv.fan_in, conv.channels) if conv else (self.sizes[index], self.sizes[index + 1])
        x = self.input if index == 0 else self.act
        return LayerSpec(
            index=index, n_in=n_in, n_out=n_out, hidden=index < self.n_layers - 1, x=x, conv=conv,
            accumulator_width=accumulator_width(x, self.weight, n_in + 1),
            forward_shift=x.frac + self.weight.frac - self.act.frac,
            update_shift=x.frac + self.error.frac + self.learning_rate_shift - self.weight.frac,
        )

    @property
    def layers(self) -> tuple:
        return tuple(self.layer(i) for i in range(self.n_layers))

    @property
    def neuron_counts(self) -> tuple:
        """Every weight layer's neurons (``f'`` flags, deltas): ``sizes[1:]`` for dense layers, a convolution's
        positions times channels (before pooling)."""
        return tuple(spec.neurons for spec in self.layers)

    @property
    def frozen_layers(self) -> int:
        """The frozen convolution layers at the bottom of the network: the update stops above them."""
        return sum(not spec.trained for spec in self.layers)

    @property
    def aligned_input_width(self) -> int:
        """Bits of a layer input aligned to the finest input fraction: the lane multipliers' broadcast operand
        (:mod:`hdl.lanes.lane_multipliers`), which rule ``ddfa``'s tangents and errors must fit too."""
        layers = self.layers
        return max(spec.x.width - spec.x.frac for spec in layers) + max(spec.x.frac for spec in layers)

    @property
    def softmax_recip_bits(self) -> int:
        """``R`` in ``r = floor(2**R / sum)``: enough quotient bits for every probability LSB plus two guard bits."""
        return self.softmax_frac + self.error.frac + math.ceil(math.log2(self.n_classes)) + 2
