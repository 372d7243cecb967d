"""Shared fixtures: configurations built from small dicts, and the repository root."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trifactor.golden.config import config_from_dict
from trifactor.golden.data import write_idx

ROOT = Path(__file__).resolve().parent.parent
# One compiler cache for every Verilator build of the run, the tests' own and the `trifactor` commands'
# they start in other folders (scripts/sim/runner.py use_compiler_cache)
os.environ.setdefault("CCACHE_DIR", str(ROOT / "build" / "ccache"))
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


DIGITS = str(ROOT / "configs" / "digits.toml")


def assert_user_error(result, *words):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 or lines[0].startswith("usage:"), result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


#: the tiny core the command-line tests train on ``tiny_dataset`` (16 inputs, 3 classes): a Verilator build in seconds
TINY_CONFIG = """name = "tiny"
[network]
sizes = [16, 7, 3]
[feedback]
nonzeros_per_row = 2
[hardware]
lanes = 3
"""


def tiny_run_config(data, name="tiny", sizes="[16, 7, 3]", feedback="") -> str:
    """A TOML configuration like :data:`TINY_CONFIG` that trains one epoch on the IDX folder ``data``
    (:func:`tiny_dataset`); ``feedback``: more lines for its ``[feedback]`` section."""
    return (f'name = "{name}"\n[network]\nsizes = {sizes}\n[feedback]\nnonzeros_per_row = 2\n{feedback}\n'
            f'[training]\nepochs = 1\n[data]\ndataset = "idx:{data}"\n[hardware]\nlanes = 3\n')


def tiny_dataset(folder, n=45):
    """A 3-class IDX data set of ``n`` 4x4 images in ``folder`` (made here), separable enough to learn."""
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 3
    images = rng.integers(0, 120, (n, 4, 4)) + 60 * labels[:, None, None]  # separable enough to learn
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte", images.clip(0, 255))
    write_idx(folder / "train-labels-idx1-ubyte", labels)
    return folder
