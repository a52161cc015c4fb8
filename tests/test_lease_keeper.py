"""The heartbeat thread outlives whatever announcing the worker raises from it."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from shared.errors import StoreError, StoreUnavailableError
from shared.trials import Experiment, NewTrial, Trial, TrialState
from tests.fakes.quadratic import quadratic_spec, register
from tests.fakes.stores import BeatRecordingStore, FailingAnnounceStore
from tests.waiting import wait_for
from worker import Worker, WorkerSettings
from worker.lease import LeaseKeeper

# A lease of 0.8 s: beats every 0.2 s, so a trial of 1.5 s sees several.
LEASE_S = 0.8
TRIAL_S = 1.5


@pytest.fixture(autouse=True)
def _quadratic_installed() -> None:
    register()


def reserved_trial(store: BeatRecordingStore) -> Trial:
    store.ensure_experiment(Experiment(exp_key="exp", objective=quadratic_spec(
        sleep_s=TRIAL_S), lease_timeout_s=LEASE_S))
    store.enqueue("exp", [NewTrial(0, {"x": 1.0, "shade": "dark"}, {"idxs": {}, "vals": {}})])
    trial = store.reserve("w1", ["exp"])
    assert trial is not None
    return trial


@pytest.mark.parametrize("error", [
    StoreError("the workers collection refused the write"),
    StoreUnavailableError("the store cannot be reached"),
    # Not store errors: the host name cannot be read, a driver error left unwrapped.
    OSError("[Errno 24] Too many open files"),
    RuntimeError("an error the store did not wrap"),
])
def test_an_announcement_that_raises_is_logged_and_the_heartbeats_go_on(
        error: Exception, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Given a lease keeper whose every announcement raises
    store = BeatRecordingStore(tmp_path / "h.sqlite")
    trial = reserved_trial(store)
    announcements: list[float] = []

    def announce() -> None:
        announcements.append(time.monotonic())
        raise error

    # When it keeps the lease until several announcements have failed
    with caplog.at_level(logging.WARNING, logger="worker.lease"), LeaseKeeper(
            store, trial, interval_s=0.05, announce=announce, announce_every_s=0.02) as keeper:
        wait_for(lambda: len(announcements) >= 3
                 and sum(beat > announcements[2] for beat in store.beats) >= 3,
                 what="three beats after three failed announcements")

    # Then it beat on after the failures, kept the lease, and said what happens next, with
    # the traceback when the error was not the store's
    assert not keeper.lost
    assert ("Trial exp/0: announcing the worker failed" in caplog.text
            and "heartbeats go on, next announcement in 0.0 s" in caplog.text)
    tracebacks = [record for record in caplog.records if record.exc_info is not None]
    assert bool(tracebacks) is not isinstance(error, StoreError)


def test_a_heartbeat_that_raises_an_unexpected_error_is_logged_and_the_beats_go_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Given a lease keeper whose first two heartbeats raise an error the store did not wrap
    store = BeatRecordingStore(tmp_path / "h.sqlite",
                               beat_error=RuntimeError("an error the store did not wrap"),
                               failing_beats=2)
    trial = reserved_trial(store)

    # When it keeps the lease until three more beats have come
    with caplog.at_level(logging.WARNING, logger="worker.lease"), LeaseKeeper(
            store, trial, interval_s=0.05) as keeper:
        wait_for(lambda: len(store.beats) >= 5, what="five heartbeats")

    # Then both failures were logged with their traceback and the lease was kept
    assert not keeper.lost
    failures = [record for record in caplog.records
                if "heartbeat failed on an unexpected error" in record.getMessage()]
    assert len(failures) == 2
    assert all(record.exc_info is not None for record in failures)


@pytest.mark.parametrize("error", [
    StoreError("the workers collection refused the write"),
    StoreUnavailableError("the store cannot be reached"),
    OSError("[Errno 24] Too many open files"),
])
def test_a_worker_whose_announcements_fail_mid_trial_keeps_beating_through_a_stop_request(
        error: Exception, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Given a store that takes the worker's first announcement and fails every later one,
    # and a worker that announces every 0.1 s
    store = FailingAnnounceStore(tmp_path / "h.sqlite", error)
    store.ensure_experiment(Experiment(exp_key="exp", objective=quadratic_spec(
        sleep_s=TRIAL_S), lease_timeout_s=LEASE_S))
    store.enqueue("exp", [NewTrial(0, {"x": 1.0, "shade": "dark"}, {"idxs": {}, "vals": {}})])
    stop = threading.Event()
    settings = WorkerSettings(poll_interval_s=0.02, announce_interval_s=0.1,
                              grace_period_s=30.0)
    worker = Worker(store, settings, stop=stop)
    thread = threading.Thread(target=worker.run)

    # When it evaluates the trial, and a stop is requested while it does
    with caplog.at_level(logging.WARNING, logger="worker.lease"):
        thread.start()
        wait_for(lambda: store.state_counts("exp")[TrialState.RUNNING] == 1)
        stop.set()
        stopped_at = store.beats[-1] if store.beats else 0.0
        thread.join(timeout=30)

    # Then the announcements failed, the beats went on after the stop request, and the
    # trial finished within its grace period, recorded by its worker
    (trial,) = store.trials("exp")
    assert not thread.is_alive()
    assert store.failed_announcements >= 3
    assert len([beat for beat in store.beats if beat > stopped_at]) >= 2
    assert (trial.state, trial.loss, trial.attempts) == (TrialState.DONE, 0.0, 1)
    assert "announcing the worker failed" in caplog.text
