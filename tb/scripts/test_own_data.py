"""A user's own data: ``--dataset npz:PATH`` and ``csv:PATH`` (golden/tables.py), read, split and standardised as
the built-in sets are; every bad file refused in one line naming the file and the fix, exit code 2 (issue 17);
and the own-data example (docs/examples/own_data.py) run with the fixed model and the core in Verilator."""

import importlib.util

import numpy as np
import pytest

import trifactor
from trifactor.golden.data import load_split
from trifactor.golden.tables import read_csv
from trifactor.scripts.cli import main

from conftest import ROOT, assert_one_line_error, make_config, run_trifactor

SMALL = 'name = "small"\n[network]\nsizes = [4, 6, 3]\n[hardware]\nlanes = 2\n'


def samples(n=30, features=4, seed=0):
    """``n`` separable samples of 3 classes (``n`` a multiple of 3)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    return rng.normal(size=(n, features)) + 2.0 * y[:, None], y


def write_csv(path, x, y, header=True, label_first=False):
    lines = [",".join(["label", *(f"f{k}" for k in range(x.shape[1]))] if label_first
                      else [*(f"f{k}" for k in range(x.shape[1])), "label"])] if header else []
    for row, label in zip(x, y):
        cells = [repr(float(v)) for v in row]
        lines.append(",".join([str(label), *cells] if label_first else [*cells, str(label)]))
    path.write_text("\n".join(lines) + "\n")
    return path


def edit_line(path, line: int, change):
    lines = path.read_text().splitlines()
    lines[line - 1] = change(lines[line - 1])
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def work(tmp_path, monkeypatch):
    """Good and bad data files (:func:`data_files`), the working directory."""
    data_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def data_files(tmp_path):
    """Good and bad data files (30 samples, 4 features, 3 classes; the csv files with a header, line 1)."""
    x, y = samples()
    (tmp_path / "small.toml").write_text(SMALL)
    write_csv(tmp_path / "good.csv", x, y)
    np.savez(tmp_path / "good.npz", X=x, y=y)
    edit_line(write_csv(tmp_path / "ragged.csv", x, y), 5, lambda s: s.split(",", 1)[1])
    edit_line(write_csv(tmp_path / "text.csv", x, y), 4, lambda s: "high," + s.split(",", 1)[1])
    edit_line(write_csv(tmp_path / "empty-cell.csv", x, y), 7, lambda s: "," + s.split(",", 1)[1])
    edit_line(write_csv(tmp_path / "nan.csv", x, y), 9, lambda s: s.split(",", 1)[0] + ",nan," + s.split(",", 2)[2])
    edit_line(write_csv(tmp_path / "inf.csv", x, y), 3, lambda s: "inf," + s.split(",", 1)[1])
    write_csv(tmp_path / "gap.csv", x, np.where(y == 2, 3, y))
    write_csv(tmp_path / "negative.csv", x, y - 1)
    edit_line(write_csv(tmp_path / "fraction.csv", x, y), 6, lambda s: s.rsplit(",", 1)[0] + ",1.5")
    edit_line(write_csv(tmp_path / "text-label.csv", x, y), 6, lambda s: s.rsplit(",", 1)[0] + ",red")
    write_csv(tmp_path / "rare.csv", x[:21], np.r_[y[:20] % 2, 2])
    write_csv(tmp_path / "wide.csv", np.c_[x, x[:, :1]], y)
    np.savez(tmp_path / "ragged.npz", X=np.array([[1.0, 2.0], [3.0]] * 10, dtype=object), y=np.arange(20) % 2)
    np.savez(tmp_path / "text.npz", X=np.array([["a", "b", "c", "d"]] * 30), y=y)
    np.savez(tmp_path / "nan.npz", X=np.where(np.arange(120).reshape(30, 4) == 17, np.nan, x), y=y)
    np.savez(tmp_path / "inf.npz", X=np.where(np.arange(120).reshape(30, 4) == 5, -np.inf, x), y=y)
    np.savez(tmp_path / "gap.npz", X=x, y=np.where(y == 2, 3, y))
    np.savez(tmp_path / "rare.npz", X=x[:21], y=np.r_[y[:20] % 2, 2])
    np.savez(tmp_path / "wide.npz", X=np.c_[x, x], y=y)
    np.savez(tmp_path / "no-y.npz", X=x)
    np.savez(tmp_path / "short-y.npz", X=x, y=y[:-1])
    np.savez(tmp_path / "test-unseen.npz", X=x, y=y, X_test=x[:3], y_test=np.array([0, 1, 7]))
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)))
    (tmp_path / "not.npz").write_text("X,y\n")


FIXED = ["train", "--backend", "fixed", "--config", "small.toml", "--epochs", "1", "--quiet", "--dataset"]

# the table: id -> (data set, extra options, words the one line must hold)
BAD = {
    "csv-ragged-rows": ("csv:ragged.csv", [], ["csv:ragged.csv", "line 5 has 4 cells", "the header has 5", "ragged"]),
    "csv-non-numeric-cell": ("csv:text.csv", [], ["csv:text.csv", "line 4, column 1 holds 'high'", "not a number"]),
    "csv-empty-cell": ("csv:empty-cell.csv", [], ["csv:empty-cell.csv", "line 7, column 1 holds ''"]),
    "csv-nan": ("csv:nan.csv", [], ["csv:nan.csv: the table holds 1 NaN or infinite value", "line 9, column 2"]),
    "csv-inf": ("csv:inf.csv", [], ["csv:inf.csv", "NaN or infinite", "line 3, column 1: inf"]),
    "csv-labels-not-0..C-1": ("csv:gap.csv", [], ["csv:gap.csv", "3 values (0, 1, 3)", "4 classes", "0..2"]),
    "csv-label-negative": ("csv:negative.csv", [], ["csv:negative.csv", "label -1 is negative", "0, 1, 2"]),
    "csv-label-fraction": ("csv:fraction.csv", [], ["csv:fraction.csv", "label 1.5 (line 6, the label column)",
                                                     "not a whole number"]),
    "csv-label-text": ("csv:text-label.csv", [], ["csv:text-label.csv", "line 6, column 5 holds 'red'"]),
    "csv-class-too-small": ("csv:rare.csv", [], ["csv:rare.csv", "class 2 has a single sample", "at least 2"]),
    "csv-features-vs-sizes": ("csv:wide.csv", [], ["small.toml", "[network] sizes", "starts with 4 inputs",
                                                   "csv:wide.csv has 5 features", "start sizes with 5"]),
    "csv-label-column-unknown": ("csv:good.csv", ["--label-column", "colour"], ["csv:good.csv", "'colour'",
                                                                               "header names f0, f1"]),
    "csv-label-column-out-of-range": ("csv:good.csv", ["--label-column", "9"], ["outside its 5 columns"]),
    "csv-missing": ("csv:nowhere.csv", [], ["csv:nowhere.csv does not exist"]),
    "csv-binary": ("csv:binary.csv", [], ["csv:binary.csv is not UTF-8"]),
    "label-column-not-csv": ("npz:good.npz", ["--label-column", "0"], ["npz:good.npz", "not a CSV file"]),
    "npz-ragged-rows": ("npz:ragged.npz", [], ["npz:ragged.npz: X is an object array (ragged rows?)"]),
    "npz-non-numeric": ("npz:text.npz", [], ["npz:text.npz", "X holds non-numeric values"]),
    "npz-nan": ("npz:nan.npz", [], ["npz:nan.npz", "1 NaN or infinite value", "row 4, column 1: nan"]),
    "npz-inf": ("npz:inf.npz", [], ["npz:inf.npz", "row 1, column 1: -inf"]),
    "npz-labels-not-0..C-1": ("npz:gap.npz", [], ["npz:gap.npz", "(0, 1, 3)", "0..2"]),
    "npz-class-too-small": ("npz:rare.npz", [], ["npz:rare.npz", "class 2 has a single sample",
                                                 "its own X_test and y_test"]),
    "npz-features-vs-sizes": ("npz:wide.npz", [], ["npz:wide.npz has 8 features", "start sizes with 8"]),
    "npz-without-y": ("npz:no-y.npz", [], ["npz:no-y.npz has arrays ['X'], not X and y", "numpy.savez"]),
    "npz-label-count": ("npz:short-y.npz", [], ["npz:short-y.npz", "y has shape (29,) for 30 samples"]),
    "npz-test-label-unseen": ("npz:test-unseen.npz", [], ["test label 7", "0..2"]),
    "npz-not-an-npz": ("npz:not.npz", [], ["npz:not.npz is not a readable .npz file"]),
    "npz-missing": ("npz:nowhere.npz", [], ["npz:nowhere.npz does not exist"]),
}


@pytest.mark.parametrize("dataset, extra, words", list(BAD.values()), ids=list(BAD))
def test_bad_file_is_one_line_exit_2(work, capsys, dataset, extra, words):
    code = main([*FIXED, dataset, *extra])
    assert_one_line_error(code, capsys.readouterr().err, words)


def test_the_installed_command_says_it_in_one_line(work):
    result = run_trifactor(*FIXED, "csv:ragged.csv", cwd=work)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "line 5 has 4 cells" in result.stderr, result.stderr


def test_csv_npz_and_arrays_give_one_split(work):
    """A CSV file (with or without a header, the label anywhere), an npz file and the arrays themselves: the
    same samples, so the same stratified split and standardisation, bit for bit."""
    x, y = samples()
    config = make_config(sizes=(4, 6, 3))
    ref = trifactor.datasets.from_arrays(x, y, config=config, name="arrays")
    write_csv(work / "plain.csv", x, y, header=False)
    write_csv(work / "first.csv", x, y, label_first=True)
    for split in (trifactor.datasets.from_file("good.csv", config=config),
                  trifactor.datasets.from_file("npz:good.npz", config=config),
                  trifactor.datasets.load(config, "csv:plain.csv"),
                  trifactor.datasets.load(config, "csv:first.csv", label_column=0),
                  trifactor.datasets.load(config, "csv:first.csv", label_column="label")):
        for field in ("x_train", "y_train", "x_test", "y_test"):
            assert np.array_equal(getattr(split, field), getattr(ref, field)), (split.name, field)
    assert ref.x_train.shape == (24, 4) and abs(ref.x_train.mean()) < 1e-12  # standardised on the training part


def test_csv_reads_what_it_was_given(work):
    x, y = samples()
    (train_x, train_y), = read_csv(work / "good.csv").values()
    assert np.array_equal(train_x, x) and np.array_equal(train_y, y)


def test_npz_keeps_its_own_test_set(work):
    x, y = samples()
    np.savez(work / "own.npz", X=x, y=y, X_test=x[:6] + 0.5, y_test=y[:6])
    split = load_split("npz:own.npz")
    assert np.array_equal(split.x_train, x) and np.array_equal(split.x_test, x[:6] + 0.5)
    assert np.array_equal(split.y_test, y[:6])
    code = main([*FIXED, "npz:own.npz", "--json", "r.json"])
    assert code == 0


def test_config_can_name_a_file(work):
    (work / "named.toml").write_text(SMALL + '[data]\ndataset = "csv:good.csv"\n')
    assert main(["train", "--backend", "float", "--config", "named.toml", "--epochs", "2", "--quiet"]) == 0


# -- the example ------------------------------------------------------------------------


def test_the_own_data_example_runs_fixed_and_rtl(tmp_path, monkeypatch, capsys):
    """docs/examples/own_data.py as a user runs it, on the fixed model and the core in Verilator (one epoch; the
    Verilator build is cached under build/rtl/ as trifactor train's is): the RTL weights equal the fixed
    model's, and the curves are plotted."""
    spec = importlib.util.spec_from_file_location("own_data", ROOT / "docs" / "examples" / "own_data.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    monkeypatch.chdir(ROOT)
    assert example.main(["--backends", "fixed,rtl", "--epochs", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "13 features, 3 classes, 142 training / 36 test samples" in out
    assert "rtl weights equal the fixed golden model's bit for bit: True" in out
    assert (tmp_path / "curves.png").stat().st_size > 1000
