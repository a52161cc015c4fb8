"""An experiment's trials as rows, written as a table, CSV or JSON lines.

Parameters are plain values. In a table and in CSV each parameter is a column named by
its path (``binarise.method``); a step that a trial leaves out (``"binarise": null``)
leaves its columns empty (a table leaves out the columns empty in every row). JSON lines
keep the parameters nested, as the store holds them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tabulate import tabulate

from shared.jsontypes import JsonObject, JsonValue
from shared.trials import Trial, TrialState

# Errors are often a paragraph long (a dataset problem, a traceback's last line); a table
# shows their start, CSV and JSON lines the whole text.
TABLE_ERROR_CHARS = 60
_FIXED = ("tid", "state", "loss")
_TRAILING = ("worker", "start", "duration_s", "attempts", "error", "reused_from")


@dataclass(frozen=True)
class HistoryRow:
    tid: int
    state: TrialState
    loss: float | None
    params: JsonObject
    worker: str | None
    start: datetime | None
    end: datetime | None
    duration_s: float | None
    attempts: int
    error: str | None
    reused_from: int | None

    @classmethod
    def of(cls, trial: Trial) -> HistoryRow:
        result = trial.result
        return cls(tid=trial.tid, state=trial.state, loss=trial.loss, params=trial.params,
                   worker=trial.owner, start=trial.book_time, end=trial.end_time,
                   duration_s=None if result is None else result.duration_s,
                   attempts=trial.attempts, error=None if result is None else result.error,
                   reused_from=trial.reused_from)


def history_rows(trials: list[Trial], *, state: TrialState | None = None,
                 best: int | None = None) -> list[HistoryRow]:
    """Rows in tid order, of one state only if given; ``best``: the N lowest losses, best
    first (trials without a loss are left out)."""
    chosen = [trial for trial in trials if state is None or trial.state is state]
    if best is not None:
        scored = [trial for trial in chosen if trial.loss is not None]
        chosen = sorted(scored, key=lambda trial: (trial.loss, trial.tid))[:best]
    return [HistoryRow.of(trial) for trial in chosen]


def flatten(params: Mapping[str, JsonValue], prefix: str = "") -> dict[str, JsonValue]:
    """Nested parameters as {"section.name": value}; a null section stays one null entry."""
    flat: dict[str, JsonValue] = {}
    for key, value in params.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def param_columns(rows: list[HistoryRow]) -> list[str]:
    """Every parameter path of the rows, sorted; a path that is a section elsewhere (null
    here, with children in another trial) is not a column of its own."""
    paths = {path for row in rows for path in flatten(row.params)}
    return sorted(path for path in paths
                  if not any(other.startswith(f"{path}.") for other in paths))


def as_table(rows: list[HistoryRow]) -> str:
    """Leaves out the parameter columns empty in every row, to fit a terminal better."""
    flat = [flatten(row.params) for row in rows]
    columns = [c for c in param_columns(rows) if any(f.get(c) is not None for f in flat)]
    body = [_cells(row, columns, table=True) for row in rows]
    # Per column: the loss to 4 decimals, durations to hundredths of a second.
    floats = ["g", "g", ".4f", *["g"] * len(columns), "g", "g", ".2f", "g", "g", "g"]
    # A parameter's section above its name halves the width of the widest headers.
    headers = [*_FIXED, *(c.replace(".", "\n", 1) for c in columns), *_TRAILING]
    return tabulate(body, headers=headers, floatfmt=floats, missingval="")


def as_csv(rows: list[HistoryRow]) -> str:
    columns = param_columns(rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*_FIXED, *columns, *_TRAILING])
    for row in rows:
        writer.writerow(["" if cell is None else cell
                         for cell in _cells(row, columns, table=False)])
    return out.getvalue()


def as_jsonl(rows: list[HistoryRow]) -> str:
    return "".join(json.dumps(_document(row)) + "\n" for row in rows)


def _cells(row: HistoryRow, columns: list[str], *, table: bool) -> list[Any]:
    flat = flatten(row.params)
    error = row.error
    if table and error and len(error) > TABLE_ERROR_CHARS:
        error = error[:TABLE_ERROR_CHARS - 1] + "…"
    start = _time(row.start)
    if table and start:
        start = start.replace("T", " ").removesuffix("+00:00")
    return [row.tid, row.state.name.lower(), row.loss, *(flat.get(c) for c in columns),
            row.worker, start, row.duration_s, row.attempts, error, row.reused_from]


def _document(row: HistoryRow) -> dict[str, Any]:
    return {"tid": row.tid, "state": row.state.name.lower(), "loss": row.loss,
            "params": row.params, "worker": row.worker, "start": _time(row.start),
            "end": _time(row.end), "duration_s": row.duration_s, "attempts": row.attempts,
            "error": row.error, "reused_from": row.reused_from}


def _time(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC, to the second: the stores keep UTC."""
    return None if moment is None else moment.isoformat(timespec="seconds")
