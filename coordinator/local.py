"""The local run: the search and its workers in one process, trials in a SQLite file.

Local workers keep the worker's limit on failures in a row (``--max-consecutive-failures``,
5 by default) instead of running through every failure. A bad configuration is not a
failure: it scores a high loss. A trial fails when its evaluation breaks (a --trial-timeout
too short for the photos, an evaluation process killed for lack of memory, an image
Tesseract fails on, a bug), and hyperopt's TPE learns nothing from failed trials, so a
streak of them says the run is broken, not that the search is in a bad region; going on
would fail trial after trial up to --max-evals. One failure among successes resets the
streak and stops nothing.

An objective that cannot be loaded fails no trial: the trial goes back to the queue. If the
cause may pass (the dataset unreadable, Tesseract or the evaluation process not starting)
the worker tries once more after ``LOCAL_OBJECTIVE_RETRY_S``; if it cannot (the dataset's
files changed since the run began) or the retry fails too, the worker stops. A run whose
workers all stopped ends with ``LocalWorkersStoppedError`` saying why; every trial finished
so far is kept, and the same command resumes once the cause is fixed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

from coordinator.search import Search, SearchOutcome, SearchSnapshot
from coordinator.settings import SearchSettings
from shared.errors import LocalWorkersStoppedError
from shared.objective import ObjectiveKind
from shared.store.base import TrialStore
from shared.trials import Experiment, TrialState
from worker import ExitReason, Worker, WorkerSettings

# The error is defined with the others (shared.errors) and raised, so importable, here.
__all__ = ["LOCAL_OBJECTIVE_RETRIES", "LOCAL_OBJECTIVE_RETRY_S", "LocalWorkersStoppedError",
           "run_local"]

logger = logging.getLogger(__name__)

# A local run's experiment has no other worker to leave its trials to, so an objective that
# cannot be loaded for now (the dataset unreadable, the engine or the evaluation process
# not starting) is tried again once, this long after, and then ends the run saying why:
# long enough for a passing hiccup (a busy disk, a machine short of memory), short enough
# that a broken run does not sit idle behind its progress bar.
LOCAL_OBJECTIVE_RETRIES = 1
LOCAL_OBJECTIVE_RETRY_S = 10.0


class _LocalWorker:
    """One in-process worker on its own thread, remembering why it stopped."""

    def __init__(self, store: TrialStore, settings: WorkerSettings, *,
                 stop: threading.Event, index: int) -> None:
        self._worker = Worker(store, settings, stop=stop, worker_id=f"local-{index}",
                              stop_means=ExitReason.SEARCH_ENDED)
        self._max_failures = settings.max_consecutive_failures
        self._thread = threading.Thread(target=self._run, name=f"local-worker-{index}",
                                        daemon=True)
        self._reason: ExitReason | None = None
        self._error: Exception | None = None

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def why_stopped(self, owner: str) -> str:
        """Why the worker stopped, as a clause after "the local worker stopped: "."""
        if self._error is not None:
            return (f"an unexpected error, {type(self._error).__name__}: {self._error} "
                    "(the traceback is in the log)")
        if self._reason is ExitReason.TOO_MANY_FAILURES:
            return f"{owner} trials failed {self._max_failures} times in a row"
        return "it ended" if self._reason is None else self._worker.why_stopped(self._reason)

    def _run(self) -> None:
        try:
            self._reason = self._worker.run()
        except Exception as err:  # the thread's boundary: kept for the run to report
            logger.exception("Worker %s stopped on an unexpected error.",
                             self._worker.worker_id)
            self._error = err


def run_local(store: TrialStore, experiment: Experiment, kind: ObjectiveKind,
              settings: SearchSettings, *, workers: int, worker_settings: WorkerSettings,
              stop: threading.Event,
              on_progress: Callable[[SearchSnapshot], None] | None = None) -> SearchOutcome:
    """Search with ``workers`` in-process workers, each evaluating in its own child process.

    The workers are the same as ``python -m worker``'s, on threads: one code path for a
    laptop and a cluster. They serve this experiment only, and stop when the search ends,
    when ``stop`` is set, or when they cannot evaluate it (refused, or a failure to load
    that outlasted ``LOCAL_OBJECTIVE_RETRIES`` retries ``worker_settings.objective_retry_s``
    apart). Raises LocalWorkersStoppedError when they all stopped first.
    """
    worker_settings = replace(worker_settings, exp_key=experiment.exp_key,
                              objective_retries=LOCAL_OBJECTIVE_RETRIES)
    workers_stop = threading.Event()
    local = [_LocalWorker(store, worker_settings, stop=workers_stop, index=index)
             for index in range(workers)]
    for worker in local:
        worker.start()
    search = Search(store, experiment, kind, settings, stop=stop, on_progress=on_progress,
                    workers_gone=lambda: not any(worker.is_alive() for worker in local))
    try:
        outcome = search.run()
    finally:
        workers_stop.set()
        for worker in local:
            worker.join()
    if not outcome.completed and not stop.is_set():
        raise _stopped_error(store, experiment.exp_key, local)
    return outcome


def _stopped_error(store: TrialStore, exp_key: str, local: Sequence[_LocalWorker]
                   ) -> LocalWorkersStoppedError:
    if len(local) == 1:
        subject, owner = "the local worker stopped", "its"
    else:
        subject, owner = f"the {len(local)} local workers stopped", "their"
    reasons = dict.fromkeys(worker.why_stopped(owner) for worker in local)
    parts = [f"{subject} before --max-evals was reached: {'; '.join(reasons)}"]
    resume = ("; fix the cause and run the same command again to resume; the trials "
              "finished so far are kept")
    failed = store.trials(exp_key, states=(TrialState.ERROR,))
    if not failed:
        return LocalWorkersStoppedError("; ".join(parts), after=resume)
    last = max(failed, key=lambda t: (t.end_time is not None, t.end_time, t.tid))
    error = last.result.error if last.result is not None else None
    parts.append(f"the last error (trial {last.tid}): {error or 'none recorded'}")
    parts.append("see every failed trial with ")
    return LocalWorkersStoppedError("; ".join(parts),
                                    ["history", "--exp-key", exp_key, "--state", "error"],
                                    resume)
