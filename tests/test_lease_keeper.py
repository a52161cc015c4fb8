"""The heartbeat thread outlives whatever announcing the worker raises from it."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from shared.errors import StoreError, StoreUnavailableError
from shared.retry import StopRequestedError
from shared.trials import Experiment, NewTrial, Trial, TrialState
from tests.fakes.quadratic import quadratic_spec, register
from tests.fakes.stores import BeatRecordingStore, FailingAnnounceStore
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
    StopRequestedError("stop requested while retrying: announcing the worker"),
])
def test_an_announcement_that_raises_is_logged_and_the_heartbeats_go_on(
        error: Exception, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Given a lease keeper whose every announcement raises
    store = BeatRecordingStore(tmp_path / "h.sqlite")
    trial = reserved_trial(store)

    def announce() -> None:
        raise error

    # When it keeps the lease for half a second
    with caplog.at_level(logging.WARNING, logger="worker.lease"), LeaseKeeper(
            store, trial, interval_s=0.05, announce=announce, announce_every_s=0.02) as keeper:
        time.sleep(0.5)

    # Then it beat all along, kept the lease, and said what happens next
    assert len(store.beats) >= 5
    assert not keeper.lost
    assert ("Trial exp/0: announcing the worker failed" in caplog.text
            and "heartbeats go on, next announcement in 0.0 s" in caplog.text)


@pytest.mark.parametrize("error", [
    StoreError("the workers collection refused the write"),
    StoreUnavailableError("the store cannot be reached"),
])
def test_a_worker_whose_announcements_fail_mid_trial_keeps_beating_through_a_stop_request(
        error: StoreError, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
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


def wait_for(condition: object, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")
