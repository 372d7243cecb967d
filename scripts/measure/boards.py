"""Part ``boards``: the board builds the README quotes, the core behind its UART host link on the iCEBreaker and ULX3S.

Each is ``trifactor build`` (:func:`trifactor.build`): the PLL clock asked for (``--clock-mhz``), or chosen from a
first place-and-route's Fmax with 5% margin; a build that does not fit or misses its clock is recorded with its one-line
reason. The bitstreams and reports land where ``trifactor build`` puts them, ``build/boards/<board>/<name>/``
(``<name>-store/`` for a build with a data store, so the two iCEBreaker digits builds keep their own).
"""

from pathlib import Path

from ..util.tables import markdown_table
from .common import FAILURES, Steps, config, one_line, used
from .synth import critical_path

__all__ = ["DESCRIPTION", "JOBS", "measure"]

DESCRIPTION = "iCEBreaker and ULX3S bitstreams of the core with its host link: clock, Fmax, resources, build time"

#: (job, board, configuration, clock in MHz or None for the measured default, data set of a data store or None)
JOBS = [
    ("icebreaker-digits", "icebreaker", "digits", 24, None),
    ("ulx3s-digits-store", "ulx3s-85f", "digits", 25, "digits"),
    ("icebreaker-digits-store", "icebreaker", "digits-store", None, "digits"),
    ("icebreaker-mnist-up5k", "icebreaker", "mnist-up5k", 18, None),
    ("icebreaker-mnist-up5k-store", "icebreaker", "mnist-up5k", None, "mnist5k"),
    # the speed issue's two flash builds: the default core with its data set in the iCEBreaker's flash, and the
    # MNIST core made to fit beside its flash store (LFSR order, no input lists)
    ("icebreaker-digits-flash", "icebreaker", "digits", None, "digits"),
    ("icebreaker-mnist-up5k-flash", "icebreaker", "mnist-up5k-flash", None, "mnist5k"),
]


def steps(options) -> int:
    return len(JOBS)


def command(board, name, clock, store) -> str:
    return (f"trifactor build --board {board} --config configs/{name}.toml"
            + (f" --clock-mhz {clock}" if clock else "") + (f" --store {store}" if store else ""))


def measure(options, say: Steps):
    """Every build of :data:`JOBS`; returns (markdown body, data)."""
    import trifactor

    data, rows, paths = {}, [], []
    for job, board, name, clock, store in JOBS:
        say.start(command(board, name, clock, store))
        try:
            report = trifactor.build(config(name), board, clock_mhz=clock, store=store, quiet=options.quiet)
            report = {k: v for k, v in report.items() if k != "cells"}
            report["critical_path"] = critical_path(Path(report["logs"]) / f"{report['config']}.tim")
            say.end(f"{report['clock_mhz']:g} MHz clock, Fmax {report['fmax_mhz']:.1f} MHz, "
                    f"{report['utilization']['logic_cells']['used']} logic cells")
        except FAILURES as exc:
            report = {"error": one_line(exc)}
            say.end(f"not built: {report['error']}")
        data[job] = {"command": command(board, name, clock, store), **report}
        stored = (f"{store}: {report['store_samples']} samples in {report['store_in']}"
                  if store and "store_samples" in report else store or "none")
        cells = [board, f"`configs/{name}.toml`", stored, f"`{data[job]['command']}`"]
        if "error" in report:
            rows.append(cells + [f"**not built: {report['error']}**", *[""] * 8])
            continue
        built = ", ".join(f"{run['fmax_mhz']:.1f} at {run['clock_mhz']:g}" for run in report["runs"])
        rows.append(cells + [
            f"{report['clock_mhz']:g} ({report['clock_choice']})",
            f"**{report['fmax_mhz']:.1f}** ({report['margin']:+.0%}; timing {'met' if report['timing_met'] else 'NOT met'})",
            used(report, "logic_cells"), f"{report['luts']} / {report['ffs']}", used(report, "dsps"),
            used(report, "brams"), used(report, "sprams"), f"{report['bitstream_bytes']:,}",
            f"{sum(run['seconds'] for run in report['runs']):.0f} ({built})"])
        path = report["critical_path"]
        if path:
            paths.append([job, f"{report['fmax_mhz']:.1f}", f"`{path['from']}`", f"`{path['to']}`", path["cells"],
                          f"{path['logic_ns']:.1f} / {path['routing_ns']:.1f}"])
    body = ["`trifactor build` for each row (seed 0, 1 Mbaud host link); the core runs at the PLL clock shown. "
            "Logic cells: the UP5K's ICESTORM_LC or the ECP5's TRELLIS_COMB. Build time: every place-and-route the "
            "build took, each one's Fmax at its clock in brackets.", "",
            markdown_table(["board", "configuration", "data store", "command", "clock (MHz)", "Fmax (MHz)",
                            "logic cells", "LUTs / FFs", "DSPs", "block RAMs", "SPRAMs", "bitstream (bytes)",
                            "build time (s; Fmax MHz at clock MHz)"], rows), "",
            "The critical path of each build's last place-and-route, as nextpnr names its first and last cell:", "",
            markdown_table(["build", "Fmax (MHz)", "from", "to", "logic cells on it", "ns logic / routing"], paths)
            if paths else "(no log had one)", ""]
    return "\n".join(body), data
