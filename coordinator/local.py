"""The local run: the search and its workers in one process, trials in a SQLite file."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from coordinator.search import Search, SearchOutcome, SearchSnapshot
from coordinator.settings import SearchSettings
from shared.objective import ObjectiveKind
from shared.store.base import TrialStore
from shared.trials import Experiment
from worker import Worker, WorkerSettings

logger = logging.getLogger(__name__)


def run_local(store: TrialStore, experiment: Experiment, kind: ObjectiveKind,
              settings: SearchSettings, *, workers: int, worker_settings: WorkerSettings,
              stop: threading.Event,
              on_progress: Callable[[SearchSnapshot], None] | None = None) -> SearchOutcome:
    """Search with ``workers`` in-process workers, each evaluating in its own child process.

    The workers are the same as ``python -m worker``'s, on threads: one code path for a
    laptop and a cluster. They stop when the search ends or ``stop`` is set.
    """
    workers_stop = threading.Event()
    threads = [
        threading.Thread(
            target=Worker(store, worker_settings, stop=workers_stop,
                          worker_id=f"local-{index}").run,
            name=f"local-worker-{index}", daemon=True)
        for index in range(workers)
    ]
    for thread in threads:
        thread.start()
    search = Search(store, experiment, kind, settings, stop=stop, on_progress=on_progress)
    try:
        return search.run()
    finally:
        workers_stop.set()
        for thread in threads:
            thread.join()
