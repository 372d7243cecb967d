"""The simulated backends' build folders (``build/rtl/<core>-...``) kept under a size: least recently used go first.

Each configuration, store size and kind (rtl, board-sim, traced, flash) has a Verilator build of its own, about
150 MB for a native board-sim; nothing else removes them, and a few weeks of sweeps and checks once filled a
252 GB disk. :func:`prune` runs as a run starts (:func:`scripts.sim.backend.job_folder`): it removes the
sibling folders used longest ago while the folders together take more than ``limit`` bytes
(:data:`LIMIT_ENV`, in GB, default :data:`DEFAULT_GB`; ``0`` keeps everything). A folder is used when a run
starts in it (its modification time is set then). It never removes the run's own folder, a folder another
process is building in (its ``.lock``, :func:`scripts.sim.runner.build_lock`), or one with a live run's job
folder (``job-<pid>``).
"""

import fcntl
import os
import shutil
from pathlib import Path

from ..util.errors import UsageError

__all__ = ["LIMIT_ENV", "DEFAULT_GB", "limit_bytes", "folder_bytes", "prune"]

LIMIT_ENV = "TRIFACTOR_SIM_CACHE_GB"
DEFAULT_GB = 4.0


def limit_bytes() -> int | None:
    """The size the build folders are kept under (:data:`LIMIT_ENV`), or None to keep them all; a value that is
    not a number is refused (:class:`UsageError`) before the run starts."""
    text = os.environ.get(LIMIT_ENV, "").strip()
    try:
        gb = float(text) if text else DEFAULT_GB
    except ValueError:
        raise UsageError(f"{LIMIT_ENV}={text!r} is not a size in GB",
                         f"set it to a number (default {DEFAULT_GB:g}; 0 keeps every simulator build) or unset it") \
            from None
    return None if gb <= 0 else int(gb * 1e9)


def folder_bytes(folder: Path) -> int:
    """The bytes of the files under ``folder`` (those that vanish while counting count 0)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _has_live_job(folder: Path) -> bool:
    for job in folder.glob("job-*"):
        pid = job.name.removeprefix("job-")
        if pid.isdigit():
            try:
                os.kill(int(pid), 0)
                return True
            except ProcessLookupError:
                pass
            except PermissionError:  # someone else's live process
                return True
    return False


def _remove_unless_busy(folder: Path) -> bool:
    """Remove ``folder`` unless a process builds in it or runs in it; whether it went."""
    lock_path = folder / ".lock"
    try:
        lock = open(lock_path, "a")
    except OSError:
        lock = None
    try:
        if lock is not None:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
        if _has_live_job(folder):
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return not folder.exists()
    finally:
        if lock is not None:
            lock.close()


def prune(build_dir: Path, limit: int | None = None) -> list:
    """Mark ``build_dir`` used, then remove its least recently used siblings while all of them together take
    more than ``limit`` bytes (default :func:`limit_bytes`); the folders removed."""
    limit = limit_bytes() if limit is None else limit
    build_dir = Path(build_dir)
    if build_dir.exists():
        os.utime(build_dir)
    if limit is None or not build_dir.parent.is_dir():
        return []
    siblings = [f for f in build_dir.parent.iterdir() if f.is_dir() and not f.is_symlink()]
    sizes = {f: folder_bytes(f) for f in siblings}
    total = sum(sizes.values())
    removed = []
    for folder in sorted(siblings, key=lambda f: f.stat().st_mtime):
        if total <= limit:
            break
        if folder.resolve() == build_dir.resolve():
            continue
        if _remove_unless_busy(folder):
            total -= sizes[folder]
            removed.append(folder)
    return removed
