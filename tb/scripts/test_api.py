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


def test_a_convolutional_network_from_python_as_from_the_command_line(tmp_path):
    """configs/digits-conv.toml (a 3x3 convolution of 8 channels, then a dense layer): trifactor.train gives the
    command line's JSON and weights, W0 a 3x3 kernel per channel and b0 its biases; trifactor.generate describes the
    convolution in the core's JSON."""
    config = ROOT / "configs" / "digits-conv.toml"
    result = run_trifactor("train", "--backend", "fixed", "--config", str(config), "--epochs", "1", "--quiet",
                           "--json", str(tmp_path / "cli.json"), "--save-weights", str(tmp_path / "cli.npz"))
    assert result.returncode == 0, result.stderr
    run = trifactor.train(config, "digits", backend="fixed", epochs=1, quiet=True)
    assert untimed(json.loads((tmp_path / "cli.json").read_text())) == json.loads(json.dumps(untimed(run.record())))
    with np.load(tmp_path / "cli.npz") as saved:
        assert sorted(saved.files) == sorted(run.weights) == ["W0", "W1", "b0", "b1"]
        assert all(np.array_equal(saved[k], run.weights[k]) for k in saved.files)
    assert [run.weights[name].shape for name in ("W0", "b0", "W1")] == [(8, 9), (8,), (10, 128)]
    assert run.test_accuracy > 0.8 and run.record()["config"]["conv"][0]["channels"] == 8
    _, j_path = trifactor.generate(run.config, out=tmp_path / "core")
    layers = json.loads(j_path.read_text())["memory_map"]["layers"]
    assert (layers[0]["conv"]["input"], layers[0]["conv"]["output"]) == ([8, 8, 1], [4, 4, 8])
    assert "conv" not in layers[1]


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


# -- issue 27: what each argument takes (docs/api.md, "What the arguments take") -------------------------------


@pytest.fixture(scope="module")
def wine():
    from sklearn.datasets import load_wine

    return trifactor.load_config(WINE), *load_wine(return_X_y=True)


def same_run(a, b) -> bool:
    return a.history == b.history and all(np.array_equal(a.weights[k], b.weights[k]) for k in a.weights)


def test_a_configuration_may_be_given_as_its_toml_path_or_a_dict(wine, wine_csv):
    """A path (str or pathlib.Path) of a TOML file, or the dict config_from_dict takes, wherever a Config goes:
    the same configuration, so the same data set and run (a path once raised AttributeError from deep inside)."""
    cfg, X, y = wine
    raw = {"name": "wine", "network": {"sizes": [13, 16, 3]}, "data": {"dataset": "csv:build/wine.csv"},
           "hardware": {"lanes": 4}}
    ref = trifactor.datasets.from_arrays(X, y, config=cfg)
    for config in (WINE, str(WINE), raw):
        split = trifactor.datasets.from_arrays(X, y, config=config)
        assert all(np.array_equal(getattr(split, f), getattr(ref, f)) for f in ("x_train", "y_train", "x_test"))
        assert np.array_equal(trifactor.datasets.from_file(wine_csv, config=config).x_train,
                              trifactor.datasets.load(config, f"csv:{wine_csv}").x_train)
    run = trifactor.train(WINE, ref, epochs=1, quiet=True)
    assert run.config == cfg and same_run(run, trifactor.train(cfg, ref, epochs=1, quiet=True))
    assert trifactor.train(str(WINE), ref, epochs=1, quiet=True).config == cfg


def test_a_data_set_may_be_given_as_x_and_y_or_a_file_path(wine, wine_csv):
    """A tuple (X, y), as scikit-learn's ``return_X_y`` gives it, is from_arrays(X, y); a pathlib.Path of a .csv or
    .npz file is from_file(path): the same runs."""
    cfg, X, y = wine
    by_arrays = trifactor.train(cfg, trifactor.datasets.from_arrays(X, y, config=cfg), epochs=1, quiet=True)
    assert same_run(trifactor.train(cfg, (X, y), epochs=1, quiet=True), by_arrays)
    assert same_run(trifactor.train(cfg, wine_csv, epochs=1, quiet=True),
                    trifactor.train(cfg, f"csv:{wine_csv}", epochs=1, quiet=True))


def test_numpy_integers_are_whole_numbers(wine):
    """A seed or an epoch count from a NumPy loop is a whole number (once "seed 2 is not a whole number"), and the
    run's record is plain JSON."""
    cfg, X, y = wine
    run = trifactor.train(cfg, (X, y), epochs=np.int64(1), seed=np.int64(2), quiet=True)
    assert same_run(run, trifactor.train(cfg, (X, y), epochs=1, seed=2, quiet=True))
    assert json.loads(json.dumps(run.record()))["seed"] == 2


def _build_store(store):
    cfg = make_config(sizes=(4, 6, 3), hardware={"lanes": 2})
    return trifactor.build(cfg, "icebreaker", store=store, quiet=True)


# id -> (call, error class, words its message must hold)
BAD_ARGUMENTS = {
    "config-an-int": (lambda cfg, X, y: trifactor.train(5), UsageError, ["config 5 (int) is not a configuration",
                                                                         "load_config", "TOML"]),
    "config-none": (lambda cfg, X, y: trifactor.datasets.from_arrays(X, y, config=None), UsageError,
                    ["config None (NoneType) is not a configuration"]),
    "config-a-split": (lambda cfg, X, y: trifactor.train(trifactor.datasets.from_arrays(X, y, config=cfg), cfg),
                       UsageError, ["config is a Split", "train(config, data)"]),
    "config-a-toml-that-is-not-there": (lambda cfg, X, y: trifactor.train("nowhere.toml"), ConfigError,
                                        ["nowhere.toml: file does not exist"]),
    "config-a-bad-dict": (lambda cfg, X, y: trifactor.generate({"network": {}}), ConfigError, ["[network] sizes"]),
    "data-an-array": (lambda cfg, X, y: trifactor.train(cfg, X), UsageError,
                      ["data is a numpy.ndarray", "(X, y)", "from_arrays"]),
    "data-a-list": (lambda cfg, X, y: trifactor.train(cfg, [X, y]), UsageError, ["data is a list", "(X, y)"]),
    "data-a-4-tuple": (lambda cfg, X, y: trifactor.train(cfg, (X[:100], X[100:], y[:100], y[100:])), UsageError,
                       ["4 items", "X_train, X_test, y_train, y_test", "X_test="]),
    "data-an-int": (lambda cfg, X, y: trifactor.train(cfg, 7), UsageError, ["data 7 (int) is not a data set"]),
    "data-an-empty-name": (lambda cfg, X, y: trifactor.train(cfg, ""), DataError, ["the data set name '' is empty"]),
    "data-a-path-of-another-kind": (lambda cfg, X, y: trifactor.train(cfg, ROOT / "README.md"), DataError,
                                    ["README.md", "csv:PATH"]),
    "load-a-dataset-int": (lambda cfg, X, y: trifactor.datasets.load(cfg, 5), DataError, ["data set 5 (int) is not a name"]),
    "load-config-an-int": (lambda cfg, X, y: trifactor.load_config(5), ConfigError, ["5 (int) is not a path"]),
    "config-from-dict-a-path": (lambda cfg, X, y: trifactor.config_from_dict(str(WINE)), ConfigError,
                                ["is a path", "load_config"]),
    "seed-past-2**32": (lambda cfg, X, y: trifactor.train(cfg, (X, y), seed=2**32), UsageError,
                        ["seed 4294967296 is more than 4294967295"]),
    "seed-a-fraction": (lambda cfg, X, y: trifactor.train(cfg, (X, y), seed=1.5), UsageError,
                        ["seed 1.5 is not a whole number"]),
    "epochs-10**9": (lambda cfg, X, y: trifactor.train(cfg, (X, y), epochs=10**9), UsageError,
                     ["epochs 1000000000 is more than 100000"]),
    "epochs-nan": (lambda cfg, X, y: trifactor.train(cfg, (X, y), epochs=float("nan")), UsageError,
                   ["epochs nan is not a positive number"]),
    "generate-out-an-int": (lambda cfg, X, y: trifactor.generate(cfg, out=5), UsageError,
                            ["out 5 (int) is not a path"]),
    "synth-config-an-int": (lambda cfg, X, y: trifactor.synth(3), UsageError, ["config 3 (int)"]),
    "synth-seeds-past-2**32": (lambda cfg, X, y: trifactor.synth(cfg, seeds=2**32 + 1), UsageError,
                               ["seeds 4294967297"]),
    "build-clock-as-text": (lambda cfg, X, y: trifactor.build(cfg, clock_mhz="48"), UsageError,
                            ["clock_mhz '48' is not a number"]),
    "build-clock-nan": (lambda cfg, X, y: trifactor.build(cfg, clock_mhz=float("nan")), UsageError,
                        ["clock_mhz nan"]),
    "build-store-empty": (lambda cfg, X, y: _build_store(""), DataError, ["the data set name '' is empty"]),
    "label-column-a-list": (lambda cfg, X, y: trifactor.datasets.load(cfg, "csv:x.csv", label_column=[1]), DataError,
                            ["label column [1] is not a column", "a number (0 the first"]),
    "label-column-a-fraction": (lambda cfg, X, y: trifactor.datasets.load(cfg, "csv:x.csv", label_column=1.5),
                                DataError, ["label column 1.5"]),
}


@pytest.mark.parametrize("call, error, words", list(BAD_ARGUMENTS.values()), ids=list(BAD_ARGUMENTS))
def test_a_bad_argument_is_a_trifactor_error_saying_what_is_expected(wine, tmp_path, monkeypatch, call, error, words):
    from trifactor.scripts.flow import board_build

    def no_build(*args, **kwargs):  # a board build takes minutes: a bad argument must be refused before it
        raise AssertionError("the board build started")

    monkeypatch.setattr(board_build, "build", no_build)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.csv").write_text("a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    with pytest.raises(error) as info:
        call(*wine)
    assert isinstance(info.value, TrifactorError)
    for word in words:
        assert word in str(info.value), str(info.value)
