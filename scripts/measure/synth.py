"""Part ``synth``: the reference cores alone on the UP5K and the ECP5-85F, over place-and-route seeds.

What ``trifactor synth --config C --target T --seeds N`` does (:func:`scripts.flow.synth.synthesize`: Yosys once,
nextpnr once per seed, the core inside its measurement top), for the default digits core under each learning rule on
the UP5K, the 32-lane digits core on the ECP5-85F and the MNIST core whose weights live in the UP5K's SPRAM. Each
run's logs stay in ``build/measure/synth/<job>/``; the critical path of every seed is read from its nextpnr log.
"""

import json
import re
from pathlib import Path

from ..flow.depth import DEEP_LEVELS
from ..util.tables import markdown_table
from .common import FAILURES, Steps, config, one_line, spread, used, variant

__all__ = ["DESCRIPTION", "JOBS", "GOALS", "LOGS", "measure", "critical_path", "depth_cell", "job_label", "run_job",
           "measure_job", "resource_cells", "path_rows", "PATH_COLUMNS"]

DESCRIPTION = "the reference cores alone on the UP5K and the ECP5-85F: resources, Fmax over seeds"

#: (job, configuration, overrides, target); the digits rules as in parts accuracy and cycles
JOBS = [
    ("digits-up5k", "digits", {}, "up5k"),
    ("digits-balanced-up5k", "digits", {"hardware": {"pipeline": "balanced"}}, "up5k"),
    ("digits-dfa-up5k", "digits", {"feedback": {"rule": "dfa"}}, "up5k"),
    ("digits-hybrid-up5k", "digits-hybrid", {}, "up5k"),
    ("digits-bp-up5k", "digits-bp", {}, "up5k"),
    ("digits32-ecp5-85k", "digits32", {}, "ecp5-85k"),
    ("mnist-up5k-up5k", "mnist-up5k", {}, "up5k"),
]
#: the Fmax each target is measured against (the README's goals): MHz
GOALS = {"up5k": 40, "ecp5-85k": 100}
#: where each job's Yosys and nextpnr files stay: ``<folder>/<job>/`` (another part gives its own folder)
LOGS = Path("build") / "measure" / "synth"
#: the columns of :func:`resource_cells`, and of :func:`path_rows`
RESOURCE_COLUMNS = ["LUTs", "FFs", "logic cells", "DSPs", "block RAMs", "SPRAMs", "Fmax, MHz (each seed)"]
PATH_COLUMNS = ["job", "seed", "Fmax (MHz)", "from", "to", "logic cells on it", "ns logic / routing"]
#: where part cycles measured a core's busy cycles per sample (build/measure/cycles.json): job -> key there
MEASURED_CYCLES = {"digits-up5k": "rules: `ssdfa`", "digits32-ecp5-85k": "others: digits32, 32 lanes, `--backend rtl`",
                   "digits-balanced-up5k": 'others: digits, `pipeline = "balanced"`, `--backend rtl`'}
# nextpnr's path lines: "Info:   clk-to-q  1.39  1.39 Source core.x_LC.O", "Info:      Sink core.y_LC.I3", and the total
PATH_END = re.compile(r"^Info:.*?\b(Source|Sink) (\S+)", re.M)
LOGIC = re.compile(r"^Info:\s+logic\s", re.M)
DELAY = re.compile(r"^Info: ([\d.]+) ns logic, ([\d.]+) ns routing", re.M)


def steps(options) -> int:
    return len(JOBS)


def critical_path(log: Path) -> dict | None:
    """The first critical path nextpnr reports in ``log`` (its clock's, not a cross-domain one): ``from`` and ``to``
    (the first cell's output, the last cell's input), ``cells`` (the logic levels between) and the ``logic_ns`` and
    ``routing_ns`` of its delay; None when the log has none."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return None
    blocks = text.split("Critical path report for clock", 1)
    if len(blocks) < 2:
        return None
    block = blocks[1].split("Critical path report", 1)[0]
    ends = PATH_END.findall(block)
    delay = DELAY.search(block)
    if not ends or not delay:
        return None
    sinks = [name for kind, name in ends if kind == "Sink"]
    return {"from": ends[0][1], "to": sinks[-1] if sinks else ends[-1][1], "cells": len(LOGIC.findall(block)),
            "logic_ns": float(delay.group(1)), "routing_ns": float(delay.group(2))}


def depth_cell(depth: dict) -> str:
    """The table's logic-levels cell of :func:`scripts.flow.synth.logic_depth`'s figures."""
    return (f"{depth['deepest']:g} deepest; {depth['endpoints']} inputs at {depth['at_least']}+ "
            f"({depth['groups']} pairs)")


def measured_cycles(job: str):
    """(busy cycles per sample, where from) measured by part cycles for ``job``'s core, or None (the dense count)."""
    key = MEASURED_CYCLES.get(job)
    try:
        row = json.loads((Path("build") / "measure" / "cycles.json").read_text())["figures"][key]
        return row["busy_cycles_per_sample"], f"measured: part cycles, {row['samples']} training samples"
    except (OSError, ValueError, KeyError, TypeError):
        return None


def job_label(name: str, overrides: dict) -> str:
    """A job's configuration as the tables name it: ``configs/<name>.toml`` and its overrides (``[feedback] rule =
    dfa``; ``[[conv]] feedback = lfsr`` for every convolution layer)."""
    return f"`configs/{name}.toml`" + "".join(f", [{s}] {k} = {v}" if s != "conv" else f", [[{s}]] {k} = {v}"
                                              for s, kv in overrides.items() for k, v in kv.items())


def run_job(job, name, overrides, target, seeds, quiet, folder=LOGS) -> dict:
    """``trifactor synth`` of ``configs/<name>.toml`` with ``overrides`` (:func:`.common.variant`) on ``target`` over
    seeds ``0..seeds-1``, its files in ``folder/job``: the report's figures and each seed's critical path."""
    from ..flow.synth import synthesize

    cfg = variant(config(name), **overrides)
    cfg.check_hardware()
    out = Path(folder) / job
    report = synthesize(cfg, target, seeds, out, quiet=quiet, cycles=measured_cycles(job))
    paths = [critical_path(out / f"nextpnr-seed{seed}.log") for seed in range(seeds)]
    return {"config": f"configs/{name}.toml", "rule": cfg.rule, "lanes": cfg.lanes, **{
        k: report[k] for k in ("target", "part", "seeds", "luts", "ffs", "dsps", "brams", "utilization", "fmax_mhz",
                               "fmax_mhz_per_seed", "target_mhz", "cycles_per_sample", "cycles_basis", "samples_per_s",
                               "banks", "logic_depth", "logs")}, "critical_paths": paths}


def measure_job(say: Steps, job, name, overrides, target, options, folder=LOGS) -> dict:
    """:func:`run_job` with its progress lines; a job that fails (a core that does not fit the part, say) is the row
    ``{"config", "target", "error"}``, its one-line reason, and the part goes on."""
    say.start(f"{job}: yosys, then nextpnr seeds 0-{options.seeds - 1}")
    try:
        row = run_job(job, name, overrides, target, options.seeds, options.quiet, folder)
    except FAILURES as exc:
        row = {"config": f"configs/{name}.toml", "target": target, "error": one_line(exc)}
        say.end(f"not measured: {row['error']}")
        return row
    say.end(f"{row['fmax_mhz']:.1f} MHz median ({spread(row['fmax_mhz_per_seed'])}), "
            f"{row['utilization']['logic_cells']['used']} logic cells")
    return row


def resource_cells(row: dict) -> list:
    """The :data:`RESOURCE_COLUMNS` of a measured row: LUTs, FFs, logic cells, DSPs, block RAMs and SPRAMs against the
    part, and the median Fmax against the target's goal with each seed's."""
    goal = GOALS.get(row["target"])
    verdict = "" if goal is None else f" ({'meets' if row['fmax_mhz'] >= goal else 'misses'} {goal} MHz)"
    return [row["luts"], row["ffs"], used(row, "logic_cells"), used(row, "dsps"), used(row, "brams"),
            used(row, "sprams"), f"**{row['fmax_mhz']:.1f}**{verdict} ({spread(row['fmax_mhz_per_seed'])})"]


def path_rows(job: str, row: dict) -> list:
    """The :data:`PATH_COLUMNS` rows of a measured row: each seed's critical path that its log names."""
    return [[job, seed, f"{row['fmax_mhz_per_seed'][seed]:.1f}", f"`{path['from']}`", f"`{path['to']}`",
             path["cells"], f"{path['logic_ns']:.1f} / {path['routing_ns']:.1f}"]
            for seed, path in enumerate(row["critical_paths"]) if path]


def levels_note(folder=LOGS) -> str:
    """What the logic-levels column (:func:`depth_cell`) counts."""
    return (f"Logic levels: `trifactor depth` on the mapped design (`{Path(folder).as_posix()}/<job>/top.json`): the "
            f"deepest path into a register, block RAM or DSP, in LUTs, and the register inputs {DEEP_LEVELS} LUTs deep "
            f"or more, with the (start signal, end register) pairs they come from.")


def measure(options, say: Steps):
    """Every job of :data:`JOBS` over ``options.seeds`` seeds; returns (markdown body, data)."""
    data, rows, paths = {}, [], []
    for job, name, overrides, target in JOBS:
        row = data[job] = measure_job(say, job, name, overrides, target, options)
        label = job_label(name, overrides)
        if "error" in row:
            rows.append([label, target, f"**{row['error']}**", *[""] * 9])
            continue
        rows.append([label, target, row["rule"], *resource_cells(row),
                     f"{row['samples_per_s']:,.0f} at {row['cycles_per_sample']:,.1f} cycles ({row['cycles_basis']})",
                     depth_cell(row["logic_depth"])])
        paths += path_rows(job, row)
    body = [f"`trifactor synth --config C --target T --seeds {options.seeds}` for each row (Yosys, then nextpnr with "
            f"seeds 0-{options.seeds - 1}; the core alone inside its measurement top, which registers every input and "
            f"output). Fmax is the median over the seeds, each seed's in brackets; the goal is "
            f"{', '.join(f'{mhz} MHz on the {t}' for t, mhz in GOALS.items())}. Logic cells are the UP5K's ICESTORM_LC "
            f"or the ECP5's TRELLIS_COMB. Samples/s = median Fmax / cycles per training sample: measured by part "
            f"`cycles` where it ran first (its busy cycles, as `trifactor synth --cycles-from` takes them), else the "
            f"dense MAC issue count.", "",
            markdown_table(["configuration", "target", "rule", *RESOURCE_COLUMNS, "samples/s", "logic levels"], rows),
            "", levels_note(), "",
            "Each seed's critical path, as nextpnr names its first and last cell:", "",
            markdown_table(PATH_COLUMNS, paths) if paths else "(no log had one)", ""]
    return "\n".join(body), data
