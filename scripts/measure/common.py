"""What the parts share: the reference configurations, configuration variants, progress lines, number formats."""

import statistics
import sys
import time
from pathlib import Path

from trifactor.golden.config import load_config

from ..util.errors import FAILURES, one_line

__all__ = ["CONFIGS", "FAILURES", "Steps", "config", "variant", "median", "one_line", "pct", "spread", "used"]

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def config(name: str):
    """The reference configuration ``configs/<name>.toml``."""
    return load_config(CONFIGS / f"{name}.toml")


def variant(base, **sections):
    """``base`` with ``section={key: value}`` overrides, validated again; a new ``[feedback] rule`` resets what follows
    the rule, as ``trifactor bench`` and ``compare`` do (the one definition is theirs)."""
    from ..cli.bench import config_variant  # with the commands that made it first, as scripts.sweep.tasks does

    return config_variant(base, **sections) if sections else base


def median(values):
    return statistics.median(values)


def pct(value: float) -> str:
    """An accuracy as the README quotes it: ``97.13%``."""
    return f"{100 * value:.2f}%"


def spread(values, fmt="{:.1f}") -> str:
    """The individual values of a median, in run order: ``41.8, 39.7, 40.8``."""
    return ", ".join(fmt.format(v) for v in values)


class Steps:
    """One progress line per step of a part, on stderr: ``[synth 2/5] digits on up5k ... 40.8 MHz (312 s)``."""

    def __init__(self, part: str, total: int, quiet: bool = False):
        self.part, self.total, self.done, self.quiet = part, total, 0, quiet
        self._start = None

    def start(self, what: str):
        self.done += 1
        self._start = time.monotonic()
        if not self.quiet:
            print(f"[{self.part} {self.done}/{self.total}] {what} ...", file=sys.stderr, flush=True)

    def end(self, outcome: str):
        if not self.quiet:
            seconds = time.monotonic() - self._start
            print(f"[{self.part} {self.done}/{self.total}]   {outcome} ({seconds:.0f} s)", file=sys.stderr, flush=True)


def used(report, key) -> str:
    """``used / available (percent)`` of the resource ``key`` in a synthesis or board report's utilization; "-"
    when the part has none."""
    u = report["utilization"].get(key)
    if not u:
        return "-"
    return f"{u['used']} / {u['available']} ({100 * u['used'] / u['available']:.0f}%)"
