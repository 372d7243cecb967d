"""A user's own data set from files: ``npz:PATH`` (arrays ``X``, ``y``, optionally ``X_test``, ``y_test``) and
``csv:PATH`` (one sample a line, the label in the last column or another one, an optional header row).

Both end as the arrays :func:`check_arrays` accepts, the same check ``trifactor.datasets.from_arrays`` makes:
a 2-D table of finite numbers within +-:data:`LARGEST_FEATURE` (more dimensions, as images have, are flattened per
sample) and one whole-number label per sample, within +-:data:`LARGEST_LABEL`. A CSV file is UTF-8 (a byte order
mark is skipped) or UTF-16 with its byte order mark. The values are kept as given; :mod:`golden.data` splits and standardises them as it does
the built-in sets. Every problem is a :class:`DataError` that names the file, the place and the fix.
"""

import codecs
import csv
import io
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .errors import DataError

__all__ = ["LARGEST_FEATURE", "LARGEST_LABEL", "check_arrays", "read_npz", "read_csv"]

#: the largest feature magnitude taken: beyond it the training set's variance (a sum of squares) can overflow
#: float64 and standardise every input to NaN, whatever the number of samples a machine can hold
LARGEST_FEATURE = 1e100
#: the largest label magnitude read as a class number: beyond it a float label is no longer exact and an int64
#: cannot hold it (1e20 would wrap round to a negative number)
LARGEST_LABEL = 2**53


def _where_2d(index) -> str:
    return f"sample {index[0]}" if index[1] == "label" else f"row {index[0]}, column {index[1]}"


def check_arrays(name: str, x, y, *, what=("X", "y"), where=_where_2d) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` as float64 (n, features) and int64 (n,), or a :class:`DataError` naming ``name``.

    ``what`` names the two arrays in messages; ``where((row, column))`` names a place in ``x`` (a CSV file
    gives its line numbers).
    """
    xs, ys = what
    try:
        x = np.asarray(x)
    except ValueError:  # NumPy refuses ragged nested lists
        raise DataError(f"{name}: {xs} is ragged (its rows have different lengths)",
                        "give every sample the same number of features") from None
    if x.dtype == object:
        raise DataError(f"{name}: {xs} is ragged or holds objects, not numbers",
                        "give every sample the same number of features, as numbers")
    if x.dtype.kind not in "biuf":
        raise DataError(f"{name}: {xs} holds non-numeric values (dtype {x.dtype})", "give the features as numbers")
    if x.ndim < 2 or x.shape[0] == 0 or x[0].size == 0:
        raise DataError(f"{name}: {xs} has shape {x.shape}, not samples x features",
                        "give at least one sample and one feature (x.reshape(-1, 1) for a single feature)")
    x = x.reshape(x.shape[0], -1).astype(np.float64)
    bad = ~np.isfinite(x)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(f"{name}: {xs} holds {int(bad.sum())} NaN or infinite {'value' if bad.sum() == 1 else 'values'} "
                        f"(the first at {where(first)}: {x[first]})", "fill in or drop those samples")
    bad = np.abs(x) > LARGEST_FEATURE
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(f"{name}: {xs} holds {int(bad.sum())} {'value' if bad.sum() == 1 else 'values'} beyond "
                        f"+-{LARGEST_FEATURE:g} (the first at {where(first)}: {x[first].item()}), too large to standardise "
                        "in float64", "rescale that feature (divide it by a power of ten), or correct the value")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{name}: {ys} has shape {y.shape} for {len(x)} samples in {xs}", "give one label per sample")
    if y.dtype.kind not in "biuf":
        raise DataError(f"{name}: {ys} holds non-numeric labels (dtype {y.dtype})", "number the classes 0, 1, 2, ...")
    checks = [(np.abs(y) > LARGEST_LABEL, f"too large to be a class number (more than {LARGEST_LABEL})")]
    if y.dtype.kind == "f":
        checks = [(~np.isfinite(y), "NaN or infinite"), (y != np.round(y), "not a whole number"), *checks]
    for bad, what in checks:
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DataError(f"{name}: label {y[first].item()} ({where((first, 'label'))}) is {what}",
                            "give every sample a class number 0, 1, 2, ...")
    return x, y.astype(np.int64)


# -- npz --------------------------------------------------------------------------------


#: what reading a damaged member raises: a bad CRC, a broken deflate stream, a cut or garbled .npy header or data
_DAMAGED = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, SyntaxError)


def _array(name: str, archive, key: str) -> np.ndarray:
    """Member ``key`` (``X.npy``) of the open archive; a :class:`DataError` when it is damaged or holds objects
    (never unpickled: ``allow_pickle`` stays False)."""
    fix = "write the file again with numpy.savez(path, X=X, y=y)"
    try:
        array = archive[key]
    except _DAMAGED as exc:
        if isinstance(exc, ValueError) and "allow_pickle" in str(exc):  # an object array: loading it would unpickle
            if key.startswith("y"):
                raise DataError(f"{name}: {key} is an object array, not numbers",
                                "give the labels as a numeric array of class numbers 0, 1, 2, ...") from None
            raise DataError(f"{name}: {key} is an object array (ragged rows?), not numbers",
                            "give every sample the same number of features, as a numeric array") from None
        reason = str(exc).splitlines()[0][:80] if str(exc) else exc.__class__.__name__
        raise DataError(f"{name}: {key}.npy is damaged ({reason})", fix) from None
    if not isinstance(array, np.ndarray):  # NumPy hands back the raw bytes of a member without the .npy header
        raise DataError(f"{name}: {key}.npy is damaged (it is not a .npy array)", fix)
    return array


def read_npz(path) -> dict:
    """``{"train": (x, y)}`` from an ``.npz`` with ``X`` and ``y``, plus ``"test"`` when it has ``X_test`` and ``y_test``."""
    name = f"npz:{path}"
    try:
        file = open(Path(path).expanduser(), "rb")  # ours to close, whatever np.load makes of it
    except FileNotFoundError:
        raise DataError(f"{name} does not exist", "check the path of the .npz file") from None
    except OSError as exc:
        raise DataError(f"{name} cannot be read ({exc.strerror})", "check the path and its permissions") from None
    with file:
        return _read_npz(name, file)


def _read_npz(name: str, file) -> dict:
    try:
        archive = np.load(file, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{name} is not a readable .npz file ({exc.__class__.__name__})",
                        "write it with numpy.savez(path, X=X, y=y)") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{name} holds a single array, not an .npz archive", "write it with numpy.savez(path, X=X, y=y)")
    with archive:
        keys = set(archive.files)
        if not {"X", "y"} <= keys:
            raise DataError(f"{name} has arrays {sorted(keys)}, not X and y", "write it with numpy.savez(path, X=X, y=y)")
        if ("X_test" in keys) != ("y_test" in keys):
            raise DataError(f"{name} has {'X_test' if 'X_test' in keys else 'y_test'} without its pair",
                            "give both X_test and y_test, or neither")
        pairs = {}
        for part, (xs, ys) in (("train", ("X", "y")), ("test", ("X_test", "y_test"))):
            if xs in keys:
                pairs[part] = check_arrays(name, _array(name, archive, xs), _array(name, archive, ys), what=(xs, ys))
    if "test" in pairs and pairs["test"][0].shape[1] != pairs["train"][0].shape[1]:
        raise DataError(f"{name}: X_test has {pairs['test'][0].shape[1]} features, X {pairs['train'][0].shape[1]}",
                        "give the test samples the training samples' features")
    return pairs


# -- csv --------------------------------------------------------------------------------


def _number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


_SAVE_UTF8 = "save it as UTF-8 text (Excel: CSV UTF-8), or convert it, e.g. iconv -f latin1 -t utf-8"


def _text(name: str, data: bytes) -> str:
    """The file's text: UTF-8 (a byte order mark skipped), or UTF-16 when it starts with UTF-16's byte order mark
    (Excel's "Unicode text"); a :class:`DataError` for anything else, naming the line."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not data.startswith(codecs.BOM_UTF32_LE):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DataError(f"{name} starts as UTF-16 text but is not (bytes {exc.start}..{exc.end - 1})",
                            _SAVE_UTF8) from None
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            raise DataError(f"{name} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}, at offset "
                            f"{exc.start})", _SAVE_UTF8) from None
    if "\0" in text:
        line = text[:text.index("\0")].count("\n") + 1
        raise DataError(f"{name} holds NUL characters (the first on line {line}): not UTF-8 text (UTF-16 without its "
                        "byte order mark, or a binary file?)", "save it as UTF-8 text (Excel: CSV UTF-8), or convert "
                        "it, e.g. iconv -f utf-16le -t utf-8")
    return text


def _rows(name: str, path: Path):
    """``[(line number, [cells])]`` of the non-blank records, cells stripped; a record's line is the one it starts
    on (a quoted cell may hold line breaks)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{name} does not exist", "check the path of the CSV file") from None
    except OSError as exc:
        raise DataError(f"{name} cannot be read ({exc.strerror})", "check the path and its permissions") from None
    reader = csv.reader(io.StringIO(_text(name, data)), strict=True)  # strict: a stray or unclosed quote is an error
    rows, start = [], 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            if "field limit" in str(exc):
                problem = f"holds a cell longer than the csv module's limit of {csv.field_size_limit()} characters"
            elif "unexpected end of data" in str(exc):
                problem = "opens a quote that is never closed"
            else:
                problem = f"is not valid CSV ({exc})"
            raise DataError(f"{name}: line {start} {problem}", "check the quotes from that line on: a quote that is "
                            "never closed takes in every line after it; a cell holds one number") from None
        cells = [cell.strip() for cell in cells]
        if any(cells):
            rows.append((start, cells))
        start = reader.line_num + 1


def _label_index(name: str, label_column, header, width: int) -> int:
    if label_column is None:
        return width - 1
    if isinstance(label_column, bool) or not isinstance(label_column, (str, int, np.integer)):
        raise DataError(f"{name}: the label column {label_column!r} is not a column",
                        "give the label column as a number (0 the first, -1 the last) or a header name")
    if isinstance(label_column, str) and header and label_column in header:
        return header.index(label_column)
    try:
        index = int(label_column)
    except ValueError:
        names = f"; the header names {', '.join(header)}" if header else " and the file has no header row"
        raise DataError(f"{name}: no column is named {label_column!r}{names}",
                        "give --label-column a column name from the header or a number (0 is the first)") from None
    if not -width <= index < width:
        raise DataError(f"{name}: --label-column {index} is outside its {width} columns",
                        f"give a number from 0 to {width - 1} (or -1, the last)")
    return index % width


def read_csv(path, label_column=None) -> dict:
    """``{"train": (x, y)}`` from a CSV file: the label in the last column, or in ``label_column`` (a number,
    0 the first and -1 the last, or a header name). The first line is a header when a cell of it is not a number."""
    path = Path(path).expanduser()
    name = f"csv:{path}"
    rows = _rows(name, path)
    header = None
    if rows and not all(_number(cell) for cell in rows[0][1]):
        header = rows.pop(0)[1]
    if not rows:
        raise DataError(f"{name} has no data rows", "give one sample a line: features, then the label")
    width = len(header) if header else len(rows[0][1])
    reference = "the header" if header else f"line {rows[0][0]}"
    for line, cells in rows:
        if len(cells) != width:
            raise DataError(f"{name}: line {line} has {len(cells)} cells, {reference} "
                            f"has {width} (ragged rows)", "give every line the same number of comma-separated cells")
    if width < 2:
        first = (header or rows[0][1])[0]
        how = next((f" (its cells are separated by {what}, not commas)" for sep, what in (("\t", "tabs"), (";", "semicolons"))
                    if sep in first), "")
        raise DataError(f"{name} has a single column{how}", "give the features and the label, separated by commas")
    label = _label_index(name, label_column, header, width)
    lines = [line for line, _ in rows]
    try:
        table = np.array([cells for _, cells in rows], dtype=np.float64)
    except ValueError:
        for line, cells in rows:
            for column, cell in enumerate(cells):
                if not _number(cell):
                    raise DataError(f"{name}: line {line}, column {column + 1} holds {cell!r}, not a number",
                                    "give every feature and label as a number (number the classes 0, 1, 2, ...)") from None
        table = np.array([[float(cell) for cell in cells] for _, cells in rows])  # what NumPy alone would not read
    features = [c for c in range(width) if c != label]

    def where(index):
        row, column = index
        column = "the label column" if column == "label" else f"column {features[column] + 1}"
        return f"line {lines[row]}, {column}"

    return {"train": check_arrays(name, table[:, features], table[:, label], what=("the table", "the label column"),
                                  where=where)}
