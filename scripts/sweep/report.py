"""A sweep's results by point, their Pareto fronts, and the report: ``report.md``, ``sweep.json`` and two plots.

Per point: the fixed model's test accuracy (mean and sample standard deviation over the seeds); the
core's cycles per training sample (mean over the seeds); the resources of the first seed placed and
the median Fmax over the seeds; samples/s = median Fmax / cycles per sample (the measured cycles, else
the dense MAC issue cycles of the configuration, marked ``*``). A point is on a Pareto front when no
other point has at most its logic cells and at least its accuracy (or samples/s), one of them strictly.
"""

import statistics

from ..util.network import network_text
from ..util.plots import pareto_points
from ..util.tables import markdown_table
from .spec import MEASUREMENTS, show

__all__ = ["summarize", "pareto_front", "markdown", "plots"]

FRONTS = {"accuracy": ("accuracy", "test accuracy (%)", "pareto-accuracy.png"),
          "throughput": ("samples_per_s", "training samples / s", "pareto-throughput.png")}


def summarize(spec, found: dict) -> list:
    """One dict per point: its settings, label, per-seed entries by measurement and the figures above."""
    short = spec.short_names()
    by_point = {point.index: {m: [] for m in spec.measurements} for point in spec.points}
    for task in found.values():
        for index in task.points:
            by_point[index][task.measurement].append(task)
    rows = []
    for point in spec.points:
        row = {"index": point.index, "label": point.label(short), "settings": point.settings, "error": point.error,
               "hardware_id": f"{point.config.hardware_id():08x}" if point.config else None, "runs": {}}
        for measurement, runs in by_point[point.index].items():
            runs = sorted(runs, key=lambda task: task.seed)
            row["runs"][measurement] = [{"seed": t.seed, "key": t.key, "cached": t.cached,
                                         **({"result": t.entry["result"], "error": t.entry.get("error")} if t.entry
                                            else {"result": None, "error": "not computed (the task crashed)"})}
                                        for t in runs]
        row.update(figures(point, row["runs"]))
        rows.append(row)
    for name, (figure, _, _) in FRONTS.items():
        front = pareto_front({row["index"]: (row.get("logic_cells"), row.get(figure)) for row in rows})
        for row in rows:
            row.setdefault("fronts", []).extend([name] if row["index"] in front else [])
    return rows


def figures(point, runs: dict) -> dict:
    """The point's accuracy, cycles, resources, Fmax and samples/s from its runs (missing ones left out)."""
    found = {}
    done = {m: [r["result"] for r in runs.get(m, []) if r["result"] is not None] for m in MEASUREMENTS}
    if done["accuracy"]:
        accuracy = [100 * r["test_accuracy"] for r in done["accuracy"]]
        found.update(accuracy=statistics.mean(accuracy), accuracy_sd=statistics.stdev(accuracy) if len(accuracy) > 1 else 0.0,
                     accuracy_seeds=len(accuracy))
    if done["cycles"]:
        found["cycles_per_sample"] = statistics.mean(r["cycles_per_sample"] for r in done["cycles"])
    if done["synth"]:
        first = done["synth"][0]
        found.update({name: first[name] for name in ("logic_cells", "luts", "ffs", "dsps", "brams")})
        found["fmax_mhz"] = statistics.median(r["fmax_mhz"] for r in done["synth"])
        found["fmax_mhz_per_seed"] = [r["fmax_mhz"] for r in done["synth"]]
        cycles = found.get("cycles_per_sample")
        found["cycles_measured"] = cycles is not None
        cycles = cycles if cycles is not None else point.config.mac_issue_cycles
        found["samples_per_s"] = found["fmax_mhz"] * 1e6 / cycles
    return found


def pareto_front(points: dict) -> list:
    """The keys of ``{key: (cost, value)}`` that no other point dominates (cost no higher, value no lower, one
    strictly), by rising cost; points missing either number are on no front."""
    known = {key: xy for key, xy in points.items() if None not in xy}
    front = [key for key, (x, y) in known.items()
             if not any(x2 <= x and y2 >= y and (x2, y2) != (x, y) for x2, y2 in known.values())]
    return sorted(front, key=lambda key: known[key])


# -- the report ---------------------------------------------------------------------------------


def fmt(value, digits=1) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}f}"


def cell(row: dict, measurement: str, text: str) -> str:
    """``text``, or why the measurement is missing (``-`` when it was not asked for)."""
    if text != "-":
        return text
    errors = [r["error"] for r in row["runs"].get(measurement, []) if r["error"]]
    return "fails" if errors else "-"


def table(spec, rows: list) -> str:
    short = spec.short_names()
    header = ["#", *(short[key] for key in spec.keys)]
    if "accuracy" in spec.measurements:
        header.append("test accuracy (%)")
    if "cycles" in spec.measurements:
        header.append("cycles / sample")
    if "synth" in spec.measurements:
        header += ["logic cells", "LUTs", "DSPs", "BRAMs", "Fmax (MHz)", "samples / s"]
    synthesised = "synth" in spec.measurements
    header += ["Pareto"] if synthesised else []
    body = []
    for row in rows:
        line = [row["index"], *(show(row["settings"][key]) if key in row["settings"] else "base" for key in spec.keys)]
        if row["error"]:
            body.append(line + [f"not valid: {row['error']}"] + [""] * (len(header) - len(line) - 1))
            continue
        if "accuracy" in spec.measurements:
            text = f"{row['accuracy']:.2f} ± {row['accuracy_sd']:.2f}" if "accuracy" in row else "-"
            line.append(cell(row, "accuracy", text))
        if "cycles" in spec.measurements:
            line.append(cell(row, "cycles", fmt(row.get("cycles_per_sample"))))
        if "synth" in spec.measurements:
            texts = [fmt(row.get(name), 0) for name in ("logic_cells", "luts", "dsps", "brams")]
            texts.append(fmt(row.get("fmax_mhz")))
            rate = row.get("samples_per_s")
            texts.append("-" if rate is None else fmt(rate, 0) + ("" if row["cycles_measured"] else "*"))
            line += [cell(row, "synth", text) for text in texts]
        line += [", ".join(row["fronts"])] if synthesised else []
        body.append(line)
    return markdown_table(header, body)


def failures(rows: list) -> list:
    """(point, measurement, seeds, reason) of what could not be measured, one line per point, measurement and reason."""
    found = {}
    for row in rows:
        if row["error"]:
            found[(row["index"], "configuration", row["error"])] = []
        for measurement, runs in row["runs"].items():
            for r in runs:
                if r["error"]:
                    found.setdefault((row["index"], measurement, r["error"]), []).append(str(r["seed"]))
    return [(index, measurement, ", ".join(seeds) or "-", reason) for (index, measurement, reason), seeds in found.items()]


def options_text(spec) -> list:
    lines = []
    for name, options in spec.measurements.items():
        seeds = ", ".join(map(str, options["seeds"]))
        if name == "accuracy":
            epochs = f"{options['epochs']} epoch(s)" if options["epochs"] else "each point's [training] epochs"
            lines.append(f"- accuracy: the bit-exact fixed golden model's test accuracy after {epochs}, "
                         f"mean ± sample standard deviation over seeds {seeds}.")
        elif name == "cycles":
            lines.append(f"- cycles: the core in RTL simulation (Verilator), cycles per training sample over the first "
                         f"{options['samples']} training samples of seed(s) {seeds}'s first epoch (mean).")
        else:
            lines.append(f"- synth: Yosys + nextpnr for {options['target']}, the core alone in its measurement top; "
                         f"resources of the first seed, Fmax the median over seeds {seeds}. samples/s = Fmax / cycles "
                         "per sample (`*`: the dense MAC issue cycles, no cycles measured).")
    return lines


def notes_text(report: dict) -> list:
    notes = report["notes"]
    lines = [f"- {notes['measurements']} measurements (point, measurement, seed) in {notes['tasks']} distinct tasks: "
             f"{notes['cached']} from the cache, {notes['computed']} computed "
             f"in {notes['seconds']:.1f} s; {report['cluster']}."]
    for lost in notes["lost_workers"]:
        lines.append(f"- worker {lost['worker']} left the cluster holding {len(lost['tasks'])} task(s) of this sweep "
                     "(running or queued there); Dask gave them to other workers: "
                     + "; ".join(notes["labels"].get(k, k) for k in lost["tasks"]) + ".")
    for key, workers in notes["retried"].items():
        lines.append(f"- started again: {notes['labels'].get(key, key)}, on {' then '.join(map(str, workers))}.")
    for key, reason in notes["crashed"].items():
        lines.append(f"- crashed (not cached, a rerun tries again): {notes['labels'].get(key, key)}: {reason}")
    return lines


def markdown(report: dict, spec, rows: list) -> str:
    machine = report["machine"]
    lines = [f"# trifactor sweep: {report['name']}\n",
             f"Base configuration: {spec.base.source} ({network_text(spec.base)}, {spec.base.lanes} lanes, "
             f"{spec.base.dataset}); {len(rows)} points over {', '.join(spec.keys) or 'no key'}.\n",
             *options_text(spec), "",
             f"Machine: {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}.",
             f"Command: `{report['command']}`\n",
             "## Results\n", table(spec, rows), ""]
    if "synth" in spec.measurements:
        lines += ["Pareto: on the front of test accuracy (`accuracy`) or samples/s (`throughput`) against logic cells.\n",
                  "![accuracy against logic cells](pareto-accuracy.png)",
                  "![samples/s against logic cells](pareto-throughput.png)\n"]
    missing = failures(rows)
    if missing:
        lines += ["## Not measured\n", markdown_table(["#", "measurement", "seeds", "reason"], missing), ""]
    lines += ["## Run\n", *notes_text(report), ""]
    return "\n".join(lines)


def plots(folder, report_name: str, rows: list) -> list:
    """The two Pareto plots (where the points have logic cells); returns the files written."""
    written = []
    for name, (figure, label, file) in FRONTS.items():
        points = {f"#{row['index']}": (row["logic_cells"], row[figure]) for row in rows
                  if row.get("logic_cells") is not None and row.get(figure) is not None}
        if not points:
            continue
        front = [f"#{row['index']}" for row in sorted(rows, key=lambda r: (r.get("logic_cells") or 0))
                 if name in row["fronts"]]
        pareto_points(folder / file, points, front, "logic cells", label, f"{report_name}: {label} against logic cells")
        written.append(folder / file)
    return written
