"""Tables for the scikit-learn objective: scikit-learn's bundled Iris, or a CSV file.

A CSV file has a header row; one named column holds the class of each row, every other
column a number. Each table has a fingerprint, the sha256 of its bytes (for Iris, of its
arrays), so that a worker can tell that it holds the coordinator's data.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

from shared.errors import DatasetError

IRIS = "iris"
# Classes short of rows named in the refusal; a column of measurements has hundreds.
_SCARCE_SHOWN = 5


@dataclass(frozen=True)
class Table:
    """Feature rows and their class labels; ``source`` names where they came from."""

    source: str
    features: NDArray[np.float64]
    labels: NDArray[Any]
    feature_names: tuple[str, ...]
    fingerprint: str


@dataclass(frozen=True)
class Split:
    """The training rows, searched over by cross-validation, and the held-out rows."""

    x_train: NDArray[np.float64]
    x_test: NDArray[np.float64]
    y_train: NDArray[Any]
    y_test: NDArray[Any]


def iris_table() -> Table:
    """The Iris data scikit-learn ships (no download), as the write-up used it."""
    bunch = load_iris()
    features = np.ascontiguousarray(bunch.data, dtype=np.float64)
    labels = np.ascontiguousarray(bunch.target, dtype=np.int64)
    digest = hashlib.sha256(features.tobytes() + labels.tobytes()).hexdigest()
    return Table(IRIS, features, labels, tuple(bunch.feature_names), digest)


def csv_table(path: Path, target: str) -> Table:
    """Read a CSV file whose column ``target`` holds the classes; DatasetError if unusable."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DatasetError(f"cannot read the CSV file {path}: {err.strerror or err}") from err
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark is not part of the first name
    except UnicodeDecodeError as err:
        raise DatasetError(f"{path} is not UTF-8 text ({err}); save it as UTF-8 CSV") from err
    header, rows = _read_rows(path, text)
    target_index = _target_index(path, header, target)
    features, names = _feature_columns(path, header, rows, target_index)
    labels = _labels(path, rows, target_index, target)
    return Table(str(path), features, labels, names, hashlib.sha256(raw).hexdigest())


def _read_rows(path: Path, text: str) -> tuple[list[str], list[list[str]]]:
    lines = [row for row in csv.reader(io.StringIO(text)) if row]
    if not lines:
        raise DatasetError(f"{path} is empty; it needs a header row and data rows")
    header = [name.strip() for name in lines[0]]
    duplicates = sorted(name for name, count in Counter(header).items() if count > 1)
    if duplicates:
        raise DatasetError(f"{path} has more than one column called "
                           f"{', '.join(map(repr, duplicates))}; rename them apart")
    for number, row in enumerate(lines[1:], start=2):
        if len(row) != len(header):
            raise DatasetError(f"{path}, row {number}: {len(row)} cells, but the header "
                               f"has {len(header)} columns")
    return header, lines[1:]


def _target_index(path: Path, header: list[str], target: str) -> int:
    if target not in header:
        raise DatasetError(f"{path} has no column called {target!r}; its columns are "
                           f"{', '.join(map(repr, header))}; name the class column with "
                           "--target")
    if len(header) < 2:
        raise DatasetError(f"{path} has only the class column {target!r}; it needs at "
                           "least one feature column beside it")
    return header.index(target)


def _feature_columns(path: Path, header: list[str], rows: list[list[str]],
                     target_index: int) -> tuple[NDArray[np.float64], tuple[str, ...]]:
    indices = [index for index in range(len(header)) if index != target_index]
    values = np.empty((len(rows), len(indices)), dtype=np.float64)
    bad: list[str] = []
    for column, index in enumerate(indices):
        for number, row in enumerate(rows, start=2):
            value = _number(row[index])
            if value is None:
                bad.append(f"{header[index]!r} (row {number}: {row[index]!r})")
                break
            values[number - 2, column] = value
    if bad:
        raise DatasetError(f"{path}: feature columns must hold finite numbers in every row, "
                           f"but these do not: {'; '.join(bad)}; drop or encode those "
                           "columns, or fill the empty cells")
    return values, tuple(header[index] for index in indices)


def _number(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _labels(path: Path, rows: list[list[str]], target_index: int, target: str
            ) -> NDArray[Any]:
    labels = [row[target_index].strip() for row in rows]
    empty = [number for number, label in enumerate(labels, start=2) if not label]
    if empty:
        raise DatasetError(f"{path}: the class column {target!r} is empty in row(s) "
                           f"{', '.join(map(str, empty[:10]))}; every row needs a class")
    return np.array(labels, dtype=np.str_)


def split_table(table: Table, *, test_size: float, random_state: int, cv_folds: int
                ) -> Split:
    """Hold out ``test_size`` of the rows, as the write-up did: not stratified.

    Raises DatasetError when a class has fewer than ``cv_folds`` training rows, because
    stratified cross-validation needs one row of every class in every fold.
    """
    try:
        x_train, x_test, y_train, y_test = train_test_split(
            table.features, table.labels, test_size=test_size, random_state=random_state)
    except ValueError as err:
        raise DatasetError(f"cannot hold out {test_size:g} of the {len(table.labels)} rows "
                           f"of {table.source}: {err}") from err
    _check_classes(table.source, y_train, cv_folds)
    return Split(x_train, x_test, y_train, y_test)


def _check_classes(source: str, y_train: NDArray[Any], cv_folds: int) -> None:
    counts = Counter(y_train.tolist())
    if len(counts) < 2:
        raise DatasetError(f"{source}: the training rows hold {len(counts)} class(es); a "
                           "classifier needs at least two")
    scarce = {label: count for label, count in sorted(counts.items()) if count < cv_folds}
    if scarce:
        shown = [f"{label!r}: {count}" for label, count in scarce.items()][:_SCARCE_SHOWN]
        more = len(scarce) - len(shown)
        listed = ", ".join(shown) + (f" and {more} more" if more else "")
        raise DatasetError(f"{source}: {cv_folds}-fold cross-validation needs at least "
                           f"{cv_folds} training rows of each class, but has only {listed}; "
                           "add rows of those classes, or, if the target column holds "
                           f"measurements rather than classes ({len(counts)} distinct values "
                           f"in {len(y_train)} training rows), name the class column "
                           "with --target")
