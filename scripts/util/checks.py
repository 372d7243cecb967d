"""Checks of the numbers a command is given, before any work: each raises :class:`UsageError` naming the option
and the fix, and returns the number as a Python ``int`` (a NumPy integer is taken). The option names are the
command line's; a Python caller passes its own argument name.

The ranges: a seed is ``0..MAX_SEED`` (2**32 - 1, what scikit-learn and NumPy's legacy generators take), a count
of seeds ``1..MAX_SEED + 1`` (seeds ``0..N-1``), epochs ``1..MAX_EPOCHS`` (:mod:`golden.config.schema`), as in a
configuration file.
"""

import numbers

from trifactor.golden.config import MAX_EPOCHS, MAX_SEED

from .errors import UsageError

__all__ = ["check_seed", "check_count", "check_epochs", "check_seed_count", "check_given", "check_store_room"]


def _whole(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_seed(seed, option: str = "--seed") -> int:
    """A seed is a whole number ``0..MAX_SEED`` (NumPy's generators take no negative seeds, scikit-learn none
    past 2**32 - 1)."""
    if not _whole(seed):
        raise UsageError(f"{option} {seed!r} is not a whole number", f"use {option} 0..{MAX_SEED}")
    if seed < 0:
        raise UsageError(f"{option} {seed} is negative", f"use {option} 0 or more")
    if seed > MAX_SEED:
        raise UsageError(f"{option} {seed} is more than {MAX_SEED}, the largest seed scikit-learn and NumPy take",
                         f"use {option} 0..{MAX_SEED}")
    return int(seed)


def check_count(value, option: str, most: int | None = None, why: str = ""):
    """A count (epochs, seeds, samples) is a whole number ``>= 1`` (and ``<= most``, ``why`` saying why); None
    (not given) passes."""
    if value is None:
        return None
    if not _whole(value) or value < 1:
        raise UsageError(f"{option} {value} is not a positive number", f"use {option} 1 or more")
    if most is not None and value > most:
        raise UsageError(f"{option} {value} is more than {most}{why}", f"use {option} 1..{most}")
    return int(value)


def check_epochs(value, option: str = "--epochs"):
    """Epochs: ``1..MAX_EPOCHS``, or None (the configuration's)."""
    return check_count(value, option, MAX_EPOCHS, ", the most epochs a run may have")


def check_seed_count(value, option: str = "--seeds"):
    """A count of seeds ``0..N-1``: ``1..MAX_SEED + 1``."""
    return check_count(value, option, MAX_SEED + 1, f", and seed {value - 1 if _whole(value) else ''} would be past "
                                                     f"{MAX_SEED}, the largest scikit-learn and NumPy take")


def check_given(value, option: str):
    """A path or name given on the command line is not empty or blank: ``--out ""`` must not be taken for the
    default (nor ``" "`` for a folder named by a space). None (not given) passes."""
    if value is not None and not str(value).strip():
        raise UsageError(f"{option} is empty ({value!r})", f"give {option} a path, or leave it out for the default")
    return value


def check_store_room(config, split, fix: str, flash_offset: int | None = None) -> int:
    """The samples of ``split`` (train and test), which must fit the core's data store (in memory, or with
    ``flash_offset`` in the flash from there on); ``fix`` if they do not."""
    from trifactor.hdl.store.data_store import FLASH_HEADER, STORE_ROOM_BYTES, store_bytes

    n = len(split.y_train) + len(split.y_test)
    room, where = STORE_ROOM_BYTES, "the UP5K's 4 SPRAMs"
    if flash_offset is not None:
        room, where = (1 << 24) - flash_offset - FLASH_HEADER.size, f"the 16 MB flash from {flash_offset:#x}"
    if store_bytes(config, n) > room:
        raise UsageError(f"{split.name} ({n} samples) takes {store_bytes(config, n)} bytes in the data store, which "
                         f"holds {room} ({where})", fix)
    return n
