"""Shared fixtures: configurations built from small dicts, and the repository root."""

from pathlib import Path

import pytest

from trifactor.golden.config import config_from_dict

ROOT = Path(__file__).resolve().parent.parent


def make_config(sizes=(8, 6, 3), **sections):
    """A validated Config from ``sizes`` plus ``section={key: value}`` overrides."""
    raw = {"network": {"sizes": list(sizes)}}
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    return config_from_dict(raw)


@pytest.fixture
def root():
    return ROOT
