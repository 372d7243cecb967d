"""Writing results: all or nothing (temporary files renamed into place), parents created; output paths
checked before any work starts.

What an output path may name, and what is done with it (:func:`target`):

- nothing yet, or a regular file: written to a temporary file beside it, then renamed over it;
- a symlink to a regular file (or to nothing yet): the same for its target; the link stays a link;
- an existing file that is not a regular file, such as a character device (``/dev/null``, a terminal) or a FIFO
  (whose reader it waits for, as a shell's ``>`` does), and ``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N``
  whatever they lead to: written through (:func:`write_through`), never replaced, so ``--json /dev/stdout``
  prints (after the lines printed before it, also with ``> out.txt``) and ``--json /dev/null`` discards;
- a folder, a symlink to one, a symlink loop, a socket or a block device: refused by :func:`check_outputs`.

Of the files one :func:`write_all` writes, the regular ones are renamed into place only once every file has been
written, those written through included: a device that fails leaves none of them.
"""

import errno
import io
import json
import os
import re
import stat
import sys
import tempfile
from pathlib import Path

import numpy as np

from .errors import UsageError

__all__ = ["check_folder", "check_outputs", "check_waveform", "target", "write_all", "write_atomic",
           "write_if_changed", "write_json", "write_npz", "json_writer", "npz_writer"]

#: an open file of a process (what /dev/stdout, /dev/stderr and /dev/fd/N lead to): written through, always
FD_LINK = re.compile(r"/proc/(?P<pid>\d+)(/task/\d+)?/fd/(?P<fd>\d+)")  # /proc/self is resolved
#: file types refused, with what to call them
REFUSED = {stat.S_IFDIR: "a folder", stat.S_IFSOCK: "a socket", stat.S_IFBLK: "a block device (a disk)"}


def target(path) -> tuple[str, Path]:
    """(how ``path`` is written, the path written): ``("replace", file)`` for a regular file or one not made yet
    (``file``: the end of the symlinks, if ``path`` is one), ``("through", path)`` for an existing file that is not
    regular or an open file of a process (``/dev/stdout``). Raises ``OSError`` for a symlink loop."""
    path = Path(path)
    if fd_link(path):
        return "through", path
    try:
        mode = os.stat(path).st_mode  # follows the links: a symlink loop raises ELOOP
    except FileNotFoundError:  # nothing there, or a link to nothing yet
        return "replace", Path(os.path.realpath(path))
    return ("replace", Path(os.path.realpath(path))) if stat.S_ISREG(mode) else ("through", path)


def fd_link(path) -> tuple[int, int] | None:
    """(process id, file descriptor) if ``path`` leads, through symlinks, to an open file of a process
    (``/dev/stdout`` is ``/proc/self/fd/1``), else None."""
    hop = Path(os.path.abspath(path))
    for _ in range(40):  # the kernel's own limit of symlinks in a path
        hop = Path(os.path.realpath(hop.parent)) / hop.name
        found = FD_LINK.fullmatch(str(hop))
        if found:
            return int(found["pid"]), int(found["fd"])
        if not hop.is_symlink():
            return None
        hop = hop.parent / os.readlink(hop)
    return None


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
    written (see the module's text), and no two name the same regular file. Call it before the work whose results
    they will hold."""
    seen = {}
    for option, path in paths.items():
        if path is None:
            continue
        path = Path(path)
        fix = f"give {option} the path of a file"
        if path.name in ("", ".", ".."):
            raise UsageError(f"{option} {path} is a folder, not a file", fix)
        try:
            how, file = target(path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UsageError(f"{option} {path} is a symlink loop", fix) from None
            how, file = "replace", Path(os.path.abspath(path))  # e.g. a file on the way: check_folder says so
        if how == "through":
            try:
                kind = REFUSED.get(stat.S_IFMT(os.stat(path).st_mode))
            except OSError:
                kind = None
            if kind == "a folder":
                raise UsageError(f"{option} {path} is a folder, not a file", fix)
            if kind:
                raise UsageError(f"{option} {path} is {kind}, not a file", fix)
            if not os.access(path, os.W_OK):
                raise UsageError(f"{option} {path}: cannot write to it", f"give {option} a file you can write to")
            continue  # written in place: its folder need not take new files
        check_folder(file.parent, option, path)
        same = seen.get(file)
        if same:
            raise UsageError(f"{same} and {option} both name {path}", f"give {same} and {option} different files")
        seen[file] = option


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
    """Write several files, all or none: ``{path: write(binary_file)}``. A regular file (see the module's text) is
    written to a temporary file beside it first; one written through is written in memory first. Then the ones
    written through are written, and only then are the temporary files renamed into place. A file that cannot be
    written is a :class:`UsageError`."""
    staged, through = [], []
    try:
        for path, write in writers.items():
            how, file = target(path)
            if how == "through":
                buffer = io.BytesIO()
                write(buffer)
                through.append((path, buffer.getvalue()))
                continue
            file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
            staged.append((tmp, file))
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for everyone
        for path, data in through:
            write_through(path, data)
        for tmp, file in staged:
            os.replace(tmp, file)
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or 'the results'} ({exc.strerror})",
                         "give a file in a folder you can write to, on a disk with space") from None
    finally:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)


def write_through(path, data: bytes):
    """Write ``data`` into the existing ``path`` (a device, a FIFO, an open file of a process). This process's own
    open file (``/dev/stdout``) is written on its descriptor, after what was printed before and before what is
    printed after (also when it is a regular file, ``> out.txt``); any other is opened for appending."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    own = fd_link(path)
    fd = os.dup(own[1]) if own and own[0] == os.getpid() else os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        exc.filename = exc.filename or str(path)
        raise
    finally:
        os.close(fd)


def write_atomic(path, write):
    """Call ``write(file)`` on a temporary binary file beside ``path``, then rename it to ``path`` (or write it
    through, for a path that is not a regular file: see the module's text)."""
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
    if path.is_file() and path.read_text() == text:
        return False
    write_atomic(path, lambda f: f.write(text.encode()))
    return True
