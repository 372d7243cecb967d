"""Where each weight lives: P lane banks, lane ``p`` owning neurons ``j = p (mod P)``.

Layer ``l`` occupies ``groups_l = ceil(n_out / P)`` neuron groups of ``n_in + 1`` words in
every bank, from ``base_l``: weight ``W_l[j, i]`` is in bank ``j % P`` at
``base_l + (j // P) * (n_in + 1) + i`` (``i = n_in`` is the bias). A forward pass or an
update of group ``g`` walks addresses ``base_l + g * (n_in + 1) + 0 .. n_in`` in order, the
same address in every bank, so one address bus serves all lanes. Lanes past ``n_out`` in
the last group hold zeros. A convolution layer is laid out the same, with ``n_in`` its window's
elements and ``n_out`` its channels: its groups are channel groups, walked again at every position.

A core of rule ``ddfa`` keeps its learned feedback after the weights: hidden layer ``l``'s
``B_l`` (``n_l x C``) takes ``ceil(n_l / P)`` groups of ``C`` words from
:meth:`WeightLayout.learned_base`, ``B_l[j, c]`` in bank ``j % P`` (the lane of neuron ``j``'s
weights) at ``learned_base(l) + (j // P) * C + c``. READ and LOAD reach it like the weights.
"""

import math
from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Array, Mux

from trifactor.golden.config import Config

__all__ = ["WeightLayout", "GroupWalk", "sweeps_backward"]


@dataclass(frozen=True)
class WeightLayout:
    config: Config

    @property
    def lanes(self) -> int:
        return self.config.lanes

    def groups(self, layer: int) -> int:
        """The layer's neuron groups (a convolution's: its channel groups, the same at every position)."""
        return math.ceil(self.config.layers[layer].n_out / self.lanes)

    def words(self, layer: int) -> int:
        """Words one layer takes in each bank."""
        return self.groups(layer) * (self.config.layers[layer].n_in + 1)

    def base(self, layer: int) -> int:
        return sum(self.words(l) for l in range(layer))

    @property
    def depth(self) -> int:
        """Words in every bank (:attr:`Config.bank_depth`: the layers' words summed, and rule ``ddfa``'s feedback)."""
        return self.config.bank_depth

    @property
    def weight_depth(self) -> int:
        """Words of the weights in every bank (where a ``ddfa`` core's feedback starts)."""
        return sum(self.words(l) for l in range(self.config.n_layers))

    @property
    def learned_layers(self) -> int:
        """Learned feedback matrices in the banks: one per hidden layer with rule ``ddfa``, else none."""
        return self.config.n_layers - 1 if self.config.rule == "ddfa" else 0

    def learned_base(self, hidden: int) -> int:
        """Where hidden layer ``hidden``'s ``B`` starts (rule ``ddfa``)."""
        return self.weight_depth + sum(self.groups(l) * self.config.n_classes for l in range(hidden))

    @property
    def addr_width(self) -> int:
        return max(1, (self.depth - 1).bit_length())

    def last_lanes(self, layer: int) -> int:
        """Neurons in the layer's last group (the lanes past them hold zeros)."""
        return self.config.layers[layer].n_out - (self.groups(layer) - 1) * self.lanes

    def address(self, layer: int, group: int, i: int) -> int:
        return self.base(layer) + group * (self.config.layers[layer].n_in + 1) + i

    def to_banks(self, weights: list, learned: list = ()) -> np.ndarray:
        """Bank contents (``lanes x depth`` int64) from golden's ``n_out x (n_in + 1)`` matrices, and a ``ddfa``
        core's learned ``B_l`` (``n_l x C``; none: zeros)."""
        banks = np.zeros((self.lanes, self.depth), dtype=np.int64)
        for layer, w in enumerate(weights):
            banks[:, self.base(layer): self.base(layer) + self.words(layer)] = self._by_lane(w, self.groups(layer))
        for hidden, b in enumerate(learned):
            start = self.learned_base(hidden)
            banks[:, start: start + self.groups(hidden) * b.shape[1]] = self._by_lane(b, self.groups(hidden))
        return banks

    def _by_lane(self, rows: np.ndarray, groups: int) -> np.ndarray:
        """``rows`` (one a neuron) as every lane's words: row j -> (group j // P, lane j % P), groups in order."""
        n_rows, width = rows.shape
        padded = np.zeros((groups * self.lanes, width), dtype=np.int64)
        padded[:n_rows] = rows
        return padded.reshape(groups, self.lanes, width).transpose(1, 0, 2).reshape(self.lanes, -1)

    def learned_from_banks(self, banks: np.ndarray) -> list:
        """A ``ddfa`` core's learned ``B_l`` back from bank contents (empty for other rules)."""
        out, classes = [], self.config.n_classes
        for hidden in range(self.learned_layers):
            start, groups = self.learned_base(hidden), self.groups(hidden)
            block = banks[:, start: start + groups * classes].reshape(self.lanes, groups, classes).transpose(1, 0, 2)
            out.append(block.reshape(-1, classes)[:self.config.sizes[hidden + 1]].copy())
        return out

    def from_banks(self, banks: np.ndarray) -> list:
        """Golden's matrices back from bank contents (the inverse of :meth:`to_banks`)."""
        weights = []
        for layer in range(self.config.n_layers):
            n_in, n_out = self.config.layers[layer].n_in, self.config.layers[layer].n_out
            block = banks[:, self.base(layer): self.base(layer) + self.words(layer)]
            by_group = block.reshape(self.lanes, self.groups(layer), n_in + 1).transpose(1, 0, 2)
            weights.append(by_group.reshape(-1, n_in + 1)[:n_out].copy())
        return weights


class GroupWalk:
    """The neuron groups of every layer, for logic that walks them by a layer and a group signal.

    The sweeper, the serialiser and the delta provider each walk the groups in order; this
    is their one description of where a layer ends and how many lanes its last group has.
    """

    def __init__(self, layout: WeightLayout):
        n_layers = layout.config.n_layers
        layers = layout.config.layers
        self.lanes = layout.lanes
        self.max_groups = max(layout.groups(l) for l in range(n_layers))
        self._groups = Array(layout.groups(l) for l in range(n_layers))
        self._last_lanes = Array(layout.last_lanes(l) for l in range(n_layers))
        #: a convolution walks its groups again at every position: the most positions of a layer, and each
        #: layer's neurons at a position (its channels)
        self.max_positions = max(spec.positions for spec in layers)
        self._positions = Array(spec.positions for spec in layers)
        self.channels = Array(spec.n_out for spec in layers)

    def is_last_position(self, layer, position):
        """``position`` is ``layer``'s last (always, for a dense layer: position 0)."""
        return position == self._positions[layer] - 1

    def is_last(self, layer, group):
        """``group`` is ``layer``'s last."""
        return group == self._groups[layer] - 1

    def lanes_of(self, layer, group):
        """The neurons (used lanes) of ``layer``'s ``group``."""
        return Mux(self.is_last(layer, group), self._last_lanes[layer], self.lanes)


def sweeps_backward(layer, backprop):
    """Whether a sample's update sweeps ``layer`` backward first (for ``W^T d``, over its old
    weights): on a backpropagation sample, every layer but the first. The pass sequencer and
    the delta provider walk the update by this one rule."""
    return backprop & (layer != 0)
