"""The trial store in MongoDB, shared by a coordinator and workers on many machines.

Uses pymongo 4's API only. Every state change is one single-document operation whose
filter states what must still hold (``find_one_and_update`` / ``update_one``), so no
transactions are needed and any standalone server, replica set or sharded cluster works.

Collections, in the database the URI names (default ``ocrtune``):

``jobs``
    One document per trial, in hyperopt's job layout (``shared.store.documents``).
    Indexes:

    - ``exp_key_tid`` — unique (exp_key, tid): a trial id exists once per experiment.
    - ``reserve`` — (state, exp_key, tid): ``reserve`` finds the lowest NEW tid.
    - ``lease_reaper`` — (exp_key, state, refresh_time): ``requeue_stale`` finds expired
      leases.
    - ``config_key`` — (exp_key, config_key): the coordinator finds earlier evaluations of
      the same parameters.

``experiments``
    One document per experiment (``experiment_to_document``).
    Index ``exp_key`` — unique exp_key.

``counters``
    One document per experiment, ``{"_id": exp_key, "next_tid": int}``: the next unused
    trial id. ``next_tids`` adds to it with ``$inc`` in one ``find_one_and_update``, which
    MongoDB applies atomically, so concurrent callers get disjoint ranges.

``workers``
    One document per worker (``worker_to_document``), upserted on each announcement and
    deleted when the worker stops (``retire_worker``); one killed outright ages out.
    Indexes ``worker_id`` — unique worker_id; ``last_seen`` — last_seen.

A worker's lease is (owner, version): heartbeats, results and hand-backs filter on
``state: RUNNING, owner, version`` and change nothing when another process got there
first. The indexes (``shared.store.mongo_client``) are created when the store opens, unless
it opens to read only; creating them again is a no-op.

Every error names the server by its redacted URI: passwords never reach a message.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from pymongo import ASCENDING, ReturnDocument

from shared.errors import LeaseLostError, StoreError
from shared.store.base import TrialStore, writes
from shared.store.clock import Clock
from shared.store.documents import (
    Document,
    new_trial_document,
    reused_trial_document,
    trial_from_document,
    worker_from_document,
    worker_to_document,
)
from shared.store.leases import check_leased, lease_lost_message
from shared.store.mongo_client import (
    CONNECT_TIMEOUT_MS,
    SERVER_SELECTION_TIMEOUT_MS,
    SOCKET_TIMEOUT_MS,
    connect,
    create_indexes,
)
from shared.store.mongo_errors import store_errors
from shared.store.mongo_experiments import MongoExperiments
from shared.store.mongo_inserts import insert_trial, insert_trials
from shared.store.mongo_updates import (
    applied_finish,
    bson_time,
    expire_update,
    finish_update,
    heartbeat_update,
    held_lease,
    lease_filter,
    release_update,
    requeue_update,
    reserve_update,
    unreadable_replacement,
    unreadable_update,
)
from shared.store.server_clock import ServerClock
from shared.store.uri import MongoTarget
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

# The timeouts are re-exported: callers name them as the store's defaults.
__all__ = ["CONNECT_TIMEOUT_MS", "SERVER_SELECTION_TIMEOUT_MS", "SOCKET_TIMEOUT_MS",
           "MongoTrialStore"]


class MongoTrialStore(TrialStore):
    """A ``TrialStore`` in the MongoDB database ``target`` names.

    Opening connects and creates the indexes, so an unreachable server raises
    ``StoreUnavailableError`` here, after ``server_selection_timeout_ms``. With
    ``read_only`` it only pings the server and every writing method raises StoreError (see
    ``shared.store.base``), so that the commands that only read need no more than a
    database user with the ``read`` role.

    The timeouts and ``retryWrites=false`` are defaults: ``serverSelectionTimeoutMS``,
    ``connectTimeoutMS``, ``socketTimeoutMS`` or ``retryWrites`` in the URI win over them
    (None for ``socket_timeout_ms`` waits for ever). One object may be shared between
    threads (pymongo's client is thread-safe). Leases and results are stamped with the
    server's time (``shared.store.server_clock``), so that hosts whose clocks disagree still
    agree on them, and ``now`` tells it; tests pass a fake ``clock`` instead.
    """

    def __init__(
        self,
        target: MongoTarget,
        *,
        clock: Clock | None = None,
        server_selection_timeout_ms: int = SERVER_SELECTION_TIMEOUT_MS,
        connect_timeout_ms: int = CONNECT_TIMEOUT_MS,
        socket_timeout_ms: int | None = SOCKET_TIMEOUT_MS,
        read_only: bool = False,
    ) -> None:
        self._target = target
        self._client = connect(target, server_selection_timeout_ms=server_selection_timeout_ms,
                               connect_timeout_ms=connect_timeout_ms,
                               socket_timeout_ms=socket_timeout_ms)
        # command() decodes with pymongo's default options unless told: naive datetimes.
        server_clock = ServerClock(lambda: self._client.admin.command(
            "hello", codec_options=self._client.codec_options))
        self._clock = server_clock if clock is None else clock
        database = self._client[target.database]
        self._jobs = database["jobs"]
        self._experiments = MongoExperiments(database["experiments"], target)
        self._counters = database["counters"]
        self._workers = database["workers"]
        self.read_only = read_only
        with self._errors("connecting"):
            server_clock.measure()
        if not read_only:
            with self._errors("creating the indexes"):
                create_indexes(database)
        logger.info("Opened the MongoDB trial store at %s, database %s.",
                    target.redacted, target.database)

    def __repr__(self) -> str:
        return f"MongoTrialStore({self._target.redacted!r}, database={self._target.database!r})"

    # -- experiments ------------------------------------------------------------------

    @writes
    def ensure_experiment(self, experiment: Experiment) -> Experiment:
        created_at = bson_time(experiment.created_at or self.now())
        return self._experiments.ensure(replace(experiment, created_at=created_at))

    def get_experiment(self, exp_key: str) -> Experiment:
        return self._experiments.get(exp_key)

    def list_experiments(self) -> list[Experiment]:
        return self._experiments.all()

    # -- the coordinator's side -------------------------------------------------------

    @writes
    def next_tids(self, exp_key: str, count: int) -> list[int]:
        if count < 0:
            raise ValueError(f"next_tids needs a count of 0 or more, got {count}")
        self._experiments.require(exp_key)
        with self._errors(f"allocating {count} trial ids for experiment {exp_key!r}"):
            counter = self._counters.find_one_and_update(
                {"_id": exp_key}, {"$inc": {"next_tid": count}}, upsert=True,
                return_document=ReturnDocument.AFTER)
        # An upsert returning the document AFTER the change always returns one.
        end = int(cast(Document, counter)["next_tid"])
        return list(range(end - count, end))

    @writes
    def enqueue(self, exp_key: str, trials: Sequence[NewTrial]) -> None:
        self._experiments.require(exp_key)
        docs = [new_trial_document(exp_key, trial) for trial in trials]
        with self._errors(f"queueing {len(docs)} trials of experiment {exp_key!r}"):
            inserted = insert_trials(self._jobs, docs, where=self._target.redacted)
        logger.debug("Queued %s trials of experiment %s.", inserted, exp_key)

    @writes
    def insert_reused(self, exp_key: str, trial: NewTrial, source: Trial) -> Trial:
        self._experiments.require(exp_key)
        doc = reused_trial_document(exp_key, trial, source, self.now())
        with self._errors(f"storing reused trial {trial.tid} of experiment {exp_key!r}"):
            stored = insert_trial(self._jobs, doc, where=self._target.redacted)
        return trial_from_document(stored)

    def trials(
        self,
        exp_key: str,
        *,
        states: Collection[TrialState] | None = None,
        tids: Collection[int] | None = None,
    ) -> list[Trial]:
        query: Document = {"exp_key": exp_key}
        if states is not None:
            query["state"] = {"$in": [int(state) for state in states]}
        if tids is not None:
            query["tid"] = {"$in": [int(tid) for tid in tids]}
        self._experiments.require(exp_key)
        with self._errors(f"reading the trials of experiment {exp_key!r}"):
            docs = list(self._jobs.find(query).sort("tid", ASCENDING))
        return [trial_from_document(doc) for doc in docs]

    def state_counts(self, exp_key: str) -> dict[TrialState, int]:
        self._experiments.require(exp_key)
        counts = dict.fromkeys(TrialState, 0)
        with self._errors(f"counting the trials of experiment {exp_key!r}"):
            groups = list(self._jobs.aggregate([
                {"$match": {"exp_key": exp_key}},
                {"$group": {"_id": "$state", "count": {"$sum": 1}}},
            ]))
        counts.update((TrialState(group["_id"]), int(group["count"])) for group in groups)
        return counts

    @writes
    def requeue_stale(
        self, exp_key: str | None, *, older_than: datetime, max_attempts: int
    ) -> RequeueReport:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be 1 or more, got {max_attempts}")
        query: Document = {"state": int(TrialState.RUNNING),
                           "refresh_time": {"$lt": older_than}}
        if exp_key is not None:
            self._experiments.require(exp_key)
            query["exp_key"] = exp_key
        requeued: list[int] = []
        failed: list[int] = []
        with self._errors("requeueing trials with expired leases"):
            stale = list(self._jobs.find(query).sort([("exp_key", ASCENDING),
                                                      ("tid", ASCENDING)]))
            for doc in stale:
                trial = trial_from_document(doc)
                give_up = trial.attempts >= max_attempts
                change = (expire_update(trial, max_attempts, self.now()) if give_up
                          else requeue_update())
                # Still stale and still this lease: a heartbeat or a result in the
                # meantime wins, and the trial is left alone.
                still = {**lease_filter(trial), "refresh_time": {"$lt": older_than}}
                if self._jobs.update_one(still, change).modified_count:
                    (failed if give_up else requeued).append(trial.tid)
        if requeued or failed:
            logger.warning("Leases older than %s expired: requeued trials %s, failed %s.",
                           older_than.isoformat(), requeued, failed)
        return RequeueReport(requeued=tuple(requeued), failed=tuple(failed))

    # -- the worker's side ------------------------------------------------------------

    @writes
    def reserve(self, worker_id: str, exp_keys: Collection[str] | None = None) -> Trial | None:
        query: Document = {"state": int(TrialState.NEW)}
        if exp_keys is not None:
            if not exp_keys:
                return None
            query["exp_key"] = {"$in": list(exp_keys)}
        while True:
            with self._errors(f"reserving a trial for worker {worker_id!r}"):
                doc = self._jobs.find_one_and_update(
                    query, reserve_update(worker_id, self.now()),
                    sort=[("tid", ASCENDING), ("exp_key", ASCENDING)],
                    return_document=ReturnDocument.AFTER)
            if doc is None:
                return None
            try:
                return trial_from_document(doc)
            except StoreError as err:
                # A job no release of ours wrote (edited by hand, hyperopt's own): failed
                # with the reason, so that it stops no worker and is not reserved again.
                self._fail_unreadable(doc, str(err))

    @writes
    def heartbeat(self, trial: Trial) -> Trial:
        check_leased(trial)
        return self._lease_write(trial, "refreshing the lease of",
                                 heartbeat_update(self.now()))

    @writes
    def finish(self, trial: Trial, result: TrialResult) -> Trial:
        target = TrialState.DONE if result.is_ok else TrialState.ERROR
        trial.state.check_transition(target, trial.tid)
        update = finish_update(trial, result, self.now())
        return self._lease_write(trial, "recording the result of", update,
                                 applied=functools.partial(applied_finish, trial=trial,
                                                           update=update))

    @writes
    def release(self, trial: Trial) -> Trial:
        trial.state.check_transition(TrialState.NEW, trial.tid)
        return self._lease_write(trial, "handing back", release_update())

    @writes
    def announce_worker(self, info: WorkerInfo) -> None:
        doc = worker_to_document(info)
        with self._errors(f"announcing worker {info.worker_id!r}"):
            self._workers.update_one({"worker_id": info.worker_id}, {"$set": doc},
                                     upsert=True)

    @writes
    def retire_worker(self, worker_id: str) -> None:
        with self._errors(f"retiring worker {worker_id!r}"):
            self._workers.delete_one({"worker_id": worker_id})

    def live_workers(self, *, seen_since: datetime, exp_key: str | None = None
                     ) -> list[WorkerInfo]:
        query: Document = {"last_seen": {"$gte": seen_since}}
        if exp_key is not None:
            # A worker announced without an experiment serves every experiment.
            query["$or"] = [{"exp_key": exp_key}, {"exp_key": None}]
        with self._errors("listing the live workers"):
            docs = list(self._workers.find(query).sort("worker_id", ASCENDING))
        return [worker_from_document(doc) for doc in docs]

    # -- time -------------------------------------------------------------------------

    def now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError(f"the store's clock gave {now}, a time without a time zone")
        return bson_time(now)

    # -- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        self._client.close()

    # -- helpers ----------------------------------------------------------------------

    def _errors(self, action: str) -> AbstractContextManager[None]:
        return store_errors(self._target, action)

    def _fail_unreadable(self, doc: Document, reason: str) -> None:
        """Store a readable ERROR trial in place of a job just reserved that is no trial."""
        logger.error("%s. It is failed instead of evaluated.", reason)
        lease = {"_id": doc["_id"], "owner": doc["owner"], "version": doc["version"]}
        replacement = unreadable_replacement(doc, reason, self.now())
        with self._errors(f"failing an unreadable job of experiment {doc.get('exp_key')!r}"):
            if replacement is None:
                self._jobs.update_one(lease, unreadable_update(reason, self.now()))
            else:
                self._jobs.replace_one(lease, replacement)

    def _lease_write(self, trial: Trial, action: str, change: Mapping[str, Any], *,
                     applied: Callable[[Mapping[str, Any]], bool] | None = None) -> Trial:
        """Apply ``change`` if ``trial``'s lease still holds; else LeaseLostError.

        ``applied`` recognises the stored trial as ``change`` left it, when an earlier try
        of this very call was applied but its reply lost: that is success, not a lost lease.
        """
        what = f"trial {trial.tid} of experiment {trial.exp_key!r}"
        held = None
        with self._errors(f"{action} {what}"):
            doc = self._jobs.find_one_and_update(lease_filter(trial), change,
                                                 return_document=ReturnDocument.AFTER)
            if doc is None:
                held = self._jobs.find_one({"exp_key": trial.exp_key, "tid": trial.tid})
        if doc is None and held is not None and applied is not None and applied(held):
            logger.info("An earlier try of %s %s was applied; its reply was lost.", action,
                        what)
            doc = held
        if doc is None:
            raise LeaseLostError(lease_lost_message(trial, held_lease(held)))
        return trial_from_document(doc)
