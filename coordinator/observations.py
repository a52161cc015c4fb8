"""An experiment's trials as numpy columns, in tid order, for the fast TPE suggester.

hyperopt's TPE rebuilds these arrays from every job document on each call (a Python loop
over all trials and labels); here they grow by one row per trial and a loss is updated in
place when a trial finishes, so a suggestion reads them as they are.

A trial's row holds its loss (infinity while it is queued or running, and for a failed
trial, as hyperopt counts them). Each hyperopt label has its own column of the rows where
the label was active and the value it took there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_INITIAL_CAPACITY = 256


class _Growable:
    """A 1-D numpy array with amortised O(1) append; ``view`` shows the filled part."""

    def __init__(self, dtype: type[np.generic]) -> None:
        self._data = np.empty(_INITIAL_CAPACITY, dtype=dtype)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, value: float) -> None:
        if self._size == len(self._data):
            self._data = np.concatenate([self._data, np.empty_like(self._data)])
        self._data[self._size] = value
        self._size += 1

    def view(self) -> npt.NDArray[np.generic]:
        return self._data[:self._size]

    def replace(self, values: npt.NDArray[np.generic]) -> None:
        """Overwrite the filled part with ``values`` (same length), e.g. reordered."""
        self._data[:self._size] = values


@dataclass
class _LabelColumn:
    rows: _Growable  # row index (into the trial columns) of each observation
    values: _Growable


class Observations:
    """Losses by trial and values by label, appended as trials are recorded."""

    def __init__(self) -> None:
        self._tids = _Growable(np.int64)
        self._losses = _Growable(np.float64)
        self._row_of: dict[int, int] = {}
        self._labels: dict[str, _LabelColumn] = {}
        self._in_tid_order = True

    def __len__(self) -> int:
        return len(self._tids)

    def __contains__(self, tid: int) -> bool:
        return tid in self._row_of

    def add(self, tid: int, loss: float | None, values: Mapping[str, float]) -> None:
        """Append trial ``tid`` with the values of its active labels; None loss is pending."""
        if tid in self._row_of:
            raise ValueError(f"trial {tid} is already observed; use set_loss to update it")
        row = len(self._tids)
        if row and tid < int(self._tids.view()[-1]):
            self._in_tid_order = False
        self._tids.append(tid)
        self._losses.append(_as_loss(loss))
        self._row_of[tid] = row
        for label, value in values.items():
            column = self._labels.get(label)
            if column is None:
                column = _LabelColumn(_Growable(np.int64), _Growable(np.float64))
                self._labels[label] = column
            column.rows.append(row)
            column.values.append(value)

    def set_loss(self, tid: int, loss: float | None) -> None:
        self._losses.view()[self._row_of[tid]] = _as_loss(loss)

    def max_tid(self) -> int:
        self._sort()
        return int(self._tids.view()[-1])

    def losses(self) -> FloatArray:
        """Every trial's loss, in tid order (a view: do not modify)."""
        self._sort()
        return self._losses.view().astype(np.float64, copy=False)

    def label(self, label: str) -> tuple[IntArray, FloatArray]:
        """Rows (indices into ``losses()``) where ``label`` is active, and its values there."""
        self._sort()
        column = self._labels.get(label)
        if column is None:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        return (column.rows.view().astype(np.int64, copy=False),
                column.values.view().astype(np.float64, copy=False))

    def _sort(self) -> None:
        # hyperopt orders trials by tid (its linear forgetting weighs later trials more);
        # trials recorded out of that order, rare, are put back in it before any read.
        if self._in_tid_order:
            return
        order = np.argsort(self._tids.view(), kind="stable")
        new_row = np.empty_like(order)
        new_row[order] = np.arange(len(order))
        self._tids.replace(self._tids.view()[order])
        self._losses.replace(self._losses.view()[order])
        self._row_of = {int(tid): row for row, tid in enumerate(self._tids.view())}
        for column in self._labels.values():
            rows = new_row[column.rows.view()]
            by_row = np.argsort(rows, kind="stable")
            column.rows.replace(rows[by_row])
            column.values.replace(column.values.view()[by_row])
        self._in_tid_order = True


def _as_loss(loss: float | None) -> float:
    return math.inf if loss is None else float(loss)
