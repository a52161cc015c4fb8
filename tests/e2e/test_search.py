"""A coordinator and workers, each its own process, finish OCR searches in MongoDB: with
two workers, with one of them killed mid-trial, and with the coordinator killed and
started again."""

from __future__ import annotations

import signal

import pytest

from shared.store.mongo import MongoTrialStore
from shared.trials import TrialState
from tests.e2e.database import finished_count, trial
from tests.e2e.programs import Launcher
from tests.e2e.runs import (
    RUN_TIMEOUT_S,
    STEP_TIMEOUT_S,
    assert_every_trial_done_once,
    frozen_mid_trial,
    start_search,
    stop_workers,
)
from tests.e2e.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MAX_EVALS = 8


def test_a_coordinator_and_two_workers_finish_every_trial_once(
        launcher: Launcher, store: MongoTrialStore) -> None:
    # Given a coordinator and two workers on one experiment
    coordinator, workers = start_search(launcher, store, exp_key="two", max_evals=MAX_EVALS,
                                        workers=2)

    # When the coordinator has run to the end and the workers are stopped
    code = coordinator.wait(RUN_TIMEOUT_S)
    worker_codes = stop_workers(workers)

    # Then every trial was evaluated once and is DONE with a loss, and the best is shown
    assert code == 0, coordinator.tail()
    assert worker_codes == [0, 0]
    trials = assert_every_trial_done_once(store, "two", MAX_EVALS, workers)
    best = min(trials, key=lambda t: (t.loss, t.tid))
    assert f"Best loss {best.loss:.4f} (trial {best.tid})" in coordinator.output()
    assert f"{MAX_EVALS} trials finished, 0 failed" in coordinator.output()


def test_a_trial_of_a_killed_worker_is_requeued_and_finished_by_the_other(
        launcher: Launcher, store: MongoTrialStore) -> None:
    # Given a search with two workers, one of them in the middle of a trial
    coordinator, (victim, survivor) = start_search(launcher, store, exp_key="kill",
                                                   max_evals=MAX_EVALS, workers=2)

    # When that worker is killed outright (kill -9)
    with frozen_mid_trial(victim, store, "kill") as orphan:
        victim.send(signal.SIGKILL)
    victim.wait()
    code = coordinator.wait(RUN_TIMEOUT_S)
    (survivor_code,) = stop_workers([survivor])

    # Then its trial went back to the queue and the other worker finished it; every trial
    # is DONE once, and the run ended normally
    assert code == 0, coordinator.tail()
    assert survivor_code == 0
    requeued = trial(store, "kill", orphan.tid)
    assert (requeued.state, requeued.attempts) == (TrialState.DONE, 2)
    assert requeued.owner == survivor.worker_id
    assert f"Trial kill/{orphan.tid}: its worker stopped beating" in coordinator.log()
    assert_every_trial_done_once(store, "kill", MAX_EVALS, [victim, survivor])


def test_a_coordinator_killed_and_started_again_resumes_without_losing_or_repeating_trials(
        launcher: Launcher, store: MongoTrialStore) -> None:
    # Given a search part-way through
    first, workers = start_search(launcher, store, exp_key="resume", max_evals=MAX_EVALS,
                                  workers=2)
    wait_until(lambda: finished_count(store, "resume") >= 3, what="three finished trials",
               timeout_s=STEP_TIMEOUT_S, watch=[first, *workers])

    # When the coordinator is killed outright, then started again with the same command
    first.send(signal.SIGKILL)
    first.wait()
    stored = store.trials("resume")
    before = {t.tid: t for t in stored if t.state is TrialState.DONE}
    pending = {t.tid: t.params for t in stored if t.state.is_pending}
    second = launcher.start("coordinator-again", first.argv)
    code = second.wait(RUN_TIMEOUT_S)
    worker_codes = stop_workers(workers)

    # Then it goes on from the stored trials: those finished before keep their results,
    # those queued before are evaluated as they were, none is evaluated twice, and
    # exactly max-evals trials are finished
    assert code == 0, second.tail()
    assert worker_codes == [0, 0]
    after = {t.tid: t for t in assert_every_trial_done_once(store, "resume", MAX_EVALS,
                                                             workers)}
    assert {tid: (t.result, t.end_time) for tid, t in before.items()} == {
        tid: (after[tid].result, after[tid].end_time) for tid in before}
    assert pending == {tid: after[tid].params for tid in pending}
    assert f"Experiment 'resume': {len(stored)} trial(s) in the history" in second.log()


def test_a_coordinator_without_workers_says_so_and_stops_on_sigterm(
        launcher: Launcher, store: MongoTrialStore) -> None:
    # Given a coordinator that warns after 1 s without a worker, and no worker
    coordinator = launcher.coordinator(exp_key="alone", max_evals=2,
                                       options=["--no-worker-warning", "1"])

    # When it has waited a while, and is then stopped
    wait_until(lambda: "No worker has been seen" in coordinator.log(),
               what="the warning that no worker is alive", timeout_s=STEP_TIMEOUT_S,
               watch=[coordinator])
    coordinator.send(signal.SIGTERM)
    code = coordinator.wait()

    # Then the warning said how to start a worker, and it stopped saying the search can
    # be resumed, with the queued trial kept
    warning = next(line for line in coordinator.log().splitlines()
                   if "No worker has been seen" in line)
    assert "python -m worker --mongo" in warning
    assert "--exp-key alone" in warning
    assert code == 130
    assert "the same command resumes the search" in coordinator.log()
    assert store.state_counts("alone")[TrialState.NEW] >= 1
