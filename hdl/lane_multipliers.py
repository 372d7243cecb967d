"""The lanes' broadcast operand: a layer input at one fraction for every layer.

The MAC array (``x * w``) and the update unit (``d * x``) both multiply one broadcast
layer input ``x`` by a per-lane operand. Both first shift ``x`` left to the finest input
fraction of the configuration, ``F = max(x.frac)`` over the layers (an exact shift). Then a
sum or a product has the same fraction in every layer, each unit's rounding shift is one
constant, and its round constant folds into an adder the unit has anyway. The aligned ``x``
takes ``max(x.width - x.frac) + F`` bits: 14 for the defaults, which an SB_MAC16 (16 x 16)
still takes in one.
"""

from trifactor.golden.config import Config

from .arith import select

__all__ = ["input_frac", "input_width", "align_input"]


def input_frac(config: Config) -> int:
    """``F``: the fraction of every aligned layer input."""
    return max(spec.x.frac for spec in config.layers)


def input_width(config: Config) -> int:
    """Bits of an aligned layer input."""
    return max(spec.x.width - spec.x.frac for spec in config.layers) + input_frac(config)


def align_input(config: Config, x, layer):
    """Layer ``layer``'s input ``x`` (at that layer's fraction) at fraction ``F``."""
    return select(layer, [x << (input_frac(config) - spec.x.frac) for spec in config.layers])
