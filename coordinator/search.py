"""The coordinator's search loop: keep workers supplied with suggestions until N are done.

Each pass, in order: reap expired leases, take in the trials that finished, stop if
``max_evals`` are finished, top the queue up to what the live workers need, report.
A configuration already evaluated in the experiment is not queued again: its earlier
result is recorded for the new trial at once (still a trial, as far as hyperopt knows).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from coordinator.history import HyperoptHistory
from coordinator.settings import SearchSettings
from coordinator.suggest import Suggester
from shared.errors import VanishedTrialsError
from shared.objective import ObjectiveKind
from shared.retry import retry_unavailable
from shared.store.base import TrialStore
from shared.trials import Experiment, NewTrial, Trial, TrialState

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class SearchSnapshot:
    """Where a search stands, for progress bars and status lines."""

    max_evals: int
    finished: int
    failed: int
    running: int
    queued: int
    reused: int
    live_workers: int
    best_loss: float | None


@dataclass(frozen=True)
class SearchOutcome:
    snapshot: SearchSnapshot
    best: Trial | None
    completed: bool  # False when a stop request or the last worker's end came first


class Search:
    """Runs one experiment's search against a store that workers also use."""

    def __init__(self, store: TrialStore, experiment: Experiment, kind: ObjectiveKind,
                 settings: SearchSettings, *, stop: threading.Event | None = None,
                 on_progress: Callable[[SearchSnapshot], None] | None = None,
                 no_worker_hint: str = "start a worker",
                 workers_gone: Callable[[], bool] | None = None) -> None:
        """``workers_gone`` says whether no trial can be evaluated any more (a local run's
        workers all stopped); the search then ends unfinished instead of waiting forever.
        """
        self._store = store
        self._exp_key = experiment.exp_key
        self._settings = settings
        self._stop = stop or threading.Event()
        self._on_progress = on_progress
        self._no_worker_hint = no_worker_hint
        self._workers_gone = workers_gone or (lambda: False)
        self._suggester = Suggester(kind, algo=experiment.algo, seed=experiment.seed)
        self._history = HyperoptHistory()
        self._trials: dict[int, Trial] = {}
        self._done_by_config: dict[str, Trial] = {}
        self._pending_by_config: dict[str, int] = {}
        # Suggestions that repeat a trial still queued or running, by that trial's id: held
        # back (never queued) until it finishes, then given its result, or queued if it
        # failed. Lost if the coordinator stops meanwhile; the resumed search suggests anew.
        self._held: dict[int, list[NewTrial]] = {}
        self._waiting_since: float | None = None  # since when no worker is live
        self._warned_at = 0.0  # when the last warning about it was given

    def run(self) -> SearchOutcome:
        self._take_in(self._call(lambda: self._store.trials(self._exp_key), "reading trials"))
        finished = sum(1 for trial in self._trials.values() if trial.state.is_finished)
        if finished >= self._settings.max_evals:
            logger.info("Experiment %r already has %d finished trials, --max-evals %d: "
                        "nothing to search (a larger --max-evals goes on).", self._exp_key,
                        finished, self._settings.max_evals)
        else:
            logger.info("Experiment %r: %d trial(s) in the history; searching until %d are "
                        "finished.", self._exp_key, len(self._trials),
                        self._settings.max_evals)
        while True:
            # Asked before the snapshot, so that it counts the last results of workers
            # that are gone: a run whose last worker stopped on its final trial completed.
            workers_gone = self._workers_gone()
            self._reap()
            pending = self._take_in_finished()
            snapshot = self._snapshot()
            self._check_none_vanished(snapshot, pending)
            if self._on_progress is not None:
                self._on_progress(snapshot)
            if snapshot.finished >= self._settings.max_evals or self._stop.is_set():
                break
            if workers_gone:
                logger.error("Experiment %r: no worker is left to evaluate trials; the search "
                             "stops with %d of %d finished.", self._exp_key,
                             snapshot.finished, self._settings.max_evals)
                break

            self._top_up(snapshot)
            self._warn_if_no_workers(snapshot)

            self._stop.wait(self._settings.poll_interval_s)
        # Trials that finished after the take-in above were counted in the snapshot: take
        # them in too, or the best could miss the last ones.
        self._take_in_finished()
        return SearchOutcome(snapshot, self.best(),
                             snapshot.finished >= self._settings.max_evals)

    def best(self) -> Trial | None:
        scored = [t for t in self._trials.values() if t.loss is not None]
        return min(scored, key=lambda t: (t.loss, t.tid)) if scored else None

    def _call(self, call: Callable[[], T], what: str) -> T:
        return retry_unavailable(call, what=what, stop=self._stop)

    def _reap(self) -> None:
        cutoff = self._store.now() - timedelta(seconds=self._settings.lease_timeout_s)
        report = self._call(lambda: self._store.requeue_stale(
            self._exp_key, older_than=cutoff, max_attempts=self._settings.max_attempts),
            "requeueing expired leases")
        for tid in report.requeued:
            logger.warning("Trial %s/%s: its worker stopped beating for %.0f s; the trial "
                           "goes back to the queue.", self._exp_key, tid,
                           self._settings.lease_timeout_s)
        for tid in report.failed:
            logger.error("Trial %s/%s: its lease expired %d times; it is failed for good.",
                         self._exp_key, tid, self._settings.max_attempts)

    def _take_in_finished(self) -> list[int]:
        """Take in the pending trials that finished; the ids of those still pending."""
        pending = [tid for tid, t in self._trials.items() if t.state.is_pending]
        if not pending:
            return []
        finished = self._call(lambda: self._store.trials(
            self._exp_key, tids=pending, states=(TrialState.DONE, TrialState.ERROR)),
            "reading finished trials")
        self._take_in(finished)
        return [tid for tid in pending if self._trials[tid].state.is_pending]

    def _check_none_vanished(self, snapshot: SearchSnapshot, pending: list[int]) -> None:
        """Raise VanishedTrialsError if trials this search queued are gone from the store.

        Their results would never come, and a store that lost them may have lost its trial
        counter too, so new ids could repeat old ones: the search stops, and the same
        command resumes it from what the store holds. Costs a query only when the store
        counts fewer pending trials than this search knows of.
        """
        held = {new.tid for waiting in self._held.values() for new in waiting}
        queued = [tid for tid in pending if tid not in held]
        if snapshot.running + snapshot.queued >= len(queued):
            return
        stored = self._call(lambda: self._store.trials(self._exp_key, tids=queued),
                            "looking for trials missing from the store")
        self._take_in([trial for trial in stored if trial.state.is_finished])
        found = {trial.tid for trial in stored}
        vanished = [tid for tid in queued if tid not in found]
        if vanished:
            raise VanishedTrialsError(
                f"trials {', '.join(map(str, vanished))} of experiment {self._exp_key!r} are "
                "no longer in the store: deleted, or the database was restored from an "
                "older copy or restarted without its data. The search stops rather than "
                "wait for them; run the same command again to go on from what the store "
                "holds")

    def _take_in(self, trials: list[Trial]) -> None:
        for trial in trials:
            self._trials[trial.tid] = trial
            key = trial.config_key
            if trial.state.is_pending:
                self._pending_by_config.setdefault(key, trial.tid)
            elif self._pending_by_config.get(key) == trial.tid:
                del self._pending_by_config[key]
            if trial.loss is not None:
                self._done_by_config.setdefault(key, trial)
        if trials:
            self._history.record(trials)
        for trial in trials:
            if trial.state.is_finished:
                for held in self._held.pop(trial.tid, []):
                    self._place(held)

    def _top_up(self, snapshot: SearchSnapshot) -> None:
        wanted = max(1, snapshot.live_workers) * self._settings.queue_per_worker
        room = self._settings.max_evals - len(self._trials)
        count = min(wanted - snapshot.queued, room)
        if count <= 0:
            return
        for tid in self._call(lambda: self._store.next_tids(self._exp_key, count),
                              "allocating trial ids"):
            self._queue_one(tid)

    def _queue_one(self, tid: int) -> None:
        self._place(self._suggester.suggest(tid, self._history))

    def _place(self, new: NewTrial) -> None:
        """Queue a suggestion, or reuse the result of the trial it repeats, or hold it."""
        source = self._done_by_config.get(new.config_key)
        pending = self._pending_by_config.get(new.config_key)
        if source is not None:
            trial = self._call(lambda: self._store.insert_reused(self._exp_key, new, source),
                               "recording a reused result")
            logger.info("Trial %s/%s repeats trial %s's configuration; its loss %.4f is "
                        "reused without evaluating again.", self._exp_key, new.tid,
                        source.tid, source.loss)
        elif pending is not None:
            self._held.setdefault(pending, []).append(new)
            logger.debug("Trial %s/%s repeats trial %s, still pending; it waits for that "
                         "result.", self._exp_key, new.tid, pending)
            trial = Trial(exp_key=self._exp_key, tid=new.tid, state=TrialState.NEW,
                          params=new.params, hyperopt_misc=new.hyperopt_misc)
            self._trials[trial.tid] = trial  # pending for hyperopt too, but never queued
            self._history.record([trial])
            return
        else:
            self._call(lambda: self._store.enqueue(self._exp_key, [new]), "queueing a trial")
            trial = Trial(exp_key=self._exp_key, tid=new.tid, state=TrialState.NEW,
                          params=new.params, hyperopt_misc=new.hyperopt_misc)
        self._take_in([trial])

    def _snapshot(self) -> SearchSnapshot:
        counts = self._call(lambda: self._store.state_counts(self._exp_key), "counting trials")
        seen_since = self._store.now() - timedelta(seconds=self._settings.worker_seen_within_s)
        workers = self._call(lambda: self._store.live_workers(
            seen_since=seen_since, exp_key=self._exp_key), "listing live workers")
        best = self.best()
        return SearchSnapshot(
            max_evals=self._settings.max_evals,
            finished=counts[TrialState.DONE] + counts[TrialState.ERROR],
            failed=counts[TrialState.ERROR],
            running=counts[TrialState.RUNNING],
            queued=counts[TrialState.NEW],
            reused=sum(1 for t in self._trials.values() if t.reused_from is not None),
            live_workers=len(workers),
            best_loss=None if best is None else best.loss,
        )

    def _warn_if_no_workers(self, snapshot: SearchSnapshot) -> None:
        if snapshot.live_workers or not snapshot.queued:
            self._waiting_since = None
            return
        now = time.monotonic()
        if self._waiting_since is None:
            self._waiting_since = self._warned_at = now
        elif now - self._warned_at >= self._settings.no_worker_warning_s:
            logger.warning("No worker has been seen for %.0f s and %d trial(s) are waiting; "
                           "%s.", now - self._waiting_since, snapshot.queued,
                           self._no_worker_hint)
            self._warned_at = now
