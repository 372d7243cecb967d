"""The simulated backends' build folders stay under a size, least recently used first (scripts/sim/cache.py)."""

import fcntl
import os
import subprocess

import pytest

from trifactor.scripts.sim import cache


def _folder(root, name, size, age):
    folder = root / name
    (folder / "native").mkdir(parents=True)
    (folder / "native" / "harness").write_bytes(b"x" * size)
    stamp = 1_000_000 + 1_000 * (10 - age)  # older folders were used longer ago
    os.utime(folder, (stamp, stamp))
    return folder


def test_prune_removes_the_least_recently_used_until_under_the_limit(tmp_path):
    old, older, oldest = (_folder(tmp_path, f"core{age}", 1000, age) for age in (1, 2, 3))
    current = _folder(tmp_path, "current", 1000, 9)  # the run's own folder, used longest ago of all
    removed = cache.prune(current, limit=2500)
    assert removed == [oldest, older]
    assert current.exists() and old.exists()
    assert current.stat().st_mtime > old.stat().st_mtime  # marked used now


def test_prune_keeps_folders_in_use(tmp_path):
    running = _folder(tmp_path, "running", 1000, 3)
    (running / f"job-{os.getpid()}").mkdir()  # a live run's job folder
    building = _folder(tmp_path, "building", 1000, 2)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = _folder(tmp_path, "stale", 1000, 1)
    (stale / f"job-{dead.pid}").mkdir()  # a run that is gone does not hold its folder
    current = _folder(tmp_path, "current", 1000, 0)
    with open(building / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process builds there
        removed = cache.prune(current, limit=1000)
    assert removed == [stale]
    assert running.exists() and building.exists() and current.exists()


def test_the_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(cache.LIMIT_ENV, raising=False)
    assert cache.limit_bytes() == int(cache.DEFAULT_GB * 1e9)
    monkeypatch.setenv(cache.LIMIT_ENV, "0.5")
    assert cache.limit_bytes() == 500_000_000
    monkeypatch.setenv(cache.LIMIT_ENV, "0")
    assert cache.limit_bytes() is None



def test_a_limit_that_is_not_a_number_is_refused_before_the_run_makes_anything(tmp_path, monkeypatch):
    from trifactor.scripts.sim.backend import job_folder
    from trifactor.scripts.util.errors import UsageError

    monkeypatch.setenv(cache.LIMIT_ENV, "lots")
    with pytest.raises(UsageError, match=f"{cache.LIMIT_ENV}='lots' is not a size in GB") as refused:
        with job_folder(tmp_path / "core-rtl"):
            pass
    assert "unset it" in refused.value.fix
    assert not (tmp_path / "core-rtl").exists()


def test_a_limit_of_0_keeps_everything(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.LIMIT_ENV, "0")
    old = _folder(tmp_path, "old", 1000, 5)
    current = _folder(tmp_path, "current", 1000, 0)
    assert cache.prune(current) == []
    assert old.exists()
