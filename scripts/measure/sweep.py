"""Part ``sweep``: ``trifactor sweep configs/sweep-up5k.toml``, every task computed again, its table as the sweep reports it.

The sweep's own engine (:mod:`scripts.sweep`): a local Dask cluster of one worker per core, the fixed model's
accuracy over seeds, the core's cycles in RTL simulation, UP5K synthesis over seeds. Its cache is a folder of this
part's (``build/measure/sweep-cache/``, emptied first), so nothing comes from an earlier run.
"""

import os
import shutil
import time
from pathlib import Path

from .common import CONFIGS, Steps

__all__ = ["DESCRIPTION", "SPEC", "measure"]

DESCRIPTION = "the design-space sweep of the digits core on the UP5K (configs/sweep-up5k.toml), recomputed"

SPEC = CONFIGS / "sweep-up5k.toml"
CACHE = Path("build") / "measure" / "sweep-cache"


def steps(options) -> int:
    return 1


def measure(options, say: Steps):
    """The sweep of :data:`SPEC` on a fresh cache; returns (markdown body, data)."""
    from ..sweep import engine
    from ..sweep.report import failures, summarize, table
    from ..sweep.spec import load_spec

    spec = load_spec(SPEC)
    shutil.rmtree(CACHE, ignore_errors=True)
    found = engine.plan(spec, CACHE)
    workers = os.cpu_count() or 1
    say.start(f"trifactor sweep configs/{SPEC.name} --workers {workers} --cache {CACHE}: {len(found)} tasks")
    start = time.monotonic()
    with engine.cluster(None, workers) as (client, where):
        notes = engine.run(client, list(found.values()), CACHE, quiet=options.quiet, label=f"sweep {spec.name}")
    seconds = time.monotonic() - start
    rows = summarize(spec, found)
    say.end(f"{len(rows)} points in {seconds:.0f} s")
    measurements = sum(len(task.points) for task in found.values())
    body = [f"`trifactor sweep configs/{SPEC.name} --workers {workers}` with an empty cache: {measurements} measurements "
            f"in {len(found)} tasks ({where}), {seconds:.0f} s; {len(notes['crashed'])} crashed. Accuracy: the fixed "
            f"model, mean ± sd over the spec's seeds; cycles: the core in RTL simulation (cocotb) over the spec's first "
            f"training samples; synthesis: UP5K, Fmax the median over the spec's seeds.", "", table(spec, rows), ""]
    failed = failures(rows)
    if failed:
        body += ["Not measured:", "", *(f"- point {index}, {measurement} (seeds {seeds}): {reason}"
                                        for index, measurement, seeds, reason in failed), ""]
    data = {"spec": str(SPEC.relative_to(CONFIGS.parent)), "seconds": seconds, "tasks": len(found),
            "measurements": measurements, "crashed": notes["crashed"],
            "points": [{k: v for k, v in row.items() if k != "runs"} for row in rows]}
    return "\n".join(body), data
