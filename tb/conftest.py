"""Shared fixtures: configurations built from small dicts, and the repository root."""

import subprocess
import sys
from pathlib import Path

import pytest

from trifactor.golden.config import config_from_dict

ROOT = Path(__file__).resolve().parent.parent
TRIFACTOR = Path(sys.executable).parent / "trifactor"


def run_trifactor(*args, cwd=None, timeout=300):
    """Run the installed ``trifactor`` command as a user would; returns the CompletedProcess."""
    return subprocess.run([str(TRIFACTOR), *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def assert_one_line_error(code: int, err: str, words=()) -> str:
    """A refused command: exit code 2 and one line ``error: ... ; fix: ...`` on stderr naming ``words``; the line."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and "; fix: " in lines[0], err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def make_config(sizes=(8, 6, 3), **sections):
    """A validated Config from ``sizes`` plus ``section={key: value}`` overrides."""
    raw = {"network": {"sizes": list(sizes)}}
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    return config_from_dict(raw)


@pytest.fixture
def root():
    return ROOT
