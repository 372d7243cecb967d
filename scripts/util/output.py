"""Writing results: all or nothing (a temporary file renamed into place), parents created."""

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import UsageError

__all__ = ["check_folder", "write_atomic", "write_if_changed", "write_json", "write_npz"]


def check_folder(folder, option: str):
    """Raise :class:`UsageError` unless ``folder`` is, or can be made, a writable folder; creates nothing.

    ``option`` names where the folder came from (e.g. ``--out``), for the message.
    """
    folder = Path(folder)
    fix = f"give {option} a folder you can write to"
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{option} {folder} is a file, not a folder", fix)
    existing = folder
    while not existing.exists():  # the nearest ancestor that exists is where the folders would be made
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{option} {folder}: {existing} is a file, not a folder", fix)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {folder}: {existing} is not writable", fix)


def write_atomic(path, write):
    """Call ``write(file)`` on a temporary binary file beside ``path``, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for everyone
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path, data: dict):
    write_atomic(path, lambda f: f.write((json.dumps(data, indent=2) + "\n").encode()))


def write_npz(path, arrays: dict):
    write_atomic(path, lambda f: np.savez(f, **arrays))


def write_if_changed(path, text: str) -> bool:
    """Write ``text`` atomically unless the file already holds it (keeps its time stamp, so builds stay cached)."""
    path = Path(path)
    if path.exists() and path.read_text() == text:
        return False
    write_atomic(path, lambda f: f.write(text.encode()))
    return True
