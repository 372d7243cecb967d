"""A user's own data: ``--dataset npz:PATH`` and ``csv:PATH`` (golden/tables.py), read, split and standardised as
the built-in sets are; every bad file refused in one line naming the file and the fix, exit code 2 (issues 17
and 27: damaged files, labels that are not small class numbers, values past float64's range, encodings); and the
own-data example (docs/examples/own_data.py) run with the fixed model and the core in Verilator."""

import importlib.util
import io
import zipfile

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
    damaged_files(tmp_path, x, y)


def damaged_files(tmp_path, x, y):
    """Issue 27's files: cells and members the readers choked on, labels that are not small class numbers,
    features past float64's range, a single class, quoting and encodings."""
    good = (tmp_path / "good.csv").read_text()
    edit_line(write_csv(tmp_path / "huge-cell.csv", x, y), 5, lambda s: "1" * 200_000 + "," + s.split(",", 1)[1])
    edit_line(write_csv(tmp_path / "unclosed-quote.csv", x, y), 5, lambda s: '"' + s)
    edit_line(write_csv(tmp_path / "quoted-comma.csv", x, y), 4, lambda s: '"1,5",' + s.split(",", 1)[1])
    edit_line(write_csv(tmp_path / "quoted-newline.csv", x, y), 2, lambda s: '"1\n5",' + s.split(",", 1)[1])
    write_csv(tmp_path / "timestamps.csv", x, 1_700_000_000 + y)
    edit_line(write_csv(tmp_path / "label-1e20.csv", x, y), 6, lambda s: s.rsplit(",", 1)[0] + ",1e20")
    edit_line(write_csv(tmp_path / "overflow.csv", x, y), 3, lambda s: s.split(",", 1)[0] + ",1e308," + s.split(",", 2)[2])
    write_csv(tmp_path / "one-class.csv", x, 0 * y)
    (tmp_path / "utf16-no-bom.csv").write_bytes(good.encode("utf-16-le"))
    (tmp_path / "latin1.csv").write_bytes(good.replace("f2", "f\xe9", 1).encode("latin-1"))
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "blank.csv").write_text("\n  \n\n")
    (tmp_path / "header-only.csv").write_text(good.splitlines()[0] + "\n")
    (tmp_path / "tabs.csv").write_text(good.replace(",", "\t"))
    np.savez(tmp_path / "timestamps.npz", X=x, y=1_700_000_000 + y)
    np.savez(tmp_path / "label-1e20.npz", X=x, y=np.where(y == 2, 1e20, y))
    np.savez(tmp_path / "label-2**64-1.npz", X=x, y=np.where(y == 2, np.uint64(2**64 - 1), y.astype(np.uint64)))
    np.savez(tmp_path / "negative.npz", X=x, y=y - 1)
    np.savez(tmp_path / "fraction.npz", X=x, y=np.where(np.arange(30) == 5, 1.5, y))
    np.savez(tmp_path / "overflow.npz", X=np.where(np.arange(120).reshape(30, 4) == 9, -1e308, x), y=y)
    np.savez(tmp_path / "one-class.npz", X=x, y=0 * y)
    np.savez(tmp_path / "one-class-own-test.npz", X=x[:20], y=0 * y[:20], X_test=x[20:], y_test=0 * y[20:])
    np.savez(tmp_path / "object-y.npz", X=x, y=y.astype(object))
    np.savez(tmp_path / "x-1d.npz", X=x[:, 0], y=y)
    np.savez(tmp_path / "x-test-alone.npz", X=x, y=y, X_test=x[:3])
    good_npz = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(good_npz[:len(good_npz) // 2])  # the zip's directory is lost
    crc = bytearray(good_npz)
    crc[200] ^= 0xFF  # inside X.npy's data: the zip's CRC no longer matches
    (tmp_path / "bad-crc.npz").write_bytes(bytes(crc))
    np.savez_compressed(tmp_path / "compressed.npz", X=x, y=y)
    deflated = bytearray((tmp_path / "compressed.npz").read_bytes())
    deflated[100] ^= 0xFF  # inside X.npy's deflated stream
    (tmp_path / "bad-deflate.npz").write_bytes(bytes(deflated))
    npy = io.BytesIO()
    np.save(npy, x)
    with zipfile.ZipFile(tmp_path / "not-npy-member.npz", "w") as archive:
        archive.writestr("X.npy", b"these bytes are not an array")
        archive.writestr("y.npy", npy.getvalue())
    with zipfile.ZipFile(tmp_path / "short-member.npz", "w") as archive:
        archive.writestr("X.npy", npy.getvalue()[:-40])  # a whole header, the data cut short
        archive.writestr("y.npy", npy.getvalue())


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
    # issue 27
    "csv-cell-past-the-field-limit": ("csv:huge-cell.csv", [], ["csv:huge-cell.csv: line 5", "131072 characters",
                                                                "quote"]),
    "csv-unclosed-quote": ("csv:unclosed-quote.csv", [], ["csv:unclosed-quote.csv: line 5", "quote"]),
    "csv-quoted-comma": ("csv:quoted-comma.csv", [], ["line 4, column 1 holds '1,5', not a number"]),
    "csv-quoted-newline": ("csv:quoted-newline.csv", [], ["line 2, column 1 holds '1\\n5', not a number"]),
    "csv-labels-timestamps": ("csv:timestamps.csv", [], ["csv:timestamps.csv", "3 values (1700000000, 1700000001, "
                                                         "1700000002)", "1700000003 classes", "number the 3 classes 0..2"]),
    "csv-label-1e20": ("csv:label-1e20.csv", [], ["csv:label-1e20.csv", "label 1e+20 (line 6, the label column)",
                                                  "too large", "0, 1, 2"]),
    "csv-feature-overflows": ("csv:overflow.csv", [], ["csv:overflow.csv", "line 3, column 2: 1e+308", "1e+100",
                                                       "rescale"]),
    "csv-one-class": ("csv:one-class.csv", [], ["csv:one-class.csv", "every training label is 0", "at least 2 classes"]),
    "csv-utf16-without-bom": ("csv:utf16-no-bom.csv", [], ["csv:utf16-no-bom.csv", "NUL", "UTF-8"]),
    "csv-latin1": ("csv:latin1.csv", [], ["csv:latin1.csv is not UTF-8 text (byte 0xe9 on line 1", "save it as UTF-8"]),
    "csv-empty": ("csv:empty.csv", [], ["csv:empty.csv has no data rows"]),
    "csv-blank-lines-only": ("csv:blank.csv", [], ["csv:blank.csv has no data rows"]),
    "csv-header-only": ("csv:header-only.csv", [], ["csv:header-only.csv has no data rows"]),
    "csv-tab-separated": ("csv:tabs.csv", [], ["csv:tabs.csv has a single column",
                                               "(its cells are separated by tabs, not commas)"]),
    "csv-path-empty": ("csv:", [], ["'csv:' names no file", "csv:PATH"]),
    "npz-path-empty": ("npz:", [], ["'npz:' names no file"]),
    "idx-path-empty": ("idx:", [], ["'idx:' names no folder"]),
    "npz-labels-timestamps": ("npz:timestamps.npz", [], ["npz:timestamps.npz", "1700000003 classes", "0..2"]),
    "npz-label-1e20": ("npz:label-1e20.npz", [], ["npz:label-1e20.npz", "label 1e+20 (sample 2)", "too large"]),
    "npz-label-2**64-1": ("npz:label-2**64-1.npz", [], ["label 18446744073709551615 (sample 2)", "too large"]),
    "npz-label-negative": ("npz:negative.npz", [], ["npz:negative.npz", "label -1 is negative"]),
    "npz-label-fraction": ("npz:fraction.npz", [], ["npz:fraction.npz", "label 1.5 (sample 5)", "not a whole number"]),
    "npz-feature-overflows": ("npz:overflow.npz", [], ["npz:overflow.npz", "row 2, column 1: -1e+308", "1e+100"]),
    "npz-one-class": ("npz:one-class.npz", [], ["npz:one-class.npz", "every training label is 0"]),
    "npz-one-class-own-test": ("npz:one-class-own-test.npz", [], ["every training label is 0"]),
    "npz-object-labels": ("npz:object-y.npz", [], ["npz:object-y.npz: y is an object array", "numeric array of class"]),
    "npz-x-1d": ("npz:x-1d.npz", [], ["npz:x-1d.npz: X has shape (30,)", "reshape(-1, 1)"]),
    "npz-x-test-without-y-test": ("npz:x-test-alone.npz", [], ["has X_test without its pair"]),
    "npz-cut-short": ("npz:cut.npz", [], ["npz:cut.npz is not a readable .npz file", "numpy.savez"]),
    "npz-member-bad-crc": ("npz:bad-crc.npz", [], ["npz:bad-crc.npz: X.npy is damaged", "CRC", "write the file again"]),
    "npz-member-bad-deflate": ("npz:bad-deflate.npz", [], ["npz:bad-deflate.npz: X.npy is damaged"]),
    "npz-member-not-npy": ("npz:not-npy-member.npz", [], ["npz:not-npy-member.npz: X.npy is damaged",
                                                          "not a .npy array"]),
    "npz-member-cut-short": ("npz:short-member.npz", [], ["npz:short-member.npz: X.npy is damaged"]),
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


def test_csv_quoting_encodings_and_3d_arrays_read_as_plain_files(work):
    """What is unambiguous is read, and gives the plain file's arrays: quoted numbers, a UTF-8 byte order mark,
    UTF-16 with its byte order mark (Excel's "Unicode" text), CRLF line ends, and an npz whose X has one more
    dimension (images: flattened per sample)."""
    x, y = samples()
    good = (work / "good.csv").read_text()
    (work / "quoted.csv").write_text("\n".join(",".join(f'"{cell}"' for cell in line.split(","))
                                              for line in good.splitlines()) + "\n")
    (work / "bom.csv").write_bytes(b"\xef\xbb\xbf" + good.encode())
    (work / "utf16.csv").write_text(good, encoding="utf-16")
    (work / "crlf.csv").write_bytes(good.replace("\n", "\r\n").encode())
    for name in ("quoted.csv", "bom.csv", "utf16.csv", "crlf.csv"):
        (train_x, train_y), = read_csv(work / name).values()
        assert np.array_equal(train_x, x) and np.array_equal(train_y, y), name
    np.savez(work / "images.npz", X=x.reshape(30, 2, 2), y=y)
    assert np.array_equal(load_split("npz:images.npz").x_train, load_split("npz:good.npz").x_train)


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
