"""Part ``cycles``: what a training sample costs in cycles, from the core's own counters, against the roofline.

Each run is ``trifactor train --backend rtl`` (or ``board-sim``) from the data store in the native simulator, seed 0,
over whole epochs (:func:`trifactor.train`): the EPOCH runs' wall cycles per sample (what a board trains at from its
store), the core's busy cycles per sample, its MACs, and with ``[hardware] cost_counters`` what each pass costs. The
counters only count: a core with them runs the same cycles as one without (``docs/configuration.md``). Each run's
weights and learning curve are compared with the fixed golden model's (``bit-exact``).
"""

import json
from pathlib import Path

import numpy as np

from ..util.tables import markdown_table
from .common import FAILURES, Steps, config, one_line, pct, variant

__all__ = ["DESCRIPTION", "JOBS", "measure"]

DESCRIPTION = "cycles per training sample against the roofline, each rule, dense and with zero skipping (RTL simulation)"

RULE_FILES = {"ssdfa": "digits", "hybrid": "digits-hybrid", "bp": "digits-bp", "ddfa": "digits-ddfa"}  # as part accuracy
COUNTING = {"cost_counters": True}
OSCILLATORS = {"icebreaker": 12, "ulx3s-85f": 25}  # MHz: the boards' oscillators, where samples/s is given
DENSE_GOAL = 1.10  # the speed issue's bound on the dense digits core's busy cycles (ssdfa, and bp against its own), in rooflines
CONV_GOAL = 1.3  # the convolution issue's bound on a convolutional core's dense busy cycles, in rooflines


def rule_jobs(table: str, base: str, files: dict, zero_skipping: bool) -> list:
    """One job per rule on ``base`` (``files[rule]`` where the rule has its own configuration), with the cost counters."""
    jobs = []
    for rule in ("ssdfa", "dfa", "hybrid", "bp", "ddfa"):
        hardware = {**COUNTING, **({} if zero_skipping else {"zero_skipping": False})}
        overrides = {"hardware": hardware} if rule in files else {"feedback": {"rule": rule}, "hardware": hardware}
        jobs.append({"table": table, "label": f"`{rule}`", "config": files.get(rule, base), "overrides": overrides,
                     "backend": "rtl", "epochs": 1})
    return jobs


def conv_jobs() -> list:
    """configs/digits-conv.toml with each rule a convolution learns by, zero skipping on and off, with the cost
    counters, and with LFSR feedback rows. (configs/mnist5k-conv.toml's data set, 3.9 MB, fits no data store, and
    the per-sample path would take hours: ``trifactor generate`` gives its MAC issue cycles.)"""
    jobs = []
    for zero_skipping in (True, False):
        for rule in ("ssdfa", "dfa"):
            hardware = {**COUNTING, **({} if zero_skipping else {"zero_skipping": False})}
            feedback = {"rule": rule, **({"nonzeros_per_row": 1} if rule == "ssdfa" else {})}
            jobs.append({"table": "conv", "label": f"digits-conv, `{rule}`", "config": "digits-conv",
                         "overrides": {"feedback": feedback, "hardware": hardware}, "backend": "rtl", "epochs": 1})
    jobs.append({"table": "conv", "label": "digits-conv, `ssdfa`, LFSR rows", "config": "digits-conv",
                 "overrides": {"conv": [{**conv.to_dict(), "feedback": "lfsr"} for conv in config("digits-conv").convs],
                               "hardware": COUNTING}, "backend": "rtl", "epochs": 1})
    return jobs


#: table -> its title; the jobs name their table
TABLES = {
    "rules": "digits 64-64-10, each rule, zero skipping on (the default) and off (dense)",
    "deep": "digits 64-48-32-10, each rule, zero skipping on",
    "conv": "convolutional cores: configs/digits-conv.toml (8x8x1, 3x3 convolution of 8 channels, stride 2, "
            "padding 1, then 128-10; 8 lanes) with each rule a convolution learns by, zero skipping on and off, and "
            "with its feedback rows from the LFSR. The roofline counts a window's MACs inside the image only",
    "others": "other reference cores, and the data store in the board's SPI flash",
}
JOBS = (rule_jobs("rules", "digits", RULE_FILES, True) + rule_jobs("rules", "digits", RULE_FILES, False)
        + rule_jobs("deep", "digits-deep", {"ssdfa": "digits-deep"}, True) + conv_jobs() + [
            {"table": "others", "label": "digits, `--backend rtl`", "config": "digits", "overrides": {},
             "backend": "rtl", "epochs": 1, "build": "icebreaker-digits"},
            {"table": "others", "label": "digits, `--backend board-sim`", "config": "digits", "overrides": {},
             "backend": "board-sim", "epochs": 1, "build": "ulx3s-digits-store"},
            {"table": "others", "label": "digits32, 32 lanes, `--backend rtl`", "config": "digits32", "overrides": {},
             "backend": "rtl", "epochs": 1},
            *[{"table": "others", "label": f"digits, `pipeline = \"balanced\"`{label}, `--backend rtl`",
               "config": "digits", "overrides": {"hardware": {"pipeline": "balanced", **dense}}, "backend": "rtl",
               "epochs": 1} for label, dense in (("", {}), (", dense", {"zero_skipping": False}))],
            {"table": "others", "label": "digits, `--backend board-sim --store-in flash`", "config": "digits",
             "overrides": {}, "backend": "board-sim", "store_in": "flash", "epochs": 2,
             "build": "icebreaker-digits-flash"},
            {"table": "others", "label": "digits-store, `--backend board-sim --store-in flash`", "config": "digits-store",
             "overrides": {}, "backend": "board-sim", "store_in": "flash", "epochs": 10,
             "build": "icebreaker-digits-store"},
        ])


def steps(options) -> int:
    return len(JOBS)


def build_clock(build: str | None):
    """(board, PLL clock in MHz) of part boards' build ``build`` (``build/measure/boards.json``), or None."""
    try:
        report = json.loads((Path("build") / "measure" / "boards.json").read_text())["figures"][build]
        return report["board"], report["clock_mhz"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run_job(job: dict) -> dict:
    """One simulated training run and the fixed model's beside it; the figures by name."""
    import trifactor
    from trifactor.scripts.host.model import board_throughput

    overrides = dict(job["overrides"])
    convs = overrides.pop("conv", None)  # [[conv]] tables replaced whole (a list, not a section of keys)
    cfg = variant(config(job["config"]), **overrides)
    if convs:
        from trifactor.golden.config import config_from_dict

        data = cfg.to_dict()
        del data["derived"]
        cfg = config_from_dict({**data, "conv": convs}, source=cfg.source)
    run = trifactor.train(cfg, backend=job["backend"], epochs=job["epochs"], seed=0,
                          store_in=job.get("store_in", "memory"), quiet=True)
    fixed = trifactor.train(cfg, backend="fixed", epochs=job["epochs"], seed=0, quiet=True)
    result = run.result
    exact = (run.history == fixed.history
             and all(np.array_equal(run.weights[name], fixed.weights[name]) for name in fixed.weights))
    wall, busy = result["epoch_cycles_per_sample"], result["cycles_per_sample"]
    costs = result.get("costs_per_sample") or {}
    built = build_clock(job.get("build"))
    at_build = None
    if built:
        at_build = {"build": job["build"], "board": built[0], "clock_mhz": built[1],
                    **board_throughput(cfg, result, built[1] * 1e6, 1_000_000)}
    return {
        "config": cfg.name, "rule": cfg.rule, "zero_skipping": cfg.zero_skipping, "lanes": cfg.lanes,
        "sizes": "-".join(map(str, cfg.sizes)), "backend": job["backend"],
        **({"convs": [conv.to_dict() for conv in cfg.convs]} if cfg.convs else {}), "store_in": job.get("store_in", "memory"),
        "epochs": job["epochs"], "samples": result["counters"]["samples"],
        "wall_cycles_per_sample": wall, "busy_cycles_per_sample": busy,
        "roofline_cycles": cfg.roofline_cycles, "mac_issue_cycles": cfg.mac_issue_cycles,
        "wall_over_roofline": wall / cfg.roofline_cycles, "busy_over_roofline": busy / cfg.roofline_cycles,
        "macs_done_per_sample": result["macs_done_per_sample"], "macs_skipped_per_sample": result["macs_skipped_per_sample"],
        "mac_utilization": result["mac_utilization"], "costs_per_sample": costs,
        "history": run.history, "bit_exact_with_fixed": exact,
        "samples_per_s": {board: {mhz: board_throughput(cfg, result, mhz * 1e6, 1_000_000) for mhz in (clock,)}
                          for board, clock in OSCILLATORS.items()},
        "samples_per_s_at_build": at_build,
    }


def _f(value, digits=1) -> str:
    return f"{value:,.{digits}f}"


def _cost(row, pass_, event) -> str:
    value = row["costs_per_sample"].get(pass_, {}).get(event)
    return "-" if value is None else _f(value)


def _total_macs(row) -> float | None:
    macs = [row["costs_per_sample"].get(p, {}).get("macs") for p in ("forward", "error_path", "update")]
    return None if None in macs else sum(macs)


def rules_table(rows: list) -> str:
    """One row per rule and zero-skipping setting; the ratios are against ``ssdfa``'s row with the same setting."""
    header = ["rule", "zero skipping", "wall cycles / sample (from the store)", "busy cycles / sample",
              "roofline", "wall / roofline", "busy / roofline", "dense MAC issue cycles",
              "MACs / sample (forward / error path / update)", "weight reads (error path)", "feedback values read",
              "busy cycles, MACs against `ssdfa`", "bit-exact with fixed", "test accuracy, 1 epoch"]
    base = {}  # the table's first `ssdfa` row with each setting (a variant of it may follow)
    for label, row in rows:
        if "error" not in row and row["rule"] == "ssdfa":
            base.setdefault(row["zero_skipping"], row)
    cells = []
    for label, row in rows:
        if "error" in row:
            cells.append([label, "", f"not measured: {row['error']}", *[""] * (len(header) - 3)])
            continue
        macs = " / ".join(_cost(row, p, "macs") for p in ("forward", "error_path", "update"))
        ssdfa = base.get(row["zero_skipping"])
        ratio = "-"
        if ssdfa is not None and _total_macs(row) and _total_macs(ssdfa):
            ratio = (f"{row['busy_cycles_per_sample'] / ssdfa['busy_cycles_per_sample']:.3f}x, "
                     f"{_total_macs(row) / _total_macs(ssdfa):.3f}x")
        cells.append([label, "on" if row["zero_skipping"] else "off", _f(row["wall_cycles_per_sample"]),
                      _f(row["busy_cycles_per_sample"]), _f(row["roofline_cycles"]), f"{row['wall_over_roofline']:.3f}x",
                      f"{row['busy_over_roofline']:.3f}x", _f(row["mac_issue_cycles"], 0), macs,
                      _cost(row, "error_path", "weight_reads"), _cost(row, "error_path", "feedback_reads"), ratio,
                      "yes" if row["bit_exact_with_fixed"] else "**no**", pct(row["history"][-1])])
    return markdown_table(header, cells)


def others_table(rows: list) -> str:
    header = ["run", "lanes", "epochs", "wall cycles / sample", "busy cycles / sample", "roofline", "wall / roofline",
              "dense MAC issue cycles",
              "bit-exact with fixed", "test accuracy after each epoch (%)",
              "iCEBreaker at 12 MHz: samples/s from the store, per sample over a 1 Mbaud UART",
              "ULX3S at 25 MHz: the same", "at the PLL clock of its board build (part `boards`)"]
    cells = []
    for label, row in rows:
        if "error" in row:
            cells.append([label, f"not measured: {row['error']}", *[""] * (len(header) - 2)])
            continue
        speeds = []
        for board, clock in OSCILLATORS.items():
            t = row["samples_per_s"][board][clock]
            speeds.append(f"{_f(t['stored'], 0)} against {_f(t['per_sample_link'], 0)} "
                          f"({t['stored'] / t['per_sample_link']:.1f}x)")
        t = row.get("samples_per_s_at_build")
        speeds.append("-" if not t else f"{_f(t['stored'], 0)} against {_f(t['per_sample_link'], 0)} "
                                        f"({t['stored'] / t['per_sample_link']:.1f}x) at {t['clock_mhz']:g} MHz "
                                        f"({t['build']})")
        cells.append([label, row["lanes"], row["epochs"], _f(row["wall_cycles_per_sample"]),
                      _f(row["busy_cycles_per_sample"]), _f(row["roofline_cycles"]), f"{row['wall_over_roofline']:.3f}x",
                      _f(row["mac_issue_cycles"], 0), "yes" if row["bit_exact_with_fixed"] else "**no**",
                      ", ".join(f"{100 * a:.2f}" for a in row["history"]), *speeds])
    return markdown_table(header, cells)


def measure(options, say: Steps):
    """Every job of :data:`JOBS`; returns (markdown body, data)."""
    data = {}
    for job in JOBS:
        key = f"{job['table']}: {job['label']}" + ("" if "zero_skipping" not in job["overrides"].get("hardware", {})
                                                  else ", dense")
        say.start(f"{job['config']} {job['label']} {job['backend']}" + (", dense" if key.endswith("dense") else ""))
        try:
            row = run_job(job)
            say.end(f"{row['wall_cycles_per_sample']:.1f} wall cycles / sample, bit-exact: {row['bit_exact_with_fixed']}")
        except FAILURES as exc:
            row = {"error": one_line(exc)}
            say.end(f"not measured: {row['error']}")
        data[key] = row
    body = ["Seed 0, `trifactor train --backend rtl --config C --epochs E` (or `board-sim`) as the rows say, each "
            "from the data store in the native simulator. *Wall* cycles are the EPOCH runs' own cycle count divided by "
            "the training samples (what a board trains at from its store); *busy* cycles are the core's cycle counter "
            "over its training samples. The roofline is the dense MACs of a sample divided by the lanes; the dense MAC "
            "issue cycles are what the sweeper issues with zero skipping off. Rules other than the configuration's "
            "own file are the `[feedback] rule` key replaced; the rule tables have `[hardware] cost_counters = true` "
            "(the per-pass columns), which counts and changes no cycle. Samples/s: from the counters, at the board's "
            "oscillator clock and at the PLL clock of part `boards`' build of that core (when it ran first), from the "
            "store and per sample over the UART (`trifactor train` prints both at a build's clock).", ""]
    for rule in ("ssdfa", "bp"):
        dense = data.get(f"rules: `{rule}`, dense", {})
        if "busy_over_roofline" in dense:
            verdict = "meets it" if dense["busy_over_roofline"] <= DENSE_GOAL else "**misses it**"
            issue = dense["mac_issue_cycles"] / dense["roofline_cycles"] if dense.get("mac_issue_cycles") else None
            alone = (f" (its dense MAC issue cycles alone are {issue:.3f}x; docs/hardware.md, \"Where a dense "
                     f"sample's cycles go\")") if issue else ""
            body += [f"Goal: the dense digits core (`{rule}`, zero skipping off) within {DENSE_GOAL}x its roofline in "
                     f"busy cycles (the speed issue's bound). Measured: {dense['busy_over_roofline']:.3f}x{alone}: "
                     f"{verdict}.", ""]
    conv = [(job["label"], data[key]) for job, key in zip(JOBS, data)
            if job["table"] == "conv" and key.endswith("dense") and "busy_over_roofline" in data[key]]
    if conv:
        worst = max(row["busy_over_roofline"] for _, row in conv)
        verdict = "meets it" if worst <= CONV_GOAL else "**misses it**"
        body += [f"Goal: a convolutional core's busy cycles within {CONV_GOAL}x its roofline, zero skipping off (the "
                 f"convolution issue's bound). Measured: " + ", ".join(f"{label} {row['busy_over_roofline']:.3f}x"
                                                                       for label, row in conv)
                 + f": {verdict}.", ""]
    for table, title in TABLES.items():
        rows = [(job["label"], data[key]) for job, key in zip(JOBS, data) if job["table"] == table]
        body += [f"### {title}", "", (others_table if table == "others" else rules_table)(rows), ""]
    return "\n".join(body), data
