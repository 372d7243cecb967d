"""Simulation speed: ``trifactor train`` per epoch, fed from the data store (native) against per sample (cocotb).

    .venv/bin/python -m trifactor.scripts.sim.speed --config configs/digits.toml --runs 3

runs each backend ``--runs`` times for one epoch (as a user would, a subprocess each; the
builds are made by a first, untimed run) and prints the median seconds per epoch and
training samples per second from each run's ``--json`` (``epoch_seconds``; for the native
simulator also its CPU seconds, which a loaded machine does not stretch), and writes them to
``build/speed/<name>.json``.
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from ..util.machine import machine_info

RUNS = {"rtl": ["--backend", "rtl"], "rtl --per-sample": ["--backend", "rtl", "--per-sample"],
        "board-sim": ["--backend", "board-sim"], "board-sim --per-sample": ["--backend", "board-sim", "--per-sample"],
        "board-sim --store-in flash": ["--backend", "board-sim", "--store-in", "flash"]}


def measure(config: str, options: list, runs: int, out: Path) -> dict:
    command = [str(Path(sys.executable).with_name("trifactor")), "train", *options, "--config", config, "--epochs", "1",
               "--quiet", "--json", str(out)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)  # the build, untimed
    seconds, cpu, samples = [], [], 0
    for _ in range(runs):
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        result = json.loads(out.read_text())
        seconds.append(result["epoch_seconds"][0])
        cpu += result.get("epoch_cpu_seconds", [])
        samples = result["counters"]["samples"]  # the training samples, by the core's counter
    median = statistics.median(seconds)
    return {"epoch_seconds": seconds, "epoch_seconds_median": median, "samples": samples,
            "samples_per_second_median": samples / median,
            **({"epoch_cpu_seconds": cpu, "epoch_cpu_seconds_median": statistics.median(cpu)} if cpu else {})}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/digits.toml")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=sorted(RUNS), action="append", help="measure only these (repeatable)")
    args = parser.parse_args(argv)
    out = Path("build/speed")
    out.mkdir(parents=True, exist_ok=True)
    name = Path(args.config).stem
    figures = {}
    for label in args.only or RUNS:
        figures[label] = measure(args.config, RUNS[label], args.runs, out / f"{name}-run.json")
        f = figures[label]
        cpu = f", CPU {f['epoch_cpu_seconds_median']:.2f} s" if "epoch_cpu_seconds_median" in f else ""
        print(f"{label:24s} {f['epoch_seconds_median']:8.2f} s/epoch{cpu}, {f['samples_per_second_median']:8.0f} "
              f"samples/s (median of {args.runs}: {', '.join(f'{s:.2f}' for s in f['epoch_seconds'])})", flush=True)
    (out / f"{name}.json").write_text(json.dumps({"config": args.config, "runs": args.runs, "figures": figures,
                                                  "machine": machine_info()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
