"""The core's word protocol (:mod:`hdl.protocol`) as lists of words: one command each, with its reply's length.

Shared by the cocotb driver (:class:`scripts.sim.drivers.CoreDriver`) and the native
simulator (:mod:`scripts.sim.native`), which sends a whole run's words at once.
"""

import numpy as np

from trifactor.hdl.data_store import store_geometry, store_words
from trifactor.hdl.layout import WeightLayout
from trifactor.hdl.protocol import MAX_COUNT, Op, counter_names, header, position

__all__ = ["Command", "load_words", "read_words", "counters", "store", "order", "epoch", "evaluate", "chunks"]


class Command:
    """``words`` to send and ``replies``, the number of reply words they get."""

    def __init__(self, words: list, replies: int):
        self.words, self.replies = [int(w) for w in words], replies


def chunks(op: Op, start: int, words: list, where=lambda at: position(at, 0)) -> list:
    """LOAD, STORE or ORDER of ``words`` from ``start``, in commands of at most :data:`MAX_COUNT` words."""
    return [Command([header(op, len(words[at:at + MAX_COUNT])), where(start + at), *words[at:at + MAX_COUNT]], 1)
            for at in range(0, len(words), MAX_COUNT)]


def load_words(config, weights: list) -> list:
    """LOAD commands of golden-layout ``weights`` into the banks (address-major, lane-minor)."""
    mask = (1 << config.weight.width) - 1
    flat = (WeightLayout(config).to_banks(weights).T.reshape(-1) & mask).tolist()
    return chunks(Op.LOAD, 0, flat, lambda at: position(*divmod(at, config.lanes)))


def read_words(config) -> list:
    """READ commands of every bank word; their replies, in order, are the banks address-major."""
    total = WeightLayout(config).depth * config.lanes
    return [Command([header(Op.READ, min(MAX_COUNT, total - at)), position(*divmod(at, config.lanes))],
                    min(MAX_COUNT, total - at)) for at in range(0, total, MAX_COUNT)]


def counters(config) -> Command:
    return Command([header(Op.COUNTERS)], 2 * len(counter_names(config)))


def store(config, record: int, x, y) -> list:
    """STORE commands of quantised inputs ``x`` and labels ``y`` as records ``record, record + 1, ...``."""
    return chunks(Op.STORE, record * store_geometry(config)["stride"], store_words(config, x, y))


def order(start: int, indices) -> list:
    """ORDER commands: the records EPOCH trains on, from order entry ``start``."""
    return chunks(Op.ORDER, start, np.asarray(indices).tolist())


def epoch(start: int, count: int) -> Command:
    """Train on the records of order entries ``start .. start + count - 1``; replies: correct, cycles."""
    return Command([header(Op.EPOCH, count), position(start, 0)], 2)


def evaluate(start: int, count: int) -> Command:
    """Infer on records ``start .. start + count - 1``; replies: correct, cycles."""
    return Command([header(Op.EVALUATE, count), position(start, 0)], 2)
