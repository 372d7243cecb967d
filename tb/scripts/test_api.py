"""The Python API (``import trifactor``, scripts/api/) against the command line it carries: the same run gives
the same JSON and weights; errors are typed; every public name has a numpydoc docstring."""

import inspect
import json

import numpy as np
import pytest

import trifactor
from trifactor.golden.config import ConfigError
from trifactor.golden.errors import DataError, TrifactorError
from trifactor.scripts.util.errors import UsageError

from conftest import ROOT, make_config, run_trifactor

WINE = ROOT / "configs" / "wine.toml"
TIMING = {"epoch_seconds", "epoch_cpu_seconds", "run_seconds", "seconds_per_epoch_median", "machine"}


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory):
    import importlib.util

    spec = importlib.util.spec_from_file_location("own_data", ROOT / "docs" / "examples" / "own_data.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example.write_wine_csv(tmp_path_factory.mktemp("wine") / "wine.csv")


def untimed(record: dict) -> dict:
    return {key: value for key, value in record.items() if key not in TIMING}


@pytest.mark.parametrize("backend", ["fixed", "float"])
def test_api_and_cli_give_the_same_json_and_weights(tmp_path, wine_csv, backend):
    result = run_trifactor("train", "--backend", backend, "--config", str(WINE), "--dataset", f"csv:{wine_csv}",
                           "--epochs", "3", "--seed", "2", "--quiet", "--json", str(tmp_path / "cli.json"),
                           "--save-weights", str(tmp_path / "cli.npz"))
    assert result.returncode == 0, result.stderr
    cfg = trifactor.load_config(WINE)
    run = trifactor.train(cfg, f"csv:{wine_csv}", backend=backend, epochs=3, seed=2, quiet=True)
    cli = json.loads((tmp_path / "cli.json").read_text())
    assert untimed(cli) == json.loads(json.dumps(untimed(run.record())))
    assert run.history == cli["history"] and run.test_accuracy == cli["test_accuracy"]
    with np.load(tmp_path / "cli.npz") as saved:
        assert sorted(saved.files) == sorted(run.weights)
        assert all(np.array_equal(saved[k], run.weights[k]) for k in saved.files)
    assert run.counters == {}  # the golden models count nothing


def test_arrays_and_files_train_alike(wine_csv):
    from sklearn.datasets import load_wine

    cfg = trifactor.load_config(WINE)
    X, y = load_wine(return_X_y=True)
    a = trifactor.train(cfg, trifactor.datasets.from_arrays(X, y, config=cfg), epochs=2, quiet=True)
    b = trifactor.train(cfg, trifactor.datasets.from_file(wine_csv, config=cfg), epochs=2, quiet=True)
    assert a.history == b.history and all(np.array_equal(a.weights[k], b.weights[k]) for k in a.weights)
    assert a.dataset == "arrays" and b.dataset == f"csv:{wine_csv}"


def test_config_from_a_dict():
    cfg = trifactor.config_from_dict({"name": "mine", "network": {"sizes": [4, 6, 3]}, "hardware": {"lanes": 2}})
    assert isinstance(cfg, trifactor.Config) and cfg.sizes == (4, 6, 3)
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    data = trifactor.datasets.from_arrays(rng.normal(size=(60, 4)) + y[:, None], y, config=cfg)
    run = trifactor.train(cfg, data, backend="float", epochs=2, seed=1, quiet=True)
    assert len(run.history) == 2 and 0 <= run.test_accuracy <= 1 and run.weights["W0"].shape == (6, 4)


def test_errors_are_typed():
    cfg = make_config(sizes=(4, 6, 3))
    with pytest.raises(DataError, match="ragged"):
        trifactor.datasets.from_arrays([[1, 2, 3, 4], [1, 2]], [0, 1], config=cfg)
    with pytest.raises(ConfigError, match="start sizes with 5"):
        trifactor.datasets.from_arrays(np.zeros((30, 5)), np.arange(30) % 3, config=cfg)
    with pytest.raises(UsageError, match="backend 'gpu'"):
        trifactor.train(cfg, "digits", backend="gpu")
    with pytest.raises(UsageError, match="seed -1 is negative"):
        trifactor.train(cfg, backend="fixed", seed=-1)
    with pytest.raises(UsageError, match="needs a serial port"):
        trifactor.train(cfg, backend="board")
    with pytest.raises(UsageError, match="target 'up9k'"):
        trifactor.synth(cfg, target="up9k")
    for error in (DataError, ConfigError, UsageError):
        assert issubclass(error, TrifactorError) and error is getattr(trifactor, error.__name__)


def test_generate_writes_what_the_cli_writes(tmp_path):
    cfg = make_config(sizes=(4, 6, 3), hardware={"lanes": 2})
    v_path, j_path = trifactor.generate(cfg, out=tmp_path / "api", seed=3)
    (tmp_path / "c.toml").write_text('name = "trifactor"\n[network]\nsizes = [4, 6, 3]\n[hardware]\nlanes = 2\n')
    result = run_trifactor("generate", "--config", str(tmp_path / "c.toml"), "--out", str(tmp_path / "cli"),
                           "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert v_path.read_text() == (tmp_path / "cli" / v_path.name).read_text()
    assert json.loads(j_path.read_text()) == json.loads((tmp_path / "cli" / j_path.name).read_text())


def public_names():
    for name in trifactor.__all__:
        obj = getattr(trifactor, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            yield name, obj
    for name in trifactor.datasets.__all__:
        yield f"datasets.{name}", getattr(trifactor.datasets, name)


@pytest.mark.parametrize("name, obj", list(public_names()), ids=[n for n, _ in public_names()])
def test_every_public_name_is_documented(name, obj):
    doc = inspect.getdoc(obj)
    assert doc and len(doc) > 20, name
    if inspect.isfunction(obj) and obj.__module__.startswith("trifactor.") and \
            obj.__module__.split(".")[1] in ("datasets", "training", "hardware"):
        assert "Parameters\n----------" in doc and "Returns\n-------" in doc, name
    assert inspect.getdoc(trifactor.datasets) and inspect.getdoc(trifactor)
