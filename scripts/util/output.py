"""Writing results: all or nothing (temporary files renamed into place), parents created; output paths
checked before any work starts."""

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import UsageError

__all__ = ["check_folder", "check_outputs", "check_waveform", "write_all", "write_atomic", "write_if_changed",
           "write_json", "write_npz", "json_writer", "npz_writer"]


def check_folder(folder, option: str, given=None):
    """Raise :class:`UsageError` unless ``folder`` is, or can be made, a writable folder; leaves nothing behind.

    ``option`` names where the folder came from (e.g. ``--out``) and ``given`` what it was given, if not
    ``folder`` itself (a file in it), for the message. Whether the nearest folder that exists takes new
    entries is tried (a folder made and removed), so read-only mounts and folders that only look
    writable (``/proc``, or any folder for root) are caught too.
    """
    folder = Path(folder)
    given = folder if given is None else given
    fix = f"give {option} a path in a folder you can write to"
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{option} {given}: {folder} is a file, not a folder", fix)
    existing = folder
    while not existing.exists():  # the nearest ancestor that exists is where the folders would be made
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{option} {given}: {existing} is a file, not a folder", fix)
    try:
        os.rmdir(tempfile.mkdtemp(dir=existing, prefix=".trifactor-check-"))
    except OSError as exc:
        raise UsageError(f"{option} {given}: cannot write in {existing} ({exc.strerror})", fix) from None


def check_outputs(paths: dict):
    """Raise :class:`UsageError` unless every ``{option: path}`` (None: not given) names a file that can be
    written, and no two name the same file. Call it before the work whose results they will hold."""
    seen = {}
    for option, path in paths.items():
        if path is None:
            continue
        path = Path(path)
        if path.is_dir() or path.name in ("", ".", ".."):
            raise UsageError(f"{option} {path} is a folder, not a file", f"give {option} the path of a file")
        check_folder(path.parent, option, path)
        same = seen.get(path.resolve())
        if same:
            raise UsageError(f"{same} and {option} both name {path}", f"give {same} and {option} different files")
        seen[path.resolve()] = option


def check_waveform(path, option: str = "--trace"):
    """Raise :class:`UsageError` unless ``path`` names an FST waveform file (``*.fst``) in a folder that exists and
    takes new files: a waveform is written by the simulator, so no folder is made for it."""
    path = Path(path)
    if path.is_dir() or path.suffix != ".fst":
        raise UsageError(f"{option} {path} is not the name of an .fst file",
                         f"give {option} a file name ending in .fst, e.g. {option} build/out.fst")
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"{option} {path}: the folder {folder} does not exist",
                         f"make it first (mkdir -p {folder}), or give {option} a file in a folder that exists")
    check_folder(folder, option, path)


def write_all(writers: dict):
    """Write several files, all or none: ``{path: write(binary_file)}``, each written to a temporary file beside
    its path first, then all renamed into place. A file that cannot be written is a :class:`UsageError`."""
    staged = []
    try:
        for path, write in writers.items():
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for everyone
        for tmp, path in staged:
            os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or 'the results'} ({exc.strerror})",
                         "give a file in a folder you can write to, on a disk with space") from None
    finally:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)


def write_atomic(path, write):
    """Call ``write(file)`` on a temporary binary file beside ``path``, then rename it to ``path``."""
    write_all({path: write})


def json_writer(data: dict):
    """A writer of ``data`` as indented JSON, for :func:`write_all`."""
    return lambda f: f.write((json.dumps(data, indent=2) + "\n").encode())


def npz_writer(arrays: dict):
    """A writer of ``arrays`` as an ``.npz`` file, for :func:`write_all`."""
    return lambda f: np.savez(f, **arrays)


def write_json(path, data: dict):
    write_all({path: json_writer(data)})


def write_npz(path, arrays: dict):
    write_all({path: npz_writer(arrays)})


def write_if_changed(path, text: str) -> bool:
    """Write ``text`` atomically unless the file already holds it (keeps its time stamp, so builds stay cached)."""
    path = Path(path)
    if path.exists() and path.read_text() == text:
        return False
    write_atomic(path, lambda f: f.write(text.encode()))
    return True
