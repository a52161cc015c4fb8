"""Trials, their states and results, and the experiments they belong to.

These frozen values are what crosses process boundaries. Stores convert documents to them
once, at the store boundary; nothing above a store handles raw documents.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime

from shared.errors import IllegalTransitionError
from shared.jsontypes import JsonObject


class TrialState(enum.IntEnum):
    """Where a trial is in its life. The numbers are hyperopt's ``JOB_STATE_*`` values.

    Keeping hyperopt's numbers lets people who know its job documents query ours
    (``{"state": 2}`` is a finished trial in both).
    """

    NEW = 0
    RUNNING = 1
    DONE = 2
    ERROR = 3

    @property
    def is_finished(self) -> bool:
        return self in (TrialState.DONE, TrialState.ERROR)

    @property
    def is_pending(self) -> bool:
        """Queued or being evaluated: counted against ``max_evals`` but without a loss yet."""
        return self in (TrialState.NEW, TrialState.RUNNING)

    def can_become(self, other: TrialState) -> bool:
        return other in _LEGAL_TRANSITIONS[self]

    def check_transition(self, other: TrialState, tid: int) -> None:
        """Raise IllegalTransitionError unless a trial may move from this state to ``other``."""
        if not self.can_become(other):
            raise IllegalTransitionError(
                f"trial {tid} cannot go from {self.name} to {other.name}; "
                f"from {self.name} it may only become "
                f"{', '.join(s.name for s in sorted(_LEGAL_TRANSITIONS[self])) or 'nothing'}"
            )


# NEW -> RUNNING: a worker reserves it.  RUNNING -> NEW: handed back, or its lease expired.
# RUNNING -> DONE | ERROR: its result is recorded, or its lease expired too often.
# DONE and ERROR are final: a result is recorded exactly once.
_LEGAL_TRANSITIONS: dict[TrialState, frozenset[TrialState]] = {
    TrialState.NEW: frozenset({TrialState.RUNNING}),
    TrialState.RUNNING: frozenset({TrialState.NEW, TrialState.DONE, TrialState.ERROR}),
    TrialState.DONE: frozenset(),
    TrialState.ERROR: frozenset(),
}


class ResultStatus(enum.Enum):
    """hyperopt's result statuses, as stored in ``result.status``."""

    OK = "ok"
    FAIL = "fail"


@dataclass(frozen=True)
class TrialResult:
    """What evaluating a trial produced.

    A result is either ``OK`` with a finite loss, or ``FAIL`` with a reason and no loss:
    construction enforces it, so NaN or infinity can never become a loss.
    ``details`` is the objective's own record (per-image scores for OCR), as plain JSON.
    """

    status: ResultStatus
    loss: float | None = None
    error: str | None = None
    duration_s: float = 0.0
    details: JsonObject = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status is ResultStatus.OK:
            if self.loss is None or not math.isfinite(self.loss):
                raise ValueError(f"an OK result needs a finite loss, got {self.loss!r}")
        elif self.loss is not None or not self.error:
            raise ValueError("a FAIL result has no loss and must say why it failed")

    @classmethod
    def ok(cls, loss: float, *, duration_s: float = 0.0, details: JsonObject | None = None
           ) -> TrialResult:
        return cls(ResultStatus.OK, loss=loss, duration_s=duration_s, details=details or {})

    @classmethod
    def failed(cls, reason: str, *, duration_s: float = 0.0, details: JsonObject | None = None
               ) -> TrialResult:
        return cls(ResultStatus.FAIL, error=reason, duration_s=duration_s,
                   details=details or {})

    @classmethod
    def from_loss(cls, loss: object, *, duration_s: float = 0.0,
                  details: JsonObject | None = None) -> TrialResult:
        """An OK result if ``loss`` is a finite real number, else a FAIL saying what it was."""
        if isinstance(loss, bool) or not isinstance(loss, int | float):
            return cls.failed(f"objective returned a loss of type {type(loss).__name__}, "
                              "not a number", duration_s=duration_s, details=details)
        if not math.isfinite(loss):
            return cls.failed(f"objective returned a non-finite loss ({loss})",
                              duration_s=duration_s, details=details)
        return cls.ok(float(loss), duration_s=duration_s, details=details)

    @property
    def is_ok(self) -> bool:
        return self.status is ResultStatus.OK


@dataclass(frozen=True)
class NewTrial:
    """A suggestion the coordinator queues: plain parameters plus hyperopt's own encoding.

    ``hyperopt_misc`` holds ``idxs`` and ``vals`` exactly as hyperopt's suggest produced
    them, so the coordinator can rebuild hyperopt's history after a restart. Workers never
    read it: they read ``params``.
    """

    tid: int
    params: JsonObject
    hyperopt_misc: JsonObject

    @property
    def config_key(self) -> str:
        return config_key(self.params)


@dataclass(frozen=True)
class Trial:
    """One trial as stored. ``version`` changes on every state change (not on heartbeats).

    A worker's lease on a running trial is the pair (owner, version) it got when it
    reserved the trial; every write a worker makes is conditional on that pair.
    """

    exp_key: str
    tid: int
    state: TrialState
    params: JsonObject
    hyperopt_misc: JsonObject
    version: int = 0
    attempts: int = 0
    owner: str | None = None
    book_time: datetime | None = None
    refresh_time: datetime | None = None
    end_time: datetime | None = None
    result: TrialResult | None = None
    reused_from: int | None = None

    @property
    def config_key(self) -> str:
        return config_key(self.params)

    @property
    def loss(self) -> float | None:
        """The loss of a finished, successful trial; None otherwise."""
        if self.state is TrialState.DONE and self.result is not None and self.result.is_ok:
            return self.result.loss
        return None


def config_key(params: JsonObject) -> str:
    """A stable hash of plain parameters: equal configurations get equal keys."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ObjectiveSpec:
    """What an experiment evaluates, in the words workers use to build the objective.

    ``name`` picks the objective installed with the worker (never code from the database);
    ``version`` and ``space_version`` must match the worker's own; ``fingerprint`` is the
    hash of the dataset's bytes; ``settings`` are the objective's plain options
    (data folder, OCR engine, language).
    """

    name: str
    version: str
    space_version: str
    fingerprint: str
    settings: JsonObject = field(default_factory=dict)

    def differences(self, other: ObjectiveSpec) -> list[str]:
        """Human-readable differences that make two specs evaluate different things."""
        diffs = []
        for label in ("name", "version", "space_version"):
            mine, theirs = getattr(self, label), getattr(other, label)
            if mine != theirs:
                diffs.append(f"{label}: {mine!r} != {theirs!r}")
        if self.fingerprint != other.fingerprint:
            diffs.append(f"fingerprint: the data's files differ ({self.fingerprint[:12]}... "
                         f"!= {other.fingerprint[:12]}...)")
        for key in sorted(set(self.settings) | set(other.settings)):
            if key in IDENTITY_FREE_SETTINGS:
                continue
            mine_s, theirs_s = self.settings.get(key), other.settings.get(key)
            if mine_s != theirs_s:
                diffs.append(f"settings.{key}: {mine_s!r} != {theirs_s!r}")
        return diffs


# Settings that may differ between runs of one experiment without changing what a trial
# means: the same dataset can be mounted at another path on another machine.
IDENTITY_FREE_SETTINGS = frozenset({"data_dir"})
# A running trial whose heartbeat is older than this is requeued, unless its experiment was
# created with another lease (``coordinator run --lease-timeout``). Experiments stored
# before they recorded their lease had this one.
LEASE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Experiment:
    """A named search: its objective, and how the coordinator suggests trials for it.

    ``lease_timeout_s`` is the one lease every party uses: the coordinator requeues a
    trial whose heartbeat is older, and workers beat several times within it.
    """

    exp_key: str
    objective: ObjectiveSpec
    algo: str = "tpe"
    seed: int = 0
    created_at: datetime | None = None
    lease_timeout_s: float = LEASE_TIMEOUT_S

    def __post_init__(self) -> None:
        if not math.isfinite(self.lease_timeout_s) or self.lease_timeout_s <= 0:
            raise ValueError(f"experiment {self.exp_key!r}: lease_timeout_s="
                             f"{self.lease_timeout_s} must be a number of seconds > 0")


@dataclass(frozen=True)
class WorkerInfo:
    """A worker's announcement of itself, refreshed while it lives."""

    worker_id: str
    host: str
    pid: int
    last_seen: datetime
    exp_key: str | None = None
    objectives: tuple[str, ...] = ()


@dataclass(frozen=True)
class RequeueReport:
    """What one pass of the stale-lease reaper did."""

    requeued: tuple[int, ...] = ()
    failed: tuple[int, ...] = ()
