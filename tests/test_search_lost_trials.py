"""The search loop when the store loses what it queued, and while no worker is alive."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import pytest

from coordinator.search import Search
from coordinator.settings import SearchSettings
from shared.errors import VanishedTrialsError
from shared.store.sqlite import SqliteTrialStore
from shared.trials import Experiment, TrialState
from tests.e2e.waiting import wait_until
from tests.fakes.quadratic import QUADRATIC, quadratic_spec, register


@pytest.fixture(autouse=True)
def _quadratic_installed() -> None:
    register()


def search_in_thread(path: Path, settings: SearchSettings, stop: threading.Event
                     ) -> tuple[threading.Thread, list[BaseException]]:
    """A search with no worker, run in a thread; what it raised lands in the list.

    The history is made first, so that the test's own looks at it never race the search
    to create the file.
    """
    errors: list[BaseException] = []
    with SqliteTrialStore(path) as store:
        experiment = store.ensure_experiment(
            Experiment(exp_key="exp", objective=quadratic_spec(), seed=3))

    def search() -> None:
        try:
            with SqliteTrialStore(path) as store:
                Search(store, experiment, QUADRATIC, settings, stop=stop).run()
        except BaseException as err:  # noqa: BLE001 (a thread's error is lost otherwise)
            errors.append(err)

    thread = threading.Thread(target=search)
    thread.start()
    return thread, errors


def queued(path: Path) -> int:
    with SqliteTrialStore(path) as store:
        return store.state_counts("exp")[TrialState.NEW]


def test_a_queued_trial_deleted_from_the_store_stops_the_search_saying_why(
        tmp_path: Path) -> None:
    # Given a search waiting for the result of the trial it queued
    path = tmp_path / "h.sqlite"
    stop = threading.Event()
    thread, errors = search_in_thread(
        path, SearchSettings(max_evals=3, poll_interval_s=0.01), stop)
    try:
        wait_until(lambda: queued(path) == 1, timeout_s=30, what="a queued trial")

        # When the trial is deleted behind its back (or the database loses it)
        with sqlite3.connect(path) as db:
            db.execute("DELETE FROM trials WHERE exp_key = 'exp'")

        # Then the search stops, instead of waiting forever, saying what happened
        thread.join(timeout=30)
    finally:
        stop.set()
        thread.join()
    assert len(errors) == 1 and isinstance(errors[0], VanishedTrialsError), errors
    assert ("trials 0 of experiment 'exp' are no longer in the store: deleted, or the "
            "database was restored from an older copy or restarted without its data"
            ) in str(errors[0])
    assert "run the same command again to go on from what the store holds" in str(errors[0])


def test_the_no_worker_warning_gives_the_time_since_a_worker_was_last_seen(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Given a search with trials queued and no worker, warning every 0.4 s
    stop = threading.Event()
    with caplog.at_level(logging.WARNING, logger="coordinator.search"):
        thread, errors = search_in_thread(
            tmp_path / "h.sqlite",
            SearchSettings(max_evals=3, poll_interval_s=0.01, no_worker_warning_s=0.4), stop)
        try:
            # When it has warned a few times
            wait_until(lambda: len(warnings(caplog)) >= 3, timeout_s=30, what="3 warnings")
        finally:
            stop.set()
            thread.join()

    # Then each warning counts the whole wait, not the time since the previous one
    assert errors == []
    waited = [float(line.split(" for ")[1].split(" s ")[0]) for line in warnings(caplog)]
    assert waited == sorted(waited) and waited[2] > waited[0], waited


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [m for m in caplog.messages if m.startswith("No worker has been seen for")]
