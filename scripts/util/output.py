"""Writing results: all or nothing (a temporary file renamed into place), parents created."""

import json
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["write_atomic", "write_if_changed", "write_json", "write_npz"]


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
