"""SIGTERM to a worker in the middle of a trial: the trial is finished within the grace
period, or handed straight back to the queue, and the worker exits 0 (``docker compose
stop`` loses nothing)."""

from __future__ import annotations

import signal

import pytest

from shared.store.mongo import MongoTrialStore
from shared.trials import TrialState
from tests.e2e import procfs
from tests.e2e.database import (
    QUICK_PARAMS,
    SLOW_PARAMS,
    create_ocr_experiment,
    queue_params,
    running_trial_of,
    trial,
)
from tests.e2e.programs import SAMPLE_DATA, Launcher
from tests.e2e.runs import STEP_TIMEOUT_S, assert_nothing_left, frozen_mid_trial
from tests.e2e.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Processor seconds after which an evaluation process is surely evaluating: starting it
# and loading the sample data take well under one; the slow trial takes over ten.
BUSY_CPU_S = 2.0


def test_sigterm_without_grace_hands_the_running_trial_back_at_once_and_exits_0(
        launcher: Launcher, store: MongoTrialStore) -> None:
    # Given a worker with no grace period, evaluating a trial that takes many seconds
    create_ocr_experiment(store, "handback", SAMPLE_DATA)
    (tid,) = queue_params(store, "handback", [SLOW_PARAMS])
    worker = launcher.worker("--exp-key", "handback", "--grace-period", "0")
    wait_until(lambda: running_trial_of(store, "handback", worker.worker_id),
               what="the worker to reserve the trial", timeout_s=STEP_TIMEOUT_S,
               watch=[worker])
    wait_until(lambda: any(p.cpu_s >= BUSY_CPU_S for p in procfs.live_descendants(worker.pid)),
               what="the worker's evaluation process to be busy with the trial",
               timeout_s=STEP_TIMEOUT_S, watch=[worker])

    # When it is told to stop
    worker.send(signal.SIGTERM)
    code = worker.wait()

    # Then the trial is back in the queue unevaluated, as if never reserved, and nothing
    # the worker started is left running
    handed_back = trial(store, "handback", tid)
    assert code == 0, worker.tail()
    assert (handed_back.state, handed_back.owner) == (TrialState.NEW, None)
    assert (handed_back.attempts, handed_back.result) == (0, None)
    assert f"handed trial handback/{tid} back to the queue" in worker.log()
    assert_nothing_left(worker)


def test_a_second_sigterm_cuts_the_grace_period_short_and_hands_the_trial_back(
        launcher: Launcher, store: MongoTrialStore) -> None:
    # Given a worker with a long grace period, stopped once in a trial of many seconds
    create_ocr_experiment(store, "hurry", SAMPLE_DATA)
    (tid,) = queue_params(store, "hurry", [SLOW_PARAMS])
    worker = launcher.worker("--exp-key", "hurry", "--grace-period", "600")
    wait_until(lambda: any(p.cpu_s >= BUSY_CPU_S for p in procfs.live_descendants(worker.pid)),
               what="the worker's evaluation process to be busy with the trial",
               timeout_s=STEP_TIMEOUT_S, watch=[worker])
    worker.send(signal.SIGTERM)
    wait_until(lambda: "SIGTERM received" in worker.log(), what="the worker to log the stop",
               timeout_s=STEP_TIMEOUT_S, watch=[worker])

    # When it is told again, long before the grace period or the trial could end
    worker.send(signal.SIGTERM)
    code = worker.wait()

    # Then the trial goes back to the queue unevaluated, saying why, and nothing is left
    handed_back = trial(store, "hurry", tid)
    assert code == 0, worker.tail()
    assert (handed_back.state, handed_back.attempts, handed_back.result) == (
        TrialState.NEW, 0, None)
    assert "SIGTERM again: a running trial is handed back now." in worker.log()
    assert "a second stop request cut its 600 s grace period short" in worker.log()
    assert_nothing_left(worker)


def test_sigterm_within_the_grace_period_lets_the_trial_finish_and_takes_no_other(
        launcher: Launcher, store: MongoTrialStore) -> None:
    # Given a worker with a long grace period and three quick trials queued
    create_ocr_experiment(store, "grace", SAMPLE_DATA)
    queue_params(store, "grace", [QUICK_PARAMS] * 3)
    worker = launcher.worker("--exp-key", "grace", "--grace-period", "120")

    # When it is told to stop while it holds a trial
    with frozen_mid_trial(worker, store, "grace") as held:
        worker.send(signal.SIGTERM)
    code = worker.wait()

    # Then that trial is recorded by this worker, the later ones were not reserved, and
    # the worker exits 0
    finished = trial(store, "grace", held.tid)
    later = [t for t in store.trials("grace") if t.tid > held.tid]
    assert code == 0, worker.tail()
    assert (finished.state, finished.owner) == (TrialState.DONE, worker.worker_id)
    assert finished.loss is not None
    log = worker.log()
    assert log.index("SIGTERM received") < log.index(f"finished trial grace/{held.tid}")
    assert later
    assert all((t.state, t.attempts) == (TrialState.NEW, 0) for t in later)
