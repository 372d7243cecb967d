"""Data sets for :func:`trifactor.train`: a user's arrays, a user's files, or a built-in set, each split,
standardised and checked against a configuration exactly as the command line's ``--dataset`` is.

Every function returns a :class:`~trifactor.golden.data.Split` made for ``config`` (its ``[data]``
``test_fraction``, ``split_seed``, ``standardize`` and ``clip``, and its first and last sizes): give it to
:func:`trifactor.train` with the same configuration. ``config`` may be a :class:`Config`, the path of a TOML file
or a dict (:func:`trifactor.config_from_dict`'s).
"""

import os
from pathlib import Path

from trifactor.golden.config import Config
from trifactor.golden.data import DataError, Split, split_arrays
from trifactor.golden.train import load_data, prepare

from .arguments import as_config

__all__ = ["Split", "from_arrays", "from_file", "load"]


def from_arrays(X, y, *, config: Config, X_test=None, y_test=None, name: str = "arrays") -> Split:
    """A data set from arrays.

    Parameters
    ----------
    X : array_like
        Samples, shape (n, features) (more dimensions are flattened per sample), any real numbers: they are
        kept as given, then standardised if ``config`` says so (``[data] standardize``, the default).
    y : array_like
        Labels, shape (n,): whole numbers ``0..C-1``, each class present.
    config : Config or str or os.PathLike or dict
        The configuration the data set is for (a Config, a TOML file's path, or config_from_dict's dict): its first
        size must be the feature count, its last at least C.
    X_test, y_test : array_like, optional
        A test set of its own; without it, ``config``'s ``[data] test_fraction`` is split off, stratified,
        with ``[data] split_seed``.
    name : str
        The data set's name in results and messages.

    Returns
    -------
    Split
        ``x_train``, ``y_train``, ``x_test``, ``y_test`` as the backends take them.

    Raises
    ------
    DataError
        Ragged or non-numeric samples, NaN or infinity, features beyond +-1e100, labels that are not ``0..C-1``
        (or a single class), a class too small to split.
    ConfigError
        A feature or class count that does not match ``config``'s sizes (the message gives the right size); a
        configuration file or dict that is not valid.
    UsageError
        A ``config`` that is none of a Config, a path or a dict.
    """
    config = as_config(config)
    return prepare(config, split_arrays(name, X, y, X_test, y_test, config.test_fraction, config.split_seed))


def from_file(path, *, config: Config, label_column=None) -> Split:
    """A data set from a file, as ``--dataset npz:PATH`` or ``csv:PATH`` reads it.

    Parameters
    ----------
    path : str or os.PathLike
        ``npz:PATH``, ``csv:PATH`` or ``idx:DIR``; a bare path ending in ``.npz`` or ``.csv`` is taken as that kind,
        a folder as ``idx:``. An npz file holds ``X`` and ``y`` (and optionally ``X_test``, ``y_test``); a CSV file
        one sample a line, the label last, with an optional header row.
    config : Config or str or os.PathLike or dict
        The configuration the data set is for (as in :func:`from_arrays`).
    label_column : int or str, optional
        CSV only: the label's column, a number (0 the first, -1 the last) or a header name; the last by default.

    Returns
    -------
    Split

    Raises
    ------
    DataError
        A file that cannot be read, or whose contents :func:`from_arrays` would refuse; the message names the
        file and the line.
    ConfigError
        As in :func:`from_arrays`.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise DataError(f"the data file {path!r} is not a path", "give a str or pathlib.Path of a .csv or .npz file")
    spec = os.fspath(path)
    if not spec.startswith(("npz:", "csv:", "idx:")):
        suffix = Path(spec).suffix.lower()
        if suffix in (".npz", ".csv"):
            spec = f"{suffix[1:]}:{spec}"
        elif Path(spec).expanduser().is_dir():
            spec = f"idx:{spec}"
        else:
            raise DataError(f"{spec} is not a .csv or .npz file, nor a folder", "name its kind: csv:PATH (comma-"
                            "separated text), npz:PATH (numpy.savez's archive) or idx:DIR (MNIST's IDX files)")
    return load(config, spec, label_column=label_column)


def load(config: Config, dataset: str | None = None, *, label_column=None) -> Split:
    """A data set by its command-line name, made for ``config``.

    Parameters
    ----------
    config : Config or str or os.PathLike or dict
        As in :func:`from_arrays`.
    dataset : str or os.PathLike, optional
        ``digits``, ``mnist5k``, ``idx:DIR``, ``npz:PATH`` or ``csv:PATH`` (a path object: as :func:`from_file`
        reads it); ``config``'s ``[data] dataset`` by default. An empty or blank name is refused.
    label_column : int or str, optional
        CSV only, as in :func:`from_file`.

    Returns
    -------
    Split

    Raises
    ------
    DataError, ConfigError
        As in :func:`from_file`.
    """
    if isinstance(dataset, os.PathLike):
        return from_file(dataset, config=config, label_column=label_column)
    return load_data(as_config(config), dataset, label_column)
