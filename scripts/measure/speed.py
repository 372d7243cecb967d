"""Part ``speed``: how fast the simulators train, one digits epoch per run (what ``make speed`` measures).

Each backend runs ``trifactor train --epochs 1`` as a subprocess once untimed (the build), then ``runs`` times
(:func:`scripts.sim.speed.measure`): seconds per epoch from each run's JSON, for the native simulator also its CPU
seconds, which other jobs on the machine do not stretch as they stretch the wall clock.
"""

from pathlib import Path

from ..sim.speed import RUNS, measure as measure_backend
from ..util.tables import markdown_table
from .common import FAILURES, Steps, one_line, spread

__all__ = ["DESCRIPTION", "BACKENDS", "measure"]

DESCRIPTION = "simulation speed: an epoch of digits in the native simulator (RTL, board) and per sample in cocotb"

CONFIG = "configs/digits.toml"
#: label of :data:`scripts.sim.speed.RUNS` -> what it simulates
BACKENDS = {
    "rtl": "the core, from its data store (native Verilator)",
    "board-sim": "the board top, UARTs and host link included, from its data store (native)",
    "board-sim --store-in flash": "the board, records in the SPI flash model (native)",
    "rtl --per-sample": "the core, every sample from Python through cocotb",
    "board-sim --per-sample": "the board, every sample byte by byte through its UART in cocotb",
}


def steps(options) -> int:
    return len(BACKENDS)


def measure(options, say: Steps):
    """Every backend of :data:`BACKENDS`, ``options.runs`` timed runs each; returns (markdown body, data)."""
    config = str(Path(__file__).resolve().parents[2] / CONFIG)
    out = Path("build") / "measure" / "speed-run.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    data, rows = {}, []
    for label, what in BACKENDS.items():
        say.start(f"trifactor train {' '.join(RUNS[label])} --config {CONFIG} --epochs 1, {options.runs} runs")
        try:
            f = measure_backend(config, RUNS[label], options.runs, out)
            say.end(f"{f['epoch_seconds_median']:.2f} s/epoch, {f['samples_per_second_median']:.0f} samples/s")
        except (*FAILURES, OSError) as exc:
            f = {"error": one_line(exc)}
            say.end(f"not measured: {f['error']}")
        except Exception as exc:  # subprocess.CalledProcessError: the run failed; its own message said why
            f = {"error": f"the run failed ({one_line(exc)})"}
            say.end(f"not measured: {f['error']}")
        data[label] = {"what": what, **f}
        if "error" in f:
            rows.append([f"`--backend {label}`", what, f"not measured: {f['error']}", "", "", ""])
            continue
        cpu = f"{f['epoch_cpu_seconds_median']:.2f} ({spread(f['epoch_cpu_seconds'], '{:.2f}')})" \
            if "epoch_cpu_seconds" in f else "-"
        rows.append([f"`--backend {label}`", what, f"{f['epoch_seconds_median']:.2f}",
                     spread(f["epoch_seconds"], "{:.2f}"), cpu, f"{f['samples_per_second_median']:,.0f}"])
    body = [f"`python -m trifactor.scripts.sim.speed --config {CONFIG} --runs {options.runs} --only LABEL` for each row: "
            f"one epoch of digits ({next((d['samples'] for d in data.values() if 'samples' in d), '?')} training "
            f"samples), median of {options.runs} timed runs after an untimed build run. The wall seconds depend on "
            f"the other jobs on the machine (its load average is in the table above); the native simulator's CPU "
            f"seconds much less.", "",
            markdown_table(["backend", "what runs", "s/epoch (median, wall)", "each run (s)",
                            "CPU s of the simulator (median; each)", "training samples/s (median)"], rows), ""]
    return "\n".join(body), data
