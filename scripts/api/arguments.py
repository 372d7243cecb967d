"""The API's arguments as a user naturally gives them, each turned into what the layers below take, or refused
with a :class:`~trifactor.UsageError` (or the :class:`~trifactor.ConfigError` / :class:`~trifactor.DataError`
of what it names) that says what is expected; never an ``AttributeError`` from deep inside.

- a configuration: a :class:`~trifactor.Config`, the path (``str`` or ``os.PathLike``) of a TOML file, or the
  dict :func:`~trifactor.config_from_dict` takes;
- a data set: a :class:`~trifactor.Split` from :mod:`trifactor.datasets`, a data set name (``"digits"``,
  ``"csv:PATH"``, ...), an ``os.PathLike`` of a ``.csv`` or ``.npz`` file or an IDX folder, or a tuple ``(X, y)``
  (what scikit-learn's ``return_X_y=True`` gives). A bare array, a list, or four arrays (``train_test_split``'s
  order differs from ``from_arrays``'s) are refused: which is which would be a guess.
"""

import math
import numbers
import os
import reprlib
from pathlib import Path

from trifactor.golden.config import Config, config_from_dict, load_config
from trifactor.golden.data import Split
from trifactor.scripts.util.errors import UsageError

__all__ = ["as_config", "as_data", "as_path", "as_clock", "kind"]

_short = reprlib.Repr()
_short.maxstring, _short.maxother = 40, 40


def kind(value) -> str:
    """``value``'s type as a user would write it: ``int``, ``numpy.ndarray``, ``pandas.DataFrame``."""
    cls = type(value)
    package = cls.__module__.split(".")[0]
    return cls.__qualname__ if package == "builtins" else f"{package}.{cls.__qualname__}"


def as_config(config, name: str = "config") -> Config:
    """A :class:`Config` from a Config, a TOML file's path or a dict; a :class:`UsageError` for anything else."""
    if isinstance(config, Config):
        return config
    if isinstance(config, (str, os.PathLike)):
        return load_config(config)
    if isinstance(config, dict):
        return config_from_dict(config)
    fix = (f"give {name} a Config (trifactor.load_config('configs/digits.toml')), the path of a TOML file, or a "
           "dict of its sections")
    if isinstance(config, Split):
        raise UsageError(f"{name} is a Split (a data set), not a configuration", "the configuration comes first: "
                         "call train(config, data) or trifactor.datasets.from_arrays(X, y, config=config)")
    raise UsageError(f"{name} {_short.repr(config)} ({kind(config)}) is not a configuration", fix)


def as_data(config: Config, data, name: str = "data") -> Split:
    """A :class:`Split` made for ``config`` from whatever :func:`trifactor.train` takes as ``data`` (the module's
    text lists it); a :class:`UsageError` for anything else."""
    from . import datasets

    if data is None or isinstance(data, str):
        return datasets.load(config, data)
    if isinstance(data, Split):
        return data
    if isinstance(data, os.PathLike):
        return datasets.from_file(data, config=config)
    fix = (f"give {name} a data set name ('digits', 'csv:PATH', ...), the path of a .csv or .npz file, a tuple (X, y), "
           "or a Split from trifactor.datasets")
    if isinstance(data, tuple):
        if len(data) == 2:
            return datasets.from_arrays(*data, config=config)
        if len(data) == 4:
            raise UsageError(f"{name} is a tuple of 4 items: which are the test samples is a guess (scikit-learn's "
                             "train_test_split gives X_train, X_test, y_train, y_test)",
                             "give trifactor.datasets.from_arrays(X, y, X_test=X_test, y_test=y_test, config=config)")
        raise UsageError(f"{name} is a tuple of {len(data)} items, not (X, y)", fix)
    if isinstance(data, list) or hasattr(data, "__array__"):
        raise UsageError(f"{name} is a {kind(data)}: samples without their labels, or labels without samples",
                         "give (X, y), or trifactor.datasets.from_arrays(X, y, config=config)")
    raise UsageError(f"{name} {_short.repr(data)} ({kind(data)}) is not a data set", fix)


def as_path(path, name: str):
    """``path`` (a str or os.PathLike) as a :class:`~pathlib.Path`; None stays None."""
    if path is None or isinstance(path, Path):
        return path
    if isinstance(path, (str, os.PathLike)):
        return Path(path)
    raise UsageError(f"{name} {_short.repr(path)} ({kind(path)}) is not a path", f"give {name} a str or pathlib.Path")


def as_clock(mhz, name: str = "clock_mhz"):
    """A clock in MHz: None, or a finite positive real number (the board's PLL range is checked by the build)."""
    if mhz is None:
        return None
    if isinstance(mhz, bool) or not isinstance(mhz, numbers.Real):
        raise UsageError(f"{name} {_short.repr(mhz)} is not a number", f"give {name} a number of MHz, e.g. {name} 24")
    if not 0 < mhz < math.inf:
        raise UsageError(f"{name} {mhz} is not a positive finite number of MHz",
                         f"give {name} a number of MHz, e.g. {name} 24, or leave it out for the fastest clock the "
                         "design meets")
    return float(mhz)
