"""The worker loop against a SQLite store, with the quadratic test objective."""

from __future__ import annotations

import logging
import multiprocessing.connection
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import worker.evaluator
from shared.errors import ObjectiveUnavailableError, StoreUnavailableError
from shared.objective import register_objective
from shared.store.sqlite import SqliteTrialStore
from shared.trials import Experiment, NewTrial, TrialState
from tests.fakes.quadratic import quadratic_spec, register
from tests.fakes.stores import LostReserveReplyStore
from tests.waiting import wait_for
from worker import ExitReason, Worker, WorkerSettings
from worker.catalogue import ExperimentCatalogue
from worker.evaluator import ProcessEvaluator


@pytest.fixture(autouse=True)
def _quadratic_installed() -> None:
    register()


@pytest.fixture
def store(tmp_path: Path) -> SqliteTrialStore:
    return SqliteTrialStore(tmp_path / "history.sqlite")


def queue(store: SqliteTrialStore, exp_key: str, xs: list[float], **settings: object) -> None:
    store.ensure_experiment(Experiment(exp_key=exp_key, objective=quadratic_spec(**settings)))
    tids = store.next_tids(exp_key, len(xs))
    store.enqueue(exp_key, [NewTrial(tid, {"x": x, "shade": "dark"}, {"idxs": {}, "vals": {}})
                            for tid, x in zip(tids, xs, strict=True)])


def fast(**overrides: object) -> WorkerSettings:
    values: dict[str, object] = {"poll_interval_s": 0.02, "reserve_timeout_s": 0.5,
                                 "trial_timeout_s": 20.0}
    values.update(overrides)
    return WorkerSettings(**values)  # type: ignore[arg-type]


def test_a_worker_evaluates_every_queued_trial_and_records_each_loss(store: SqliteTrialStore
                                                                      ) -> None:
    queue(store, "exp", [1.0, 3.0, -1.0])

    reason = Worker(store, fast()).run()

    trials = store.trials("exp")
    assert reason is ExitReason.IDLE
    assert [t.state for t in trials] == [TrialState.DONE] * 3
    assert [t.loss for t in trials] == [0.0, 4.0, 4.0]


def test_a_worker_counts_as_live_while_it_serves_and_not_once_it_stopped(
        store: SqliteTrialStore, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a worker serving a queued trial, watched from outside while it evaluates
    queue(store, "exp", [1.0])
    seen_while_serving: list[list[str]] = []
    original_finish = store.finish

    def finish_watched(*args: Any, **kwargs: Any) -> Any:
        since = store.now() - timedelta(minutes=1)
        seen_while_serving.append([w.worker_id for w in store.live_workers(seen_since=since)])
        return original_finish(*args, **kwargs)

    monkeypatch.setattr(store, "finish", finish_watched)

    # When it runs out of trials and stops
    worker = Worker(store, fast())
    worker.run()

    # Then it was live while it served, and is no longer once it stopped
    assert seen_while_serving == [[worker.worker_id]]
    assert store.live_workers(seen_since=store.now() - timedelta(minutes=1)) == []


def test_a_worker_that_cannot_remove_its_record_still_stops_as_it_would(
        store: SqliteTrialStore, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    # Given a store that is unreachable when the worker leaves
    queue(store, "exp", [1.0])
    monkeypatch.setattr("worker.loop.RETIRE_GIVE_UP_S", 0.2)

    def unreachable(_worker_id: str) -> None:
        raise StoreUnavailableError("the SQLite store is busy")

    monkeypatch.setattr(store, "retire_worker", unreachable)

    # When it stops
    worker = Worker(store, fast())
    reason = worker.run()

    # Then it stops for its own reason with its trial recorded, saying its record stays
    assert reason is ExitReason.IDLE
    assert [t.state for t in store.trials("exp")] == [TrialState.DONE]
    assert (f"Worker {worker.worker_id} could not remove its record from the store (the "
            "SQLite store is busy); it stops counting as live once its last announcement "
            "is old.") in caplog.text


def _worker_meeting_a_new_experiment(store: SqliteTrialStore, settings: WorkerSettings
                                     ) -> tuple[ExitReason, float]:
    """Run a worker that serves every experiment; 0.3 s in, one is created with a trial,
    which it must evaluate. Its exit reason, and how long it ran."""
    started = time.monotonic()
    creator = threading.Timer(0.3, lambda: queue(store, "late", [1.0]))
    creator.start()
    try:
        reason = Worker(store, settings).run()
    finally:
        creator.join()
    assert [t.state for t in store.trials("late")] == [TrialState.DONE]
    return reason, time.monotonic() - started


def test_an_idle_worker_takes_up_an_experiment_created_after_it_started_within_a_second(
        store: SqliteTrialStore) -> None:
    # Given a worker of every experiment that re-reads them every 60 s while busy, every
    # 0.5 s while idle, and stops after one trial
    settings = fast(reserve_timeout_s=None, max_jobs=1, experiments_refresh_s=60.0,
                    idle_experiments_refresh_s=0.5)

    # When an experiment is created while it waits for work
    reason, ran_s = _worker_meeting_a_new_experiment(store, settings)

    # Then it evaluated that experiment's trial long before the busy interval came round
    assert reason is ExitReason.MAX_JOBS
    assert ran_s < 30


def test_a_worker_looks_for_new_experiments_once_more_before_it_gives_up(
        store: SqliteTrialStore) -> None:
    # Given a worker that re-reads the experiments only every 60 s, idle or not, and gives
    # up after 1 s without a trial
    settings = fast(reserve_timeout_s=1.0, experiments_refresh_s=60.0,
                    idle_experiments_refresh_s=60.0)

    # When an experiment is created while it waits / Then its trial is still evaluated
    # before the worker gives up
    reason, _ = _worker_meeting_a_new_experiment(store, settings)
    assert reason is ExitReason.IDLE


def test_a_reservation_whose_reply_was_lost_is_taken_up_not_left_to_its_lease(
        tmp_path: Path) -> None:
    # Given a store that reserves a trial and then loses the reply, as in an outage
    store = LostReserveReplyStore(tmp_path / "history.sqlite")
    queue(store, "exp", [1.0, 2.0])

    # When a worker serves the experiment
    reason = Worker(store, fast()).run()

    # Then the trial reserved in the lost try is evaluated on that one reservation, and
    # nothing is left running for its lease to lapse
    (lost,) = store.lost_reservations
    trials = {t.tid: t for t in store.trials("exp")}
    assert reason is ExitReason.IDLE
    assert [t.state for t in trials.values()] == [TrialState.DONE] * 2
    assert trials[lost.tid].attempts == 1
    assert trials[lost.tid].loss == 0.0


def test_max_jobs_stops_the_worker_after_that_many_recorded_trials(store: SqliteTrialStore
                                                                   ) -> None:
    queue(store, "exp", [0.0, 1.0, 2.0])

    reason = Worker(store, fast(max_jobs=2)).run()

    assert reason is ExitReason.MAX_JOBS
    assert store.state_counts("exp")[TrialState.NEW] == 1


def test_a_trial_past_its_time_limit_fails_with_timeout_and_the_worker_goes_on(
        store: SqliteTrialStore) -> None:
    queue(store, "exp", [4.0, 1.0], hang_at=2.0)

    reason = Worker(store, fast(trial_timeout_s=1.0)).run()

    hung, normal = store.trials("exp")
    assert reason is ExitReason.IDLE
    assert hung.state is TrialState.ERROR
    assert hung.result is not None and hung.result.error is not None
    assert hung.result.error.startswith("timeout")
    assert normal.state is TrialState.DONE and normal.loss == 0.0


def test_failing_trials_in_a_row_stop_the_worker_with_the_reason(store: SqliteTrialStore
                                                                 ) -> None:
    queue(store, "exp", [0.0, 1.0, 2.0, 3.0], fail_all=True)

    reason = Worker(store, fast(max_consecutive_failures=2)).run()

    assert reason is ExitReason.TOO_MANY_FAILURES
    assert reason.exit_code != 0
    assert store.state_counts("exp")[TrialState.ERROR] == 2
    assert store.state_counts("exp")[TrialState.NEW] == 2


def test_a_stop_request_past_the_grace_period_hands_the_trial_back(store: SqliteTrialStore
                                                                   ) -> None:
    queue(store, "exp", [4.0], hang_at=2.0)
    stop = threading.Event()
    worker = Worker(store, fast(grace_period_s=0.2, reserve_timeout_s=None), stop=stop)
    thread = threading.Thread(target=worker.run)
    thread.start()
    wait_for(lambda: store.state_counts("exp")[TrialState.RUNNING] == 1)

    stop.set()
    thread.join(timeout=10)

    (trial,) = store.trials("exp")
    assert not thread.is_alive()
    assert trial.state is TrialState.NEW
    assert trial.owner is None
    assert trial.attempts == 0


def test_a_stop_request_lets_a_trial_within_the_grace_period_finish(store: SqliteTrialStore
                                                                     ) -> None:
    queue(store, "exp", [1.0], sleep_s=1.0)
    stop = threading.Event()
    worker = Worker(store, fast(grace_period_s=30.0, reserve_timeout_s=None), stop=stop)
    thread = threading.Thread(target=worker.run)
    thread.start()
    wait_for(lambda: store.state_counts("exp")[TrialState.RUNNING] == 1)

    stop.set()
    thread.join(timeout=30)

    (trial,) = store.trials("exp")
    assert trial.state is TrialState.DONE
    assert trial.loss == 0.0


def test_a_worker_refuses_an_experiment_of_another_version_and_serves_the_others(
        store: SqliteTrialStore) -> None:
    queue(store, "matching", [1.0])
    other = quadratic_spec()
    store.ensure_experiment(Experiment(exp_key="newer", objective=type(other)(
        name=other.name, version="quadratic-2", space_version=other.space_version,
        fingerprint=other.fingerprint)))
    store.enqueue("newer", [NewTrial(store.next_tids("newer", 1)[0], {"x": 0.0, "shade": "dark"},
                                     {"idxs": {}, "vals": {}})])

    Worker(store, fast()).run()

    assert store.trials("matching")[0].state is TrialState.DONE
    (untouched,) = store.trials("newer")
    assert untouched.state is TrialState.NEW
    assert untouched.attempts == 0


def test_an_unknown_objective_is_refused_without_failing_its_trials(store: SqliteTrialStore
                                                                    ) -> None:
    register_objective("vanished", "tests.fakes.quadratic:NO_SUCH_KIND")
    spec = quadratic_spec()
    store.ensure_experiment(Experiment(exp_key="exp", objective=type(spec)(
        name="nonexistent", version="1", space_version="1", fingerprint="none")))
    store.enqueue("exp", [NewTrial(0, {"x": 0.0}, {"idxs": {}, "vals": {}})])

    reason = Worker(store, fast()).run()

    assert reason is ExitReason.IDLE
    assert store.trials("exp")[0].state is TrialState.NEW


def test_a_load_failure_that_may_pass_hands_the_trial_back_and_is_retried_after_a_back_off(
        store: SqliteTrialStore, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Given an experiment whose dataset cannot be read the first time it is loaded
    queue(store, "exp", [3.0], unreadable_once=str(tmp_path / "read-once"))
    settings = fast(objective_retry_s=1.0, reserve_timeout_s=5.0, max_jobs=1)

    # When a worker with a back-off of 1 s serves it
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="worker"):
        reason = Worker(store, settings).run()

    # Then it handed the trial back saying when it tries again, left the experiment alone
    # that long, then evaluated the trial without losing an attempt, refusing nothing
    (trial,) = store.trials("exp")
    assert reason is ExitReason.MAX_JOBS
    assert (trial.state, trial.loss, trial.attempts) == (TrialState.DONE, 4.0, 1)
    assert ("Cannot evaluate experiment 'exp' here for now: cannot load the experiment's "
            "dataset here") in caplog.text
    assert "this one tries it again in 1 s" in caplog.text
    assert time.monotonic() - started >= 1.0
    assert "Refusing" not in caplog.text


def test_a_load_failure_that_cannot_pass_refuses_the_experiment_for_good(
        store: SqliteTrialStore, caplog: pytest.LogCaptureFixture) -> None:
    # Given an experiment whose dataset here differs from the experiment's
    queue(store, "exp", [3.0], refuse_load=True)

    # When a worker, however short its back-off, serves it for a while
    with caplog.at_level(logging.INFO, logger="worker"):
        reason = Worker(store, fast(objective_retry_s=0.05, reserve_timeout_s=1.0)).run()

    # Then it refused the experiment once, handed the trial back once, untouched, and
    # never tried again
    (trial,) = store.trials("exp")
    assert reason is ExitReason.IDLE
    assert (trial.state, trial.attempts) == (TrialState.NEW, 0)
    assert caplog.text.count("Refusing the trials of experiment 'exp': the dataset here") == 1
    assert caplog.text.count("handed trial exp/0 back to the queue") == 1
    assert "for now" not in caplog.text


def test_a_worker_told_to_serve_one_experiment_stops_when_it_refuses_that_one_saying_why(
        store: SqliteTrialStore, caplog: pytest.LogCaptureFixture) -> None:
    # Given an experiment whose dataset here differs from the experiment's
    queue(store, "exp", [3.0], refuse_load=True)

    # When a worker told to serve only it (--exp-key) tries its trial
    with caplog.at_level(logging.INFO, logger="worker"):
        reason = Worker(store, fast(exp_key="exp", reserve_timeout_s=10.0)).run()

    # Then it hands the trial back untouched and stops at once, non-zero, saying why
    (trial,) = store.trials("exp")
    assert reason is ExitReason.EXPERIMENT_REFUSED
    assert reason.exit_code == 4
    assert (trial.state, trial.attempts) == (TrialState.NEW, 0)
    assert "This worker serves only it (--exp-key), so it stops." in caplog.text
    assert ("stops after 0 trial(s): it cannot evaluate the one experiment it serves: the "
            "dataset here has fingerprint other") in caplog.text


def test_a_worker_told_to_serve_one_experiment_stops_when_it_is_of_another_version(
        store: SqliteTrialStore) -> None:
    # Given an experiment of another version of the objective
    spec = quadratic_spec()
    store.ensure_experiment(Experiment(exp_key="newer", objective=type(spec)(
        name=spec.name, version="quadratic-2", space_version=spec.space_version,
        fingerprint=spec.fingerprint)))

    # When a worker told to serve only it starts
    reason = Worker(store, fast(exp_key="newer", reserve_timeout_s=10.0)).run()

    # Then it stops without waiting for a trial it could never evaluate
    assert reason is ExitReason.EXPERIMENT_REFUSED


def test_a_worker_with_a_retry_limit_refuses_an_experiment_whose_load_keeps_failing(
        store: SqliteTrialStore, caplog: pytest.LogCaptureFixture) -> None:
    # Given an experiment whose dataset can never be read, for a failure that may pass
    queue(store, "exp", [3.0], unreadable=True)
    settings = fast(exp_key="exp", objective_retries=1, objective_retry_s=0.2,
                    reserve_timeout_s=10.0)

    # When a worker allowed one retry serves it
    with caplog.at_level(logging.INFO, logger="worker"):
        reason = Worker(store, settings).run()

    # Then it deferred the experiment once, refused it when the retry failed too, naming
    # the cause, and stopped; the trial was handed back both times, untouched
    (trial,) = store.trials("exp")
    assert reason is ExitReason.EXPERIMENT_REFUSED
    assert (trial.state, trial.attempts) == (TrialState.NEW, 0)
    assert caplog.text.count("tries it again in 0.2 s") == 1
    assert ("Refusing the trials of experiment 'exp': cannot load the experiment's dataset "
            "here: images/page.png: cannot be read (Input/output error), on purpose (still "
            "so after 1 retry, 0.2 s apart)") in caplog.text
    assert caplog.text.count("handed trial exp/0 back to the queue") == 2


def test_a_load_that_succeeds_clears_the_failures_counted_against_the_retry_limit(
        store: SqliteTrialStore) -> None:
    # Given a catalogue allowing one retry, and an experiment that failed to load once
    queue(store, "exp", [3.0])
    catalogue = ExperimentCatalogue(store, exp_key="exp", refresh_s=10.0,
                                    retry_after_s=0.01, retries=1)
    catalogue.defer("exp", "the dataset could not be read")

    # When a load succeeds, then fails again
    catalogue.loaded("exp")
    catalogue.defer("exp", "the dataset could not be read")

    # Then that failure is the first of a new count, not past the limit; the next one is
    assert catalogue.refusal("exp") is None
    catalogue.defer("exp", "the dataset could not be read")
    assert catalogue.refusal("exp") is not None


def test_an_evaluation_process_that_does_not_start_is_a_failure_that_may_pass(
        store: SqliteTrialStore, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    # Given evaluation processes that never say they are ready
    def never_ready(conn: multiprocessing.connection.Connection) -> bool:
        return False

    monkeypatch.setattr(worker.evaluator, "_await_ready", never_ready)

    # When a trial is evaluated, then the error says a later try may succeed
    with ProcessEvaluator() as evaluator, pytest.raises(ObjectiveUnavailableError,
                                                        match="did not start within"):
        evaluator.evaluate(quadratic_spec(), {"x": 0.0, "shade": "dark"})

    # And when a worker serves a trial so, it hands the trial back with its attempt given
    # back and says it tries the experiment again later, refusing nothing
    queue(store, "exp", [3.0])
    with caplog.at_level(logging.INFO, logger="worker"):
        reason = Worker(store, fast(objective_retry_s=60.0, reserve_timeout_s=0.5)).run()
    (trial,) = store.trials("exp")
    assert reason is ExitReason.IDLE
    assert (trial.state, trial.owner, trial.attempts) == (TrialState.NEW, None, 0)
    assert ("Cannot evaluate experiment 'exp' here for now: the evaluation process did not "
            "start within") in caplog.text
    assert "this one tries it again in 60 s" in caplog.text
    assert "handed trial exp/0 back to the queue" in caplog.text
    assert "Refusing" not in caplog.text
