"""Checks of the numbers a command is given, before any work: each raises :class:`UsageError` naming the option
and the fix. The option names are the command line's; a Python caller passes its own argument name."""

from .errors import UsageError

__all__ = ["check_seed", "check_count", "check_store_room"]


def check_seed(seed, option: str = "--seed"):
    """A seed is a whole number >= 0 (NumPy's generators take no negative seeds)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UsageError(f"{option} {seed!r} is not a whole number", f"use {option} 0 or more")
    if seed < 0:
        raise UsageError(f"{option} {seed} is negative", f"use {option} 0 or more")


def check_count(value, option: str):
    """A count (epochs, seeds, samples) is a whole number >= 1; None (not given) passes."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{option} {value} is not a positive number", f"use {option} 1 or more")


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
