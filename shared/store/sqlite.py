"""The trial store in one SQLite file: the local history a coordinator's local run resumes from.

Several processes on one machine may share the file. It is kept in WAL mode, so readers do
not wait for a writer, and every read-modify-write (allocating ids, reserving, recording)
runs in a ``BEGIN IMMEDIATE`` transaction: that takes SQLite's single write lock before the
first read, so two workers can never both see the same NEW trial as free. A process that
finds the lock taken waits up to ``BUSY_TIMEOUT_S``, then gets ``StoreUnavailableError``.
SQLite's locks are not reliable on network file systems: share trials between machines
through MongoDB instead.

Each row keeps its document (``shared.store.documents``) as JSON text, with datetimes as
ISO-8601 UTC strings, beside copies of the fields that queries filter and sort on.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.errors import (
    LeaseLostError,
    StoreError,
    StoreUnavailableError,
    UnknownExperimentError,
)
from shared.store.base import TrialStore, writes
from shared.store.clock import Clock, utc_now
from shared.store.documents import (
    experiment_from_document,
    experiment_to_document,
    new_trial_document,
    reused_trial_document,
    trial_from_document,
    trial_to_document,
    unreadable_trial_document,
    worker_from_document,
    worker_to_document,
)
from shared.store.experiment_match import require_same_objective
from shared.store.leases import check_leased, expired_reason, held_by, lease_lost_message
from shared.store.same_trial import unstored
from shared.store.sqlite_rows import (
    INSERT_TRIAL,
    UPDATE_TRIAL,
    attempts_before,
    dumps,
    iso,
    loads,
    stored_documents,
    trial_of,
    trial_row,
)
from shared.store.sqlite_schema import BUSY_TIMEOUT_S, connect, is_busy
from shared.trials import (
    Experiment,
    NewTrial,
    RequeueReport,
    Trial,
    TrialResult,
    TrialState,
    WorkerInfo,
)

logger = logging.getLogger(__name__)

class SqliteTrialStore(TrialStore):
    """A ``TrialStore`` in the SQLite file at ``path``, created with its folders if missing.

    With ``read_only`` the file must exist already (else StoreError naming it and the
    fix), nothing is created and every writing method raises StoreError (see
    ``shared.store.base``); the file is also opened read-only, so nothing could change it.

    One object may be shared between threads: its calls take turns on one connection.
    ``clock`` gives the time stamped on leases and results; tests pass a fake one.
    ``busy_timeout_s`` is how long a write waits for another process's write lock.
    """

    def __init__(self, path: Path, *, clock: Clock = utc_now,
                 busy_timeout_s: float = BUSY_TIMEOUT_S, read_only: bool = False) -> None:
        self._path = Path(path)
        self._clock = clock
        self._busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        self._db = connect(self._path, busy_timeout_s, read_only=read_only)
        self.read_only = read_only

    def __repr__(self) -> str:
        return f"SqliteTrialStore({str(self._path)!r})"

    # -- experiments ------------------------------------------------------------------

    @writes
    def ensure_experiment(self, experiment: Experiment) -> Experiment:
        with self._transaction() as db:
            stored = self._find_experiment(db, experiment.exp_key)
            if stored is None:
                doc = experiment_to_document(
                    replace(experiment, created_at=experiment.created_at or self.now()))
                db.execute("INSERT INTO experiments (exp_key, created_at, doc) VALUES (?, ?, ?)",
                           (experiment.exp_key, iso(doc["created_at"]), dumps(doc)))
                logger.debug("Created experiment %s in %s.", experiment.exp_key, self._path)
                return experiment_from_document(doc)
        return require_same_objective(stored, experiment, where=str(self._path))

    def get_experiment(self, exp_key: str) -> Experiment:
        with self._transaction("BEGIN") as db:
            return self._require_experiment(db, exp_key)

    def list_experiments(self) -> list[Experiment]:
        with self._transaction("BEGIN") as db:
            rows = db.execute("SELECT doc FROM experiments ORDER BY created_at, rowid")
            return [experiment_from_document(loads(doc)) for (doc,) in rows]

    # -- the coordinator's side -------------------------------------------------------

    @writes
    def next_tids(self, exp_key: str, count: int) -> list[int]:
        if count < 0:
            raise ValueError(f"next_tids needs a count of 0 or more, got {count}")
        with self._transaction() as db:
            self._require_experiment(db, exp_key)
            (end,) = db.execute(
                "UPDATE experiments SET next_tid = next_tid + ? WHERE exp_key = ? "
                "RETURNING next_tid", (count, exp_key)).fetchone()
        return list(range(end - count, end))

    @writes
    def enqueue(self, exp_key: str, trials: Sequence[NewTrial]) -> None:
        with self._transaction() as db:
            self._require_experiment(db, exp_key)
            docs = [new_trial_document(exp_key, trial) for trial in trials]
            fresh = unstored(docs, stored_documents(db, exp_key, [t.tid for t in trials]),
                             where=str(self._path))
            for doc in fresh:
                db.execute(INSERT_TRIAL, trial_row(doc))
        logger.debug("Queued %s trials of experiment %s.", len(fresh), exp_key)

    @writes
    def insert_reused(self, exp_key: str, trial: NewTrial, source: Trial) -> Trial:
        with self._transaction() as db:
            self._require_experiment(db, exp_key)
            doc = reused_trial_document(exp_key, trial, source, self.now())
            stored = stored_documents(db, exp_key, [trial.tid])
            if unstored([doc], stored, where=str(self._path)):
                db.execute(INSERT_TRIAL, trial_row(doc))
            else:
                doc = stored[trial.tid]
        return trial_from_document(doc)

    def trials(
        self,
        exp_key: str,
        *,
        states: Collection[TrialState] | None = None,
        tids: Collection[int] | None = None,
    ) -> list[Trial]:
        where: list[str] = ["exp_key = ?"]
        args: list[Any] = [exp_key]
        for column, values in (("state", states), ("tid", tids)):
            if values is not None:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                args.extend(int(v) for v in values)
        with self._transaction("BEGIN") as db:
            self._require_experiment(db, exp_key)
            rows = db.execute(
                f"SELECT exp_key, tid, doc FROM trials WHERE {' AND '.join(where)} "
                "ORDER BY tid", args)
            return [trial_of(*row) for row in rows]

    def state_counts(self, exp_key: str) -> dict[TrialState, int]:
        counts = dict.fromkeys(TrialState, 0)
        with self._transaction("BEGIN") as db:
            self._require_experiment(db, exp_key)
            rows = db.execute(
                "SELECT state, COUNT(*) FROM trials WHERE exp_key = ? GROUP BY state",
                (exp_key,))
            counts.update((TrialState(state), count) for state, count in rows)
        return counts

    @writes
    def requeue_stale(
        self, exp_key: str | None, *, older_than: datetime, max_attempts: int
    ) -> RequeueReport:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be 1 or more, got {max_attempts}")
        sql = "SELECT exp_key, tid, doc FROM trials WHERE state = ? AND refresh_time < ?"
        args: list[Any] = [int(TrialState.RUNNING), iso(older_than)]
        if exp_key is not None:
            sql, args = sql + " AND exp_key = ?", [*args, exp_key]
        requeued, failed = [], []
        with self._transaction() as db:
            if exp_key is not None:
                self._require_experiment(db, exp_key)
            for row in db.execute(sql + " ORDER BY exp_key, tid", args).fetchall():
                trial = trial_of(*row)
                if trial.attempts >= max_attempts:
                    self._update_trial(db, trial, _expired(trial, max_attempts, self.now()))
                    failed.append(trial.tid)
                else:
                    self._update_trial(db, trial, _requeued(trial))
                    requeued.append(trial.tid)
        # The caller reports each reaped trial; this line only helps when debugging here.
        logger.debug("Leases older than %s: requeued trials %s, failed %s.",
                     older_than.isoformat(), requeued, failed)
        return RequeueReport(requeued=tuple(requeued), failed=tuple(failed))

    # -- the worker's side ------------------------------------------------------------

    @writes
    def reserve(self, worker_id: str, exp_keys: Collection[str] | None = None) -> Trial | None:
        sql = "SELECT exp_key, tid, doc FROM trials WHERE state = ?"
        args: list[Any] = [int(TrialState.NEW)]
        if exp_keys is not None:
            if not exp_keys:
                return None
            sql += f" AND exp_key IN ({', '.join('?' * len(exp_keys))})"
            args.extend(exp_keys)
        with self._transaction() as db:
            while row := db.execute(sql + " ORDER BY tid, exp_key LIMIT 1", args).fetchone():
                try:
                    trial = trial_of(*row)
                except StoreError as err:
                    # A row no release of ours wrote (edited by hand): failed with the
                    # reason, as the MongoDB store does, so that it stops no worker.
                    self._fail_unreadable(db, row, worker_id, str(err))
                    continue
                now = self.now()
                return self._update_trial(db, trial, replace(
                    trial, state=TrialState.RUNNING, owner=worker_id, book_time=now,
                    refresh_time=now, attempts=trial.attempts + 1, version=trial.version + 1))
        return None

    @writes
    def heartbeat(self, trial: Trial) -> Trial:
        check_leased(trial)
        return self._lease_write(trial, lambda held: replace(held, refresh_time=self.now()))

    @writes
    def finish(self, trial: Trial, result: TrialResult) -> Trial:
        target = TrialState.DONE if result.is_ok else TrialState.ERROR
        trial.state.check_transition(target, trial.tid)
        return self._lease_write(trial, lambda held: replace(
            held, state=target, result=result, end_time=self.now(), version=held.version + 1))

    @writes
    def release(self, trial: Trial) -> Trial:
        trial.state.check_transition(TrialState.NEW, trial.tid)
        return self._lease_write(trial, lambda held: replace(
            _requeued(held), attempts=max(held.attempts - 1, 0)))

    @writes
    def announce_worker(self, info: WorkerInfo) -> None:
        doc = worker_to_document(info)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO workers (worker_id, last_seen, exp_key, doc) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (worker_id) DO UPDATE SET last_seen = excluded.last_seen, "
                "exp_key = excluded.exp_key, doc = excluded.doc",
                (info.worker_id, iso(doc["last_seen"]), info.exp_key, dumps(doc)))

    @writes
    def retire_worker(self, worker_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM workers WHERE worker_id = ?", (worker_id,))

    def live_workers(self, *, seen_since: datetime, exp_key: str | None = None
                     ) -> list[WorkerInfo]:
        sql, args = "SELECT doc FROM workers WHERE last_seen >= ?", [iso(seen_since)]
        if exp_key is not None:
            # A worker announced without an experiment serves every experiment.
            sql, args = sql + " AND (exp_key = ? OR exp_key IS NULL)", [*args, exp_key]
        with self._transaction("BEGIN") as db:
            rows = db.execute(sql + " ORDER BY worker_id", args)
            return [worker_from_document(loads(doc)) for (doc,) in rows]

    # -- time -------------------------------------------------------------------------

    def now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError(f"the store's clock gave {now}, a time without a time zone")
        return now.astimezone(UTC)

    # -- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        with self._lock, self._errors():
            self._db.close()

    # -- helpers ----------------------------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn SQLite's errors into the store's, naming the file."""
        try:
            yield
        except sqlite3.Error as err:
            if is_busy(err):
                raise StoreUnavailableError(
                    f"the SQLite store {self._path} is busy: another process holds its lock "
                    f"({err}; a write waits up to {self._busy_timeout_s:g} s); retry, or "
                    "stop the process that holds it") from err
            raise StoreError(f"the SQLite store {self._path} failed: {err}") from err

    @contextmanager
    def _transaction(self, begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """One transaction, committed on success and rolled back on any error.

        Writers begin IMMEDIATE so they hold the write lock from their first read; readers
        begin a deferred transaction, which sees one snapshot across its statements.
        """
        with self._lock, self._errors():
            self._db.execute(begin)
            try:
                yield self._db
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _find_experiment(self, db: sqlite3.Connection, exp_key: str) -> Experiment | None:
        row = db.execute("SELECT doc FROM experiments WHERE exp_key = ?", (exp_key,)).fetchone()
        return None if row is None else experiment_from_document(loads(row[0]))

    def _require_experiment(self, db: sqlite3.Connection, exp_key: str) -> Experiment:
        experiment = self._find_experiment(db, exp_key)
        if experiment is None:
            known = [key for (key,) in db.execute("SELECT exp_key FROM experiments")]
            raise UnknownExperimentError(
                f"no experiment {exp_key!r} in {self._path} (it has "
                f"{', '.join(map(repr, known)) or 'none'}); check the key or create it first")
        return experiment

    def _update_trial(self, db: sqlite3.Connection, old: Trial, new: Trial) -> Trial:
        if new.state is not old.state:
            old.state.check_transition(new.state, old.tid)
        db.execute(UPDATE_TRIAL, trial_row(trial_to_document(new)))
        return new

    def _fail_unreadable(self, db: sqlite3.Connection, row: tuple[str, int, str],
                         worker_id: str, reason: str) -> None:
        """Store a readable ERROR trial in place of a NEW one whose document is not a trial.

        The columns are the store's own and still hold; the text is kept for inspection.
        """
        logger.error("%s. It is failed instead of evaluated.", reason)
        exp_key, tid, text = row
        (version,) = db.execute("SELECT version FROM trials WHERE exp_key = ? AND tid = ?",
                                (exp_key, tid)).fetchone()
        doc = unreadable_trial_document(
            exp_key, tid, found=text, reason=reason, owner=worker_id, version=version + 1,
            attempts=attempts_before(text) + 1, now=self.now())
        db.execute(UPDATE_TRIAL, trial_row(doc))

    def _lease_write(self, trial: Trial, change: Callable[[Trial], Trial]) -> Trial:
        """Apply ``change`` to the stored trial if ``trial``'s lease still holds it."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT exp_key, tid, doc FROM trials WHERE exp_key = ? AND tid = ?",
                (trial.exp_key, trial.tid)).fetchone()
            held = None if row is None else trial_of(*row)
            if held is None or (held.state, held.owner, held.version) != (
                    TrialState.RUNNING, trial.owner, trial.version):
                raise LeaseLostError(lease_lost_message(trial, held_by(held)))
            return self._update_trial(db, held, change(held))


def _requeued(trial: Trial) -> Trial:
    """A running trial back in the queue: nobody's, and a new version that voids the lease."""
    return replace(trial, state=TrialState.NEW, owner=None, book_time=None,
                   refresh_time=None, version=trial.version + 1)


def _expired(trial: Trial, max_attempts: int, now: datetime) -> Trial:
    """A running trial failed because its lease expired once too often."""
    return replace(trial, state=TrialState.ERROR,
                   result=TrialResult.failed(expired_reason(trial, max_attempts)),
                   end_time=now, version=trial.version + 1)
