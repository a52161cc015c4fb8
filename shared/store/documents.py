"""The plain documents every trial store keeps, and their conversion to the trial model.

The SQLite and the MongoDB store keep the same documents, so a trial reads the same
whichever store holds it, and someone who knows hyperopt's MongoDB jobs can read ours.
Values are converted here once, at the store boundary (``*_to_document`` on the way in,
``*_from_document`` on the way out); a malformed document raises ``StoreError`` naming the
trial, experiment or worker and the field.

Datetimes are timezone-aware UTC ``datetime`` objects in every document. MongoDB keeps
them natively; the SQLite store turns them into ISO-8601 strings and back. A naive
datetime read from a document is taken as UTC, which is what pymongo returns unless the
client was made with ``tz_aware=True``.

Trial document (hyperopt's job layout, plus ``attempts``, ``config_key``, ``reused_from``):

| field | type | meaning |
| --- | --- | --- |
| ``tid`` | int | trial id, unique within its experiment, handed out by ``next_tids`` |
| ``exp_key`` | string | key of the experiment the trial belongs to |
| ``state`` | int | hyperopt's job states: 0 NEW, 1 RUNNING, 2 DONE, 3 ERROR |
| ``owner`` | string or null | worker holding the lease; once finished, the last holder |
| ``book_time`` | datetime or null | when the current (or last) lease was taken |
| ``refresh_time`` | datetime or null | the lease's last heartbeat |
| ``end_time`` | datetime or null | when the result was recorded |
| ``spec`` | object | the plain parameters a worker evaluates |
| ``result`` | object | ``{"status": "new"}`` until a result is recorded, see below |
| ``misc`` | object | hyperopt's: ``tid``, ``idxs``, ``vals``, ``cmd``: null, ``workdir``: null |
| ``version`` | int | goes up by one on every state change; with ``owner``, the lease |
| ``attempts`` | int | reservations used; a hand-back gives one back |
| ``config_key`` | string | hash of ``spec``: equal parameters have equal keys |
| ``reused_from`` | int or null | tid of the trial whose result this one reuses |
| ``unreadable_doc`` | any, or absent | a damaged document, kept as found (see below) |

A worker that reserves a trial whose document no reader accepts (edited by hand, written
by another program) stores in its place a well-formed ERROR trial, without parameters,
whose ``result.error`` names the damage; what it found is kept in ``unreadable_doc`` (the
document, or for SQLite the text) for someone to inspect, and is never read.

A recorded ``result`` has ``status`` ("ok" or "fail"), ``loss`` (a number, null when
failed), ``error`` (why it failed, null when ok), ``duration_s`` (seconds spent
evaluating), and the objective's details as further keys beside them, as hyperopt keeps
extra result keys. Details may therefore not use those four names.

Experiment document:

| field | type | meaning |
| --- | --- | --- |
| ``exp_key`` | string | the experiment's unique key |
| ``objective`` | object | what it evaluates: see the next paragraph |
| ``algo`` | string | suggestion algorithm, e.g. "tpe" |
| ``seed`` | int | seed of the suggestion algorithm |
| ``created_at`` | datetime or null | when the experiment was first stored |
| ``lease_timeout_s`` | number | heartbeat age at which a running trial is requeued; 60 if absent |

``objective`` holds ``name``, ``version`` and ``space_version`` (strings, as the worker's
installed objective names them), ``fingerprint`` (hash of the dataset's bytes) and
``settings`` (the objective's plain options: data folder, OCR engine, language).

Worker document:

| field | type | meaning |
| --- | --- | --- |
| ``worker_id`` | string | the worker's unique id |
| ``host`` | string | machine the worker runs on |
| ``pid`` | int | its process id there |
| ``last_seen`` | datetime | its latest announcement |
| ``exp_key`` | string or null | the experiment it serves; null for every experiment |
| ``objectives`` | list of strings | names of the objectives installed with it |
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeAlias

from shared.errors import StoreError
from shared.trials import (
    LEASE_TIMEOUT_S,
    Experiment,
    NewTrial,
    ObjectiveSpec,
    ResultStatus,
    Trial,
    TrialResult,
    TrialState,
    WorkerInfo,
)

Document: TypeAlias = dict[str, Any]

RESULT_NEW = "new"
# Keys of a result document that are not the objective's details.
RESULT_KEYS = frozenset({"status", "loss", "error", "duration_s"})
# Keys of ``misc`` that hyperopt fills itself and that are not part of ``hyperopt_misc``.
_MISC_OWN_KEYS = ("tid", "cmd", "workdir")


# -- trials ---------------------------------------------------------------------------


def trial_to_document(trial: Trial) -> Document:
    """The stored form of a trial."""
    where = f"trial {trial.tid} of experiment {trial.exp_key!r}"
    return {
        "tid": trial.tid,
        "exp_key": trial.exp_key,
        "state": int(trial.state),
        "owner": trial.owner,
        "book_time": _utc_or_none(trial.book_time, where, "book_time"),
        "refresh_time": _utc_or_none(trial.refresh_time, where, "refresh_time"),
        "end_time": _utc_or_none(trial.end_time, where, "end_time"),
        "spec": dict(trial.params),
        "result": result_to_document(trial.result, where=where),
        "misc": {"tid": trial.tid, "cmd": None, "workdir": None, **trial.hyperopt_misc},
        "version": trial.version,
        "attempts": trial.attempts,
        "config_key": trial.config_key,
        "reused_from": trial.reused_from,
    }


def new_trial_document(exp_key: str, trial: NewTrial) -> Document:
    """The document of a freshly queued trial: NEW, version 0, no attempts yet."""
    return trial_to_document(Trial(exp_key, trial.tid, TrialState.NEW, trial.params,
                                   trial.hyperopt_misc))


def reused_trial_document(exp_key: str, trial: NewTrial, source: Trial, now: datetime
                          ) -> Document:
    """The document of ``trial`` stored DONE with ``source``'s result, recorded at ``now``.

    Only a DONE trial with an OK result can be reused: anything else has no loss to give.
    """
    if source.loss is None:
        raise StoreError(
            f"trial {trial.tid} of experiment {exp_key!r} cannot reuse trial {source.tid} "
            f"of experiment {source.exp_key!r}: it is {source.state.name} without a loss, and "
            "only a DONE trial with an OK result can be reused; queue the trial instead")
    return trial_to_document(Trial(
        exp_key, trial.tid, TrialState.DONE, trial.params, trial.hyperopt_misc,
        end_time=now, result=source.result, reused_from=source.tid))


def unreadable_trial_document(exp_key: str, tid: int, *, found: Any, reason: str,
                              owner: str, version: int, attempts: int, now: datetime
                              ) -> Document:
    """A readable ERROR trial to store in place of ``found``, a document no reader accepts.

    ``reason`` names the damage; ``found`` is kept as it was in ``unreadable_doc``.
    """
    error = f"{reason}; the document as it was is kept in its field unreadable_doc"
    doc = trial_to_document(Trial(exp_key, tid, TrialState.ERROR, params={}, hyperopt_misc={},
                                  version=version, attempts=attempts, owner=owner,
                                  end_time=now, result=TrialResult.failed(error)))
    doc["unreadable_doc"] = found
    return doc


def trial_from_document(doc: Mapping[str, Any]) -> Trial:
    """The trial a stored document describes; unknown keys (MongoDB's ``_id``) are ignored."""
    read = _Reader(doc, f"trial {doc.get('tid')!r} of experiment {doc.get('exp_key')!r}")
    misc = read.mapping("misc")
    try:
        state = TrialState(read.integer("state"))
    except ValueError as err:
        raise read.malformed("state", "one of 0, 1, 2, 3") from err
    return Trial(
        exp_key=read.string("exp_key"),
        tid=read.integer("tid"),
        state=state,
        params=read.mapping("spec"),
        hyperopt_misc={k: v for k, v in misc.items() if k not in _MISC_OWN_KEYS},
        version=read.integer("version"),
        attempts=read.integer("attempts"),
        owner=read.optional_string("owner"),
        book_time=read.optional_timestamp("book_time"),
        refresh_time=read.optional_timestamp("refresh_time"),
        end_time=read.optional_timestamp("end_time"),
        result=result_from_document(read.mapping("result"), where=read.where),
        reused_from=read.optional_integer("reused_from"),
    )


# -- results --------------------------------------------------------------------------


def result_to_document(result: TrialResult | None, *, where: str = "a trial") -> Document:
    """A result as stored in ``result``; ``{"status": "new"}`` while there is none.

    ``where`` names the trial in the error raised when details use a reserved key.
    """
    if result is None:
        return {"status": RESULT_NEW}
    clashes = sorted(RESULT_KEYS & set(result.details))
    if clashes:
        raise StoreError(
            f"the result of {where} has details named {', '.join(clashes)}, which the "
            f"result document uses itself; rename them in the objective's details")
    return {
        "status": result.status.value,
        "loss": result.loss,
        "error": result.error,
        "duration_s": result.duration_s,
        **result.details,
    }


def result_from_document(doc: Mapping[str, Any], *, where: str = "a trial"
                         ) -> TrialResult | None:
    """The result a ``result`` document records; None while the trial has none."""
    read = _Reader(doc, where, "result.")
    status = read.string("status")
    if status == RESULT_NEW:
        return None
    try:
        return TrialResult(
            status=ResultStatus(status),
            loss=read.optional_number("loss"),
            error=read.optional_string("error"),
            duration_s=read.number("duration_s"),
            details={k: v for k, v in doc.items() if k not in RESULT_KEYS},
        )
    except ValueError as err:
        raise StoreError(f"{where}: field 'result' is malformed ({err}); fix or delete "
                         "the stored document") from err


# -- experiments ----------------------------------------------------------------------


def experiment_to_document(experiment: Experiment) -> Document:
    spec = experiment.objective
    return {
        "exp_key": experiment.exp_key,
        "objective": {
            "name": spec.name,
            "version": spec.version,
            "space_version": spec.space_version,
            "fingerprint": spec.fingerprint,
            "settings": dict(spec.settings),
        },
        "algo": experiment.algo,
        "seed": experiment.seed,
        "created_at": _utc_or_none(experiment.created_at,
                                   f"experiment {experiment.exp_key!r}", "created_at"),
        "lease_timeout_s": experiment.lease_timeout_s,
    }


def experiment_from_document(doc: Mapping[str, Any]) -> Experiment:
    read = _Reader(doc, f"experiment {doc.get('exp_key')!r}")
    objective = _Reader(read.mapping("objective"), read.where, "objective.")
    return Experiment(
        exp_key=read.string("exp_key"),
        objective=ObjectiveSpec(
            name=objective.string("name"),
            version=objective.string("version"),
            space_version=objective.string("space_version"),
            fingerprint=objective.string("fingerprint"),
            settings=objective.mapping("settings"),
        ),
        algo=read.string("algo"),
        seed=read.integer("seed"),
        created_at=read.optional_timestamp("created_at"),
        lease_timeout_s=_lease_timeout(read),
    )


def _lease_timeout(read: _Reader) -> float:
    # Experiments stored before the lease moved onto the experiment have no such field;
    # every party used the default lease then.
    if not read.has("lease_timeout_s"):
        return LEASE_TIMEOUT_S
    value = read.number("lease_timeout_s")
    if not math.isfinite(value) or value <= 0:
        raise read.malformed("lease_timeout_s", "a number of seconds > 0")
    return value


# -- workers --------------------------------------------------------------------------


def worker_to_document(info: WorkerInfo) -> Document:
    return {
        "worker_id": info.worker_id,
        "host": info.host,
        "pid": info.pid,
        "last_seen": _utc(info.last_seen, f"worker {info.worker_id!r}", "last_seen"),
        "exp_key": info.exp_key,
        "objectives": list(info.objectives),
    }


def worker_from_document(doc: Mapping[str, Any]) -> WorkerInfo:
    read = _Reader(doc, f"worker {doc.get('worker_id')!r}")
    objectives = read.value("objectives")
    if not isinstance(objectives, list) or not all(isinstance(o, str) for o in objectives):
        raise read.malformed("objectives", "a list of strings")
    return WorkerInfo(
        worker_id=read.string("worker_id"),
        host=read.string("host"),
        pid=read.integer("pid"),
        last_seen=read.timestamp("last_seen"),
        exp_key=read.optional_string("exp_key"),
        objectives=tuple(objectives),
    )


# -- helpers --------------------------------------------------------------------------


def _utc(value: datetime, where: str, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise StoreError(f"{where}: {field} is {value.isoformat()} without a time zone; "
                         "stores keep UTC times only, so pass an aware datetime")
    return value.astimezone(UTC)


def _utc_or_none(value: datetime | None, where: str, field: str) -> datetime | None:
    return None if value is None else _utc(value, where, field)


class _Reader:
    """Typed access to one document's fields, raising StoreError that names what is wrong."""

    def __init__(self, doc: Mapping[str, Any], where: str, prefix: str = "") -> None:
        self._doc = doc
        self.where = where
        self._prefix = prefix  # the path of a nested object, e.g. "result."

    def malformed(self, field: str, expected: str) -> StoreError:
        """The error for a present field of the wrong type or value."""
        return StoreError(f"{self.where}: field '{self._prefix}{field}' is "
                          f"{self._doc[field]!r}, expected {expected}; the stored document "
                          "is malformed, fix or delete it")

    def has(self, field: str) -> bool:
        return field in self._doc

    def value(self, field: str) -> Any:
        if field not in self._doc:
            raise StoreError(f"{self.where}: field '{self._prefix}{field}' is missing; "
                             "the stored document is malformed, fix or delete it")
        return self._doc[field]

    def string(self, field: str) -> str:
        value = self.value(field)
        if not isinstance(value, str):
            raise self.malformed(field, "a string")
        return value

    def optional_string(self, field: str) -> str | None:
        return None if self.value(field) is None else self.string(field)

    def integer(self, field: str) -> int:
        value = self.value(field)
        # bool is an int to Python, but a stored true is no trial id or count.
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.malformed(field, "an integer")
        return value

    def optional_integer(self, field: str) -> int | None:
        return None if self.value(field) is None else self.integer(field)

    def number(self, field: str) -> float:
        value = self.value(field)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.malformed(field, "a number")
        return float(value)

    def optional_number(self, field: str) -> float | None:
        return None if self.value(field) is None else self.number(field)

    def mapping(self, field: str) -> dict[str, Any]:
        value = self.value(field)
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise self.malformed(field, "an object with string keys")
        return dict(value)

    def timestamp(self, field: str) -> datetime:
        value = self.value(field)
        if not isinstance(value, datetime):
            raise self.malformed(field, "a datetime")
        # pymongo hands back naive datetimes that mean UTC unless asked for aware ones.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def optional_timestamp(self, field: str) -> datetime | None:
        return None if self.value(field) is None else self.timestamp(field)
