"""Part ``variants``: what learned feedback and convolution cost the core, alone on the UP5K and the ECP5-85F, over
place-and-route seeds.

The rows of the README's two cost tables, each ``trifactor synth --config C --target T --seeds N`` as part synth runs
it (:func:`.synth.measure_job`; the files in ``build/measure/variants/<job>/``), in two tables:

- **learned feedback**: the default digits core (SSDFA, 8 lanes) against ``configs/digits-ddfa.toml`` (DDFA, 8 lanes)
  on both parts, and the same two at 4 lanes on the UP5K (``configs/digits-ddfa-up5k.toml``). The 8-lane SSDFA core on
  the UP5K is part synth's first job, measured again here so that the rows compared come from one commit and run;
- **convolution**: ``configs/digits-conv.toml`` on the UP5K with feedback rows from the ROM and from the LFSR
  (``[[conv]] feedback = "lfsr"``), ``configs/mnist5k-conv.toml`` (32 lanes) on the ECP5-85F and
  ``configs/mnist5k-conv-up5k.toml`` (4 lanes, LFSR rows, SPRAM banks) on the UP5K.

A core that does not fit its part is a row with the one-line reason (the resource that ran out). The section then
gives what each variant adds to the core it varies (:data:`DIFFERENCES`), the deepest logic path of each core
(``trifactor depth``) and each seed's critical path.
"""

from pathlib import Path

from ..flow.depth import DEEP_LEVELS
from ..util.tables import markdown_table
from .common import Steps
from .synth import (PATH_COLUMNS, RESOURCE_COLUMNS, depth_cell, job_label, levels_note, measure_job, path_rows,
                    resource_cells)

__all__ = ["DESCRIPTION", "TABLES", "JOBS", "DIFFERENCES", "LOGS", "difference", "measure"]

DESCRIPTION = ("what learned feedback and convolution cost: the cores alone on the UP5K and the ECP5-85F, resources "
               "and Fmax over seeds")

#: table -> its jobs (job, configuration, overrides, target), in order
TABLES = {
    "Learned feedback": [
        ("digits-up5k", "digits", {}, "up5k"),  # part synth's job, again
        ("digits-ecp5-85k", "digits", {}, "ecp5-85k"),
        ("digits-ddfa-up5k", "digits-ddfa", {}, "up5k"),
        ("digits-ddfa-ecp5-85k", "digits-ddfa", {}, "ecp5-85k"),
        ("digits-4lanes-up5k", "digits", {"hardware": {"lanes": 4}}, "up5k"),
        ("digits-ddfa-up5k-up5k", "digits-ddfa-up5k", {}, "up5k"),
    ],
    "Convolution": [
        ("digits-conv-up5k", "digits-conv", {}, "up5k"),
        ("digits-conv-lfsr-up5k", "digits-conv", {"conv": {"feedback": "lfsr"}}, "up5k"),
        ("mnist5k-conv-ecp5-85k", "mnist5k-conv", {}, "ecp5-85k"),
        ("mnist5k-conv-up5k-up5k", "mnist5k-conv-up5k", {}, "up5k"),
    ],
}
JOBS = [job for jobs in TABLES.values() for job in jobs]
#: (what, the job varied, the variant): what each variant adds to the core it varies, on the same part
DIFFERENCES = [
    ("DDFA over SSDFA, 8 lanes", "digits-up5k", "digits-ddfa-up5k"),
    ("DDFA over SSDFA, 8 lanes", "digits-ecp5-85k", "digits-ddfa-ecp5-85k"),
    ("DDFA over SSDFA, 4 lanes", "digits-4lanes-up5k", "digits-ddfa-up5k-up5k"),
    ("LFSR feedback rows over the ROM's, digits-conv", "digits-conv-up5k", "digits-conv-lfsr-up5k"),
]
LOGS = Path("build") / "measure" / "variants"
#: what :func:`difference` compares: (column, the row's figure)
COMPARED = [("logic cells", lambda row: row["utilization"]["logic_cells"]["used"]),
            ("LUTs", lambda row: row["luts"]), ("FFs", lambda row: row["ffs"]), ("DSPs", lambda row: row["dsps"]),
            ("block RAMs", lambda row: row["brams"]),
            ("SPRAMs", lambda row: row["utilization"].get("sprams", {}).get("used", 0)),
            ("Fmax (MHz)", lambda row: row["fmax_mhz"])]


def steps(options) -> int:
    return len(JOBS)


def difference(base: dict, other: dict) -> dict | None:
    """``{column: other's figure - base's}`` over :data:`COMPARED` (Fmax: the medians'); None unless both rows were
    measured."""
    if "error" in base or "error" in other:
        return None
    return {column: figure(other) - figure(base) for column, figure in COMPARED}


def _signed(value) -> str:
    return f"{value:+.1f}" if isinstance(value, float) else f"{value:+d}"


def measure(options, say: Steps):
    """Every job of :data:`TABLES` over ``options.seeds`` seeds; returns (markdown body, data)."""
    data, tables, paths, deepest = {}, {}, [], []
    for table, jobs in TABLES.items():
        rows = tables[table] = []
        for job, name, overrides, target in jobs:
            row = data[job] = measure_job(say, job, name, overrides, target, options, LOGS)
            label = job_label(name, overrides)
            if "error" in row:
                rows.append([label, target, f"**{row['error']}**", *[""] * (len(RESOURCE_COLUMNS) + 2)])
                continue
            rows.append([label, target, row["rule"], row["lanes"], *resource_cells(row),
                         depth_cell(row["logic_depth"])])
            groups = row["logic_depth"]["deepest_groups"]  # deepest first
            deepest.append([job, f"{row['logic_depth']['deepest']:g}",
                            *([f"`{groups[0]['start']}`", f"`{groups[0]['end']}`", groups[0]["endpoints"]] if groups
                              else [f"(none at {DEEP_LEVELS}+)", "", ""])])
            paths += path_rows(job, row)
    differences, changes = {}, []
    for what, base, other in DIFFERENCES:
        target = next(t for job, _, _, t in JOBS if job == base)
        change = differences[f"{what}, {target}"] = difference(data[base], data[other])
        if change is None:
            failed = " and ".join(job for job in (base, other) if "error" in data[job])
            changes.append([what, target, f"{other} - {base}", f"not both measured ({failed}: see above)",
                            *[""] * (len(COMPARED) - 1)])
        else:
            changes.append([what, target, f"{other} - {base}", *(_signed(change[column]) for column, _ in COMPARED)])
    data["differences"] = differences
    seeds = f"seeds 0-{options.seeds - 1}"
    body = [f"`trifactor synth --config C --target T --seeds {options.seeds}` for each row, as part `synth` runs it "
            f"(Yosys, then nextpnr with {seeds}; the core alone inside its measurement top, which registers every "
            f"input and output; the files in `{LOGS.as_posix()}/<job>/`). Fmax is the median over the seeds, each "
            f"seed's in brackets, against the goal of part `synth`. Logic cells are the UP5K's ICESTORM_LC or the "
            f"ECP5's TRELLIS_COMB. A core that does not fit its part says which resource ran out. The 8-lane SSDFA "
            f"core on the UP5K is part `synth`'s first row, measured again here with the others.", ""]
    columns = ["configuration", "target", "rule", "lanes", *RESOURCE_COLUMNS, "logic levels"]
    for table, rows in tables.items():
        body += [f"### {table}", "", markdown_table(columns, rows), ""]
    body += [levels_note(LOGS), "",
             "What each variant adds to the core it varies, on the same part (the variant's figure minus the core's; "
             "Fmax: the medians'):", "",
             markdown_table(["variant", "target", "jobs", *(column for column, _ in COMPARED)], changes), "",
             f"The deepest logic path of each core, in LUTs, with its (start signal, end register) pair and how many "
             f"register inputs that pair reaches at {DEEP_LEVELS} LUTs or more (`trifactor depth "
             f"{LOGS.as_posix()}/<job>/top.json --levels {DEEP_LEVELS}` lists them all):", "",
             markdown_table(["job", "deepest (LUTs)", "start", "end register", "register inputs"], deepest), "",
             "Each seed's critical path, as nextpnr names its first and last cell:", "",
             markdown_table(PATH_COLUMNS, paths) if paths else "(no log had one)", ""]
    return "\n".join(body), data
