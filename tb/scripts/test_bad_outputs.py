"""Output paths that are not regular files (issue 27): what ``scripts.util.output`` does with each.

- a file that exists and is not a regular file (a character device such as ``/dev/null``, a FIFO, a terminal,
  ``/dev/stdout``) is written through: opened and written, never replaced;
- a symlink to a regular file (or to nothing yet) stays a symlink: its target is replaced, atomically;
- a folder, a symlink to one, a symlink loop, a socket or a block device is refused before any work, in one line.

Device nodes are made here (``os.mknod``) as stand-ins for ``/dev/null`` and ``/dev/full`` when the tests run as
root: the code before the fix replaced them with regular files, which as root would have broken the real ones.
"""

import json
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from trifactor.scripts.cli import main

from conftest import TINY_CONFIG, TRIFACTOR, assert_one_line_error, tiny_dataset

FIXED = ["train", "--backend", "fixed", "--epochs", "1", "--quiet", "--config", "tiny.toml", "--dataset", "idx:data"]


@pytest.fixture
def work(tmp_path, monkeypatch):
    (tmp_path / "tiny.toml").write_text(TINY_CONFIG)
    tiny_dataset(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def device(folder: Path, name: str, real: str) -> Path:
    """A character device like ``real`` (``/dev/null``, ``/dev/full``): a stand-in made in ``folder`` when we can,
    else (not root) the real one, which we could not replace anyway."""
    rdev = os.stat(real).st_rdev
    try:
        os.mknod(folder / name, 0o666 | stat.S_IFCHR, rdev)
    except PermissionError:
        if os.geteuid() == 0:  # root that may not make device nodes: the real one is not safe to test
            pytest.skip("cannot make a device node")
        return Path(real)
    return folder / name


def files(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(folder: Path) -> list:
    return [p.name for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".trifactor-check")]


def record(text: str) -> dict:
    data = json.loads(text)
    assert data["backend"] == "fixed" and 0 <= data["test_accuracy"] <= 1
    return data


def test_a_character_device_is_written_through(work, capsys):
    """``--json /dev/null`` discards the JSON and leaves /dev/null a device (it was replaced by a regular file)."""
    null = device(work, "null", "/dev/null")
    before = os.stat(null)
    assert main([*FIXED, "--json", str(null), "--save-weights", "w.npz"]) == 0, capsys.readouterr().err
    after = os.stat(null)
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert np.load(work / "w.npz")["W0"].shape == (7, 16)  # the regular file beside it is written as ever
    assert leftovers(work) == []


def test_a_fifo_is_written_through(work, capsys):
    """A reader on a FIFO receives the JSON; the FIFO stays (it was replaced, and a reader waited for ever)."""
    fifo = work / "pipe"
    os.mkfifo(fifo)
    read_end = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # held by us: the reader cannot hang, however it ends
    holder = os.open(fifo, os.O_WRONLY)  # a writer of ours, so that the reader sees the end only when we say
    os.set_blocking(read_end, True)
    received = []

    def read():
        with os.fdopen(read_end, "rb") as f:
            received.append(f.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        code = main([*FIXED, "--json", "pipe"])
    finally:
        os.close(holder)
        reader.join(timeout=20)
    assert code == 0, capsys.readouterr().err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced"
    record(received[0].decode())


@pytest.mark.skipif(not Path("/proc/self/fd/1").exists(), reason="needs /proc")
@pytest.mark.parametrize("stdout_to", ["pipe", "file"])
def test_stdout_is_written_through(work, stdout_to):
    """``--json /dev/stdout`` (here a symlink to /proc/self/fd/1, as /dev/stdout is) prints the JSON after the
    other lines: on a pipe, and on a regular file (``> out.txt``), which keeps the lines printed before it."""
    (work / "stdout").symlink_to("/proc/self/fd/1")
    command = [str(TRIFACTOR), *FIXED, "--json", "stdout"]
    if stdout_to == "pipe":
        result = subprocess.run(command, capture_output=True, text=True, cwd=work, timeout=120)
        code, err, out = result.returncode, result.stderr, result.stdout
    else:
        with open(work / "out.txt", "w") as sink:
            done = subprocess.run(command, stdout=sink, stderr=subprocess.PIPE, text=True, cwd=work, timeout=120)
        code, err, out = done.returncode, done.stderr, (work / "out.txt").read_text()
    assert code == 0, err
    lines, _, rest = out.partition("{")
    assert lines.startswith("epoch   1") and "test" in lines, out
    record("{" + rest)
    assert os.readlink(work / "stdout") == "/proc/self/fd/1"


@pytest.mark.skipif(not Path("/proc/self/fd/1").exists(), reason="needs /proc")
def test_stdout_in_a_file_keeps_the_order_of_what_is_printed(work):
    """With stdout a regular file, what is printed after a file written to /dev/stdout comes after it (written on
    the process's own descriptor, not a second opening at the file's start, nor at its end overwritten later)."""
    (work / "stdout").symlink_to("/proc/self/fd/1")
    script = ("import sys; from trifactor.scripts.util.output import write_json; print('before'); "
              "write_json('stdout', {'a': 1}); print('after')")
    with open(work / "out.txt", "w") as sink:
        done = subprocess.run([sys.executable, "-c", script], stdout=sink, stderr=subprocess.PIPE, text=True, cwd=work,
                              timeout=60)
    assert done.returncode == 0, done.stderr
    assert (work / "out.txt").read_text() == 'before\n{\n  "a": 1\n}\nafter\n'


def test_a_symlink_to_a_file_stays_a_symlink(work, capsys):
    """The target is replaced (atomically, its temporary file beside it), not the link."""
    (work / "results").mkdir()
    (work / "results" / "r.json").write_text("old")
    (work / "r.json").symlink_to("results/r.json")
    (work / "later.json").symlink_to("results/later.json")  # a link to a file not made yet: it is made
    assert main([*FIXED, "--json", "r.json", "--save-weights", "w.npz"]) == 0, capsys.readouterr().err
    assert os.readlink(work / "r.json") == "results/r.json"
    record((work / "results" / "r.json").read_text())
    assert main([*FIXED, "--json", "later.json"]) == 0, capsys.readouterr().err
    assert os.readlink(work / "later.json") == "results/later.json"
    record((work / "results" / "later.json").read_text())
    assert leftovers(work) == []


def make_socket(path: Path):
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))


def block_device(path: Path):
    if os.geteuid() != 0:
        pytest.skip("making a block device needs root")
    os.mknod(path, 0o600 | stat.S_IFBLK, os.makedev(0, 0))  # no such device: nothing could be written even by mistake


REFUSED = {
    "folder-symlink": (lambda p: (p.parent / "adir").mkdir() or p.symlink_to("adir"), ["--json out", "folder"]),
    "symlink-loop": (lambda p: p.symlink_to("out"), ["--json out", "symlink loop"]),
    "socket": (make_socket, ["--json out", "socket"]),
    "block-device": (block_device, ["--json out", "block device"]),
}


@pytest.mark.parametrize("make, words", list(REFUSED.values()), ids=list(REFUSED))
def test_what_cannot_be_written_is_refused_before_any_work(work, capsys, make, words):
    make(work / "out")
    before, kind = files(work), os.lstat(work / "out")
    code = main([*FIXED, "--json", "out", "--save-weights", "w.npz"])
    assert_one_line_error(code, capsys.readouterr().err, words)
    assert files(work) == before
    after = os.lstat(work / "out")
    assert (after.st_mode, after.st_ino) == (kind.st_mode, kind.st_ino), "the path was replaced"


def test_a_device_that_fails_leaves_no_regular_file(work, capsys):
    """/dev/full takes no byte: the one line names it, and the weights beside it are not written either (all or
    nothing); the device stays a device."""
    full = device(work, "full", "/dev/full")
    before = files(work)
    code = main([*FIXED, "--json", str(full), "--save-weights", "w.npz"])
    assert_one_line_error(code, capsys.readouterr().err, [str(full), "No space left on device"])
    assert files(work) == before and leftovers(work) == []
    assert stat.S_ISCHR(os.stat(full).st_mode)


def test_the_same_device_twice_is_allowed(work, capsys):
    """Two outputs may both be discarded into /dev/null (two regular files of one name are still refused)."""
    null = device(work, "null", "/dev/null")
    assert main([*FIXED, "--json", str(null), "--save-weights", str(null)]) == 0, capsys.readouterr().err
    assert stat.S_ISCHR(os.stat(null).st_mode)
