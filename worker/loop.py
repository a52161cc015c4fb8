"""The worker loop: reserve a trial, evaluate it, record the result, and again.

In the role of hyperopt's ``hyperopt-mongo-worker``, but the database only ever carries
plain parameters: the objective is the one installed with the worker.
"""

from __future__ import annotations

import enum
import logging
import os
import socket
import threading
import time

from shared.errors import (
    LeaseLostError,
    ObjectiveError,
    ObjectiveUnavailableError,
    StoreError,
    StoreUnavailableError,
)
from shared.objective import known_objectives
from shared.retry import StopRequestedError, retry_unavailable
from shared.store.base import TrialStore
from shared.trials import Experiment, Trial, TrialResult, TrialState, WorkerInfo
from worker.catalogue import ExperimentCatalogue
from worker.evaluator import ProcessEvaluator
from worker.lease import LeaseKeeper
from worker.settings import WorkerSettings, heartbeat_interval_s

logger = logging.getLogger(__name__)

# How long a stopping worker retries removing its record from an unreachable store: not
# long, since nothing is lost if it stays (it ages out of the live workers).
RETIRE_GIVE_UP_S = 5.0


class ExitReason(enum.Enum):
    """Why a worker stopped; each is logged once, when it stops."""

    STOP_REQUESTED = "a stop was requested (SIGTERM or SIGINT)"
    SEARCH_ENDED = "the local search it evaluated for ended"
    MAX_JOBS = "it evaluated the --max-jobs trials it was asked for"
    IDLE = "no trial came within --reserve-timeout"
    TOO_MANY_FAILURES = "its trials failed --max-consecutive-failures times in a row"
    EXPERIMENT_REFUSED = "it cannot evaluate the one experiment it serves"

    @property
    def exit_code(self) -> int:
        return _EXIT_CODES.get(self, 0)


# Non-zero, so that a supervisor sees a worker that cannot go on: 3 its trials kept
# failing, 4 nothing left to serve (told to serve one experiment, it refused that one).
_EXIT_CODES = {ExitReason.TOO_MANY_FAILURES: 3, ExitReason.EXPERIMENT_REFUSED: 4}


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    """Serves the trials of the experiments it can evaluate until a reason to stop."""

    def __init__(self, store: TrialStore, settings: WorkerSettings, *,
                 stop: threading.Event | None = None, hurry: threading.Event | None = None,
                 worker_id: str | None = None,
                 stop_means: ExitReason = ExitReason.STOP_REQUESTED) -> None:
        """``stop`` asks the worker to stop after its trial or its grace period, ``hurry``
        to cut that period short; ``stop_means``: the reason to give when ``stop`` is set
        (a local run's workers are stopped by their search, not by a signal)."""
        self.worker_id = worker_id or default_worker_id()
        self._stop_means = stop_means
        self._store = store
        self._settings = settings
        self._stop = stop or threading.Event()
        self._hurry = hurry or threading.Event()
        self._catalogue = ExperimentCatalogue(store, exp_key=settings.exp_key,
                                              refresh_s=settings.experiments_refresh_s,
                                              retry_after_s=settings.objective_retry_s,
                                              retries=settings.objective_retries)
        self._evaluator = ProcessEvaluator(data_dir=settings.data_dir,
                                           trial_timeout_s=settings.trial_timeout_s)
        self._jobs = 0
        self._failures_in_a_row = 0
        self._announced_at: float | None = None
        self._reserve_reply_lost = False

    def run(self) -> ExitReason:
        if self._settings.exp_key:
            logger.info("Worker %s started, serving experiment %r.", self.worker_id,
                        self._settings.exp_key)
        else:
            logger.info("Worker %s started, serving every experiment it can evaluate.",
                        self.worker_id)
        try:
            reason = self._loop()
        except StopRequestedError:
            reason = self._stop_means
        finally:
            self._evaluator.stop()
        self._retire()
        level = logging.ERROR if reason.exit_code else logging.INFO
        logger.log(level, "Worker %s stops after %d trial(s): %s.", self.worker_id,
                   self._jobs, self.why_stopped(reason))
        return reason

    def _retire(self) -> None:
        """Leave the live workers, so that status and the coordinator stop counting this
        one. An unreachable store is given a moment only: the record then ages out."""
        try:
            retry_unavailable(lambda: self._store.retire_worker(self.worker_id),
                              what=f"retiring worker {self.worker_id}",
                              give_up_after_s=RETIRE_GIVE_UP_S)
        except StoreError as err:
            # Its work is done and recorded: a stale record is no reason to fail the exit.
            logger.warning("Worker %s could not remove its record from the store (%s); it "
                           "stops counting as live once its last announcement is old.",
                           self.worker_id, err)

    def why_stopped(self, reason: ExitReason) -> str:
        """The reason, with the refusal's own when the experiment served was refused, and
        the limit when trials failed too often."""
        refusal = self._served_refusal()
        if reason is ExitReason.EXPERIMENT_REFUSED and refusal is not None:
            return f"{reason.value}: {refusal}"
        if reason is ExitReason.TOO_MANY_FAILURES:
            return (f"its trials failed {self._settings.max_consecutive_failures} times in "
                    "a row (--max-consecutive-failures)")
        return str(reason.value)

    def _loop(self) -> ExitReason:
        idle_since = time.monotonic()
        idle = False
        while True:
            if self._stop.is_set():
                return self._stop_means
            if self._settings.max_jobs is not None and self._jobs >= self._settings.max_jobs:
                return ExitReason.MAX_JOBS
            if self._served_refusal() is not None:
                return ExitReason.EXPERIMENT_REFUSED

            self._announce_if_due()
            # Idle, it looks for new experiments more often: one may have been created.
            trial = self._reserve(
                experiments_age_s=self._settings.idle_experiments_refresh_s if idle else None)

            if trial is None:
                idle = True
                timeout_s = self._settings.reserve_timeout_s
                if timeout_s is None or time.monotonic() - idle_since < timeout_s:
                    self._stop.wait(self._settings.poll_interval_s)
                    continue
                # A last look, the experiments read afresh, before it gives up.
                trial = self._reserve(experiments_age_s=0.0)
                if trial is None:
                    return ExitReason.IDLE

            idle = False

            result = self._evaluate(trial)

            if result is not None:
                self._record(trial, result)
            idle_since = time.monotonic()
            if self._failures_in_a_row >= self._settings.max_consecutive_failures:
                return ExitReason.TOO_MANY_FAILURES

    def _served_refusal(self) -> str | None:
        """Why the one experiment this worker serves (--exp-key) is refused, if it is."""
        exp_key = self._settings.exp_key
        return None if exp_key is None else self._catalogue.refusal(exp_key)

    def _reserve(self, *, experiments_age_s: float | None = None) -> Trial | None:
        """A trial of a servable experiment, the list of those no older than
        ``experiments_age_s`` (None: the catalogue's own interval)."""
        exp_keys = retry_unavailable(
            lambda: self._catalogue.servable(max_age_s=experiments_age_s),
            what="listing experiments", stop=self._stop)
        if not exp_keys:
            return None
        trial = retry_unavailable(lambda: self._reserve_once(exp_keys),
                                  what="reserving a trial", stop=self._stop)
        if trial is not None:
            logger.debug("Worker %s reserved trial %s/%s (attempt %d).", self.worker_id,
                         trial.exp_key, trial.tid, trial.attempts)
        return trial

    def _reserve_once(self, exp_keys: list[str]) -> Trial | None:
        if self._reserve_reply_lost:
            # The last reservation failed in flight, and a store can apply a write whose
            # reply never arrives: a trial may be ours already. Take it up, or it would
            # sit RUNNING until its lease lapsed and be evaluated twice in all.
            held = self._held_trial(exp_keys)
            self._reserve_reply_lost = False
            if held is not None:
                logger.info("Worker %s takes up trial %s/%s, reserved for it by a try whose "
                            "reply was lost.", self.worker_id, held.exp_key, held.tid)
                return held
        try:
            return self._store.reserve(self.worker_id, exp_keys)
        except StoreUnavailableError:
            self._reserve_reply_lost = True
            raise

    def _held_trial(self, exp_keys: list[str]) -> Trial | None:
        """A RUNNING trial of ``exp_keys`` whose lease this worker holds, if any."""
        for exp_key in exp_keys:
            for trial in self._store.trials(exp_key, states=(TrialState.RUNNING,)):
                if trial.owner == self.worker_id:
                    return trial
        return None

    def _evaluate(self, trial: Trial) -> TrialResult | None:
        """The result to record, or None when the trial was handed back or taken over."""
        experiment = self._catalogue.get(trial.exp_key)
        keeper = self._lease_keeper(trial, experiment)
        with keeper:
            try:
                result = self._evaluator.evaluate(experiment.objective, trial.params,
                                                  cancel=self._stop,
                                                  grace_s=self._settings.grace_period_s,
                                                  hurry=self._hurry)
            except ObjectiveUnavailableError as err:
                self._catalogue.defer(trial.exp_key, str(err))
                self._release(trial, experiment, "this worker cannot evaluate its "
                              "experiment for now")
                return None
            except ObjectiveError as err:
                self._catalogue.refuse(trial.exp_key, str(err))
                self._release(trial, experiment, "this worker cannot evaluate its experiment")
                return None
        self._catalogue.loaded(trial.exp_key)
        if result is None:
            self._release(trial, experiment, self._why_handed_back())
            return None
        if keeper.lost:
            logger.info("Worker %s drops its result for trial %s/%s: the lease passed to "
                        "another worker.", self.worker_id, trial.exp_key, trial.tid)
            return None
        return result

    def _why_handed_back(self) -> str:
        grace_s = self._settings.grace_period_s
        if not grace_s:
            return "a stop was requested"
        if self._hurry.is_set():
            return f"a second stop request cut its {grace_s:g} s grace period short"
        return f"a stop was requested and its {grace_s:g} s grace period ended"

    def _lease_keeper(self, trial: Trial, experiment: Experiment) -> LeaseKeeper:
        # The experiment's lease, which the coordinator requeues by, sets the beat; the
        # worker's own settings have no say in it.
        return LeaseKeeper(self._store, trial,
                           interval_s=heartbeat_interval_s(experiment.lease_timeout_s),
                           announce=self._announce_once_if_due,
                           announce_every_s=self._settings.announce_interval_s)

    def _record(self, trial: Trial, result: TrialResult) -> None:
        try:
            # Retry through an outage however long it lasts: the write is conditional on the
            # lease, so a late one either lands (the coordinator was cut off too and did not
            # requeue the trial) or fails with LeaseLostError. Only a stop request ends it.
            retry_unavailable(lambda: self._store.finish(trial, result),
                              what=f"recording trial {trial.exp_key}/{trial.tid}",
                              stop=self._stop)
        except LeaseLostError:
            logger.info("Worker %s: trial %s/%s is no longer this worker's (requeued, "
                        "recorded by another worker, or gone from the store); its result "
                        "here is dropped.", self.worker_id, trial.exp_key, trial.tid)
            return
        self._jobs += 1
        if result.is_ok:
            self._failures_in_a_row = 0
            logger.info("Worker %s finished trial %s/%s: loss %.4f in %.1f s.",
                        self.worker_id, trial.exp_key, trial.tid, result.loss,
                        result.duration_s)
        else:
            self._failures_in_a_row += 1
            logger.warning("Worker %s: trial %s/%s failed (%d in a row): %s", self.worker_id,
                           trial.exp_key, trial.tid, self._failures_in_a_row, result.error)

    def _release(self, trial: Trial, experiment: Experiment, why: str) -> None:
        try:
            retry_unavailable(lambda: self._store.release(trial),
                              what=f"handing back trial {trial.exp_key}/{trial.tid}",
                              give_up_after_s=self._settings.grace_period_s)
        except LeaseLostError:
            return
        except StoreUnavailableError:
            logger.warning("Worker %s could not hand trial %s/%s back: the store is "
                           "unreachable. Its lease lapses within %.0f s and the coordinator "
                           "requeues it then.", self.worker_id, trial.exp_key, trial.tid,
                           experiment.lease_timeout_s)
            return
        logger.info("Worker %s handed trial %s/%s back to the queue: %s.", self.worker_id,
                    trial.exp_key, trial.tid, why)

    def _announce_if_due(self) -> None:
        """From the loop: retried through an outage; a stop request ends the wait."""
        info = self._announcement_if_due()
        if info is not None:
            retry_unavailable(lambda: self._store.announce_worker(info),
                              what="announcing the worker", stop=self._stop)

    def _announce_once_if_due(self) -> None:
        """From the heartbeat thread: one try, so that an outage never holds up a heartbeat;
        the LeaseKeeper logs a failure and the next announcement tries again."""
        info = self._announcement_if_due()
        if info is not None:
            self._store.announce_worker(info)

    def _announcement_if_due(self) -> WorkerInfo | None:
        # The loop and the heartbeat thread never announce at once: the thread only runs
        # while the loop waits for a trial's result.
        now = time.monotonic()
        due_s = self._settings.announce_interval_s
        if self._announced_at is not None and now - self._announced_at < due_s:
            return None
        self._announced_at = now
        return WorkerInfo(worker_id=self.worker_id, host=socket.gethostname(),
                          pid=os.getpid(), last_seen=self._store.now(),
                          exp_key=self._settings.exp_key, objectives=known_objectives())
