"""``trifactor sweep SPEC.toml``: many configurations measured at once on Dask distributed, cached, resumable.

The spec (:mod:`scripts.sweep.spec`) names a base configuration, the points (a grid or a list over
configuration keys) and the measurements: the fixed model's accuracy, the core's cycles per sample in
RTL simulation, synthesis resources and Fmax. Each (point, measurement, seed) is one Dask task
(:mod:`scripts.sweep.tasks`); by default on a local cluster of one worker process per core, with
``--scheduler`` on a running one (``dask scheduler``, then ``dask worker ADDRESS`` on each machine).
Results are cached under ``build/sweep/cache/`` (:mod:`scripts.sweep.cache`): a rerun computes only
what is missing. Writes ``report.md``, ``sweep.json`` and the Pareto plots to ``build/sweep/<name>/``.
Ctrl-C or SIGTERM while it runs ends it with one line, ``interrupted; N results cached, rerun to continue``, and
exit code 130 or 143: what was cached stays, nothing else is left behind.
"""

import shlex
import signal
import sys
import time
from pathlib import Path

from ..sweep import engine
from ..sweep.cache import CACHE, cache_path
from ..sweep.report import markdown, notes_text, plots, summarize, table
from ..sweep.spec import MEASUREMENTS, load_spec
from ..util.checks import check_count
from ..util.machine import machine_info
from ..util.output import check_folder, write_atomic, write_json


def add_arguments(parser):
    parser.add_argument("spec", metavar="SPEC.toml", help="the sweep: base configuration, points, measurements "
                                                          "(e.g. configs/sweep-up5k.toml)")
    parser.add_argument("--only", action="append", choices=MEASUREMENTS,
                        help="run only this measurement of the spec (repeatable)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="a running Dask scheduler, e.g. tcp://127.0.0.1:8786 (default: a local cluster)")
    parser.add_argument("--workers", type=int, help="local cluster: worker processes (default: one per core)")
    parser.add_argument("--out", help="report folder (default build/sweep/<name>)")
    parser.add_argument("--cache", default=str(CACHE), help=f"result cache folder (default {CACHE})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def labels(found: dict, spec) -> dict:
    """``{task key: "accuracy seed 1 of #3 (lanes=2, ...)"}`` for the run's notes."""
    short, points = spec.short_names(), {point.index: point for point in spec.points}
    return {key: f"{task.measurement} seed {task.seed} of #{task.points[0]} ({points[task.points[0]].label(short)})"
            for key, task in found.items()}


def interrupted(exc: KeyboardInterrupt, found: dict, cache: Path) -> int:
    """Say how many of the sweep's results are in the cache (a rerun computes the others); 130, or 143 for SIGTERM."""
    from . import Terminated

    done = sum(cache_path(cache, key).is_file() for key in found)  # written whole: there is a whole entry
    print(f"interrupted; {done} result{'s' if done != 1 else ''} cached, rerun to continue", file=sys.stderr)
    return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


def main(args) -> int:
    check_count(args.workers, "--workers")
    spec = load_spec(args.spec)
    if args.only:
        spec = spec.only(dict.fromkeys(args.only))
    out = Path(args.out) if args.out else Path("build") / "sweep" / spec.name
    cache = Path(args.cache)
    check_folder(out, "--out")
    check_folder(cache, "--cache")
    found = engine.plan(spec, cache)
    todo = [task for task in found.values() if not task.cached]
    start = time.monotonic()
    notes = {"crashed": {}, "started": {}, "lost_workers": []}
    where = "cluster: none needed, everything was cached"
    if todo:
        try:
            with engine.cluster(args.scheduler, args.workers) as (client, where):
                notes = engine.run(client, todo, cache, quiet=args.quiet, label=f"sweep {spec.name}")
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (Terminated): the cluster is closed by now
            return interrupted(exc, found, cache)
    rows = summarize(spec, found)
    report = {
        "name": spec.name, "spec": spec.path, "command": shlex.join(["trifactor", *sys.argv[1:]]),
        "machine": machine_info(), "cluster": where, "keys": list(spec.keys), "measurements": spec.measurements,
        "notes": {"measurements": sum(len(task.points) for task in found.values()), "tasks": len(found), "cached": len(found) - len(todo), "computed": len(todo) - len(notes["crashed"]),
                  "seconds": time.monotonic() - start, "crashed": notes["crashed"], "lost_workers": notes["lost_workers"],
                  "retried": {key: workers for key, workers in notes["started"].items() if len(workers) > 1},
                  "labels": labels(found, spec)},
        "points": rows, "base": spec.base.to_dict(),
    }
    written = plots(out, spec.name, rows)
    write_json(out / "sweep.json", report)
    text = markdown(report, spec, rows)
    write_atomic(out / "report.md", lambda f: f.write(text.encode()))
    print(table(spec, rows))
    print("\n".join(notes_text(report)))
    print(f"wrote {', '.join(str(p) for p in [out / 'report.md', out / 'sweep.json', *written])}")
    return 0
