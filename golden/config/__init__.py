"""The trifactor configuration: a TOML file validated into one frozen :class:`Config`.

Only ``[network] sizes`` is required. Every other key has a default; widths that can be
derived (accumulators, shifts, the softmax reciprocal) are derived here, once, and read
by the golden models and the hardware alike. ``docs/configuration.md`` lists the keys.

A bad value raises :class:`ConfigError`, whose message names the key and the fix.

The package, by job (each module imports only those above it):

- :mod:`.formats`: the derived fixed-point arithmetic (:class:`LayerSpec`, :func:`accumulator_width`);
- :mod:`.hardware`: what the hardware is and costs (identity, bank placement, MAC and roofline
  counts, :meth:`Config.check_hardware` against the parts' budgets);
- :mod:`.schema`: the keys and defaults, :class:`Config`, and parsing and validation
  (:func:`load_config`, :func:`config_from_dict`).

:class:`ConfigError` is defined beside the other user errors in :mod:`trifactor.golden.errors`.
"""

from ..errors import ConfigError
from .formats import LayerSpec, accumulator_width
from .hardware import (BACKPROP_RULES, BANK_BLOCK_RAM_BITS, HARDWARE_SECTIONS, PART_RAM_BITS, SPRAM_BLOCKS,
                       SPRAM_DEPTH, SPRAM_WIDTH)
from .schema import (ACTIVATIONS, AUTO, BANK_PLACEMENTS, LOSSES, MAX_EPOCHS, MAX_SEED, PIPELINES, RULES, VALUES, Config,
                     config_from_dict, load_config)

__all__ = ["ConfigError", "Config", "LayerSpec", "HARDWARE_SECTIONS", "PART_RAM_BITS", "accumulator_width", "load_config",
           "config_from_dict", "AUTO", "ACTIVATIONS", "LOSSES", "RULES", "BACKPROP_RULES", "VALUES", "PIPELINES",
           "BANK_PLACEMENTS", "MAX_SEED", "MAX_EPOCHS", "SPRAM_DEPTH", "SPRAM_WIDTH", "SPRAM_BLOCKS",
           "BANK_BLOCK_RAM_BITS"]
