"""Online SGD training loop shared by every backend.

A backend is any object with ``quantize_inputs(x)``, ``train_sample(x, label)``,
``predict(x)`` and ``arrays()``: the float and fixed golden models here, the simulated
and real hardware elsewhere. The data order depends only on ``seed``, so two backends
given the same seed see the same samples in the same order: golden's NumPy permutations (``[training] order =
"host"``), or the on-chip LFSR's (``"lfsr"``, :mod:`golden.order`).
"""

import itertools
import operator
import time
from collections.abc import Sequence

import numpy as np

from .config import Config, ConfigError
from .data import Split, load_split, standardize
from .order import ORDERS, LfsrOrder

__all__ = ["load_data", "prepare", "check_fits", "SampleOrders", "sample_orders", "train"]


def load_data(config: Config, dataset: str | None = None, label_column=None) -> Split:
    """The configuration's data set (or ``dataset``), split and (if configured) standardised, checked against the net.
    ``label_column``: a CSV file's label column (:func:`golden.data.load_split`)."""
    dataset = config.dataset if dataset is None else dataset  # "" is refused, not taken for "not given"
    return prepare(config, load_split(dataset, config.test_fraction, config.split_seed, label_column))


def prepare(config: Config, split: Split) -> Split:
    """``split`` as every backend takes it: standardised (if configured) and checked against the net."""
    if config.standardize:
        split = standardize(split, config.clip)
    check_fits(config, split)
    return split


def check_fits(config: Config, split: Split):
    """Reject a network whose input or output layer does not match the data set."""
    sizes = list(config.sizes)
    if sizes[0] != split.n_features:
        raise ConfigError("[network] sizes", f"= {sizes} starts with {sizes[0]} inputs but {split.name} has "
                          f"{split.n_features} features", f"start sizes with {split.n_features}", config.source)
    if sizes[-1] < split.n_classes:
        raise ConfigError("[network] sizes", f"= {sizes} ends with {sizes[-1]} outputs but {split.name} has "
                          f"{split.n_classes} classes", f"end sizes with {split.n_classes}", config.source)


class SampleOrders(Sequence):
    """The per-epoch sample permutations of a run, made lazily: iterating it is a generator that draws epoch ``e``'s
    permutation when it is reached, and ``orders[e]`` draws epochs ``0..e`` again. A run holds one epoch's order
    at a time, however many epochs it has.

    ``order`` is ``[training] order``: "host" draws from one NumPy generator seeded ``[seed, 0xDA7A]`` (the
    permutations and their order are those of a list of them, so results are bit for bit the same); "lfsr"
    from :class:`golden.order.LfsrOrder` (the core's own order), ``n`` draws an epoch."""

    def __init__(self, seed: int, n: int, epochs: int, order: str = "host"):
        if order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
        self.seed, self.n, self.epochs, self.order = seed, n, epochs, order

    def __len__(self) -> int:
        return self.epochs

    def __iter__(self):
        if self.order == "lfsr":
            draws = LfsrOrder(self.seed, self.n)
            for _ in range(self.epochs):
                yield draws.epoch()
            return
        rng = np.random.default_rng([self.seed, 0xDA7A])
        for _ in range(self.epochs):
            yield rng.permutation(self.n)

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(self.epochs)
            if step < 0:
                return [self[e] for e in range(start, stop, step)]
            return list(itertools.islice(iter(self), start, max(start, stop), step))
        index = operator.index(index)
        if index < 0:
            index += self.epochs
        if not 0 <= index < self.epochs:
            raise IndexError(f"epoch {index} of a run of {self.epochs}")
        return next(itertools.islice(iter(self), index, None))


def sample_orders(seed: int, n: int, epochs: int, order: str = "host") -> SampleOrders:
    """The per-epoch sample permutations for ``seed`` and ``[training] order``: a lazy sequence
    (:class:`SampleOrders`), made as it is iterated."""
    return SampleOrders(seed, n, epochs, order)


def train(model, split: Split, epochs: int, seed: int, on_sample=None, on_epoch=None) -> dict:
    """Train ``model`` online for ``epochs`` passes; returns accuracies, per-epoch history and timings.

    The samples come in the order of ``model.config``'s ``[training] order`` (every backend has its
    configuration as ``config``; "host" for a model without one).
    ``on_sample()`` is called after every training sample (progress bars);
    ``on_epoch(epoch, test_accuracy)`` after every epoch.
    """
    x_train, x_test = model.quantize_inputs(split.x_train), model.quantize_inputs(split.x_test)
    history, train_history, epoch_seconds = [], [], []
    kind = getattr(getattr(model, "config", None), "order", "host")
    for epoch, order in enumerate(sample_orders(seed, len(split.y_train), epochs, kind)):
        start = time.perf_counter()
        correct = 0
        for index in order:
            result = model.train_sample(x_train[index], int(split.y_train[index]))
            correct += result["prediction"] == split.y_train[index]
            if on_sample:
                on_sample()
        epoch_seconds.append(time.perf_counter() - start)
        history.append(float(np.mean(model.predict(x_test) == split.y_test)))
        train_history.append(float(correct / len(order)))  # predictions made during the epoch, before each update
        if on_epoch:
            on_epoch(epoch, history[-1])
    return {
        "test_accuracy": history[-1],
        "train_accuracy": float(np.mean(model.predict(x_train) == split.y_train)),
        "history": history,
        "train_history_online": train_history,
        "epoch_seconds": epoch_seconds,
    }
