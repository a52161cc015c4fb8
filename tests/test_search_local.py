"""The coordinator's search loop with in-process workers, on a SQLite history file."""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from pathlib import Path

import pytest

from coordinator.local import LocalWorkersStoppedError, run_local
from coordinator.search import SearchOutcome
from coordinator.settings import SearchSettings
from shared.store.sqlite import SqliteTrialStore
from shared.trials import Experiment, Trial, TrialState
from tests.fakes.quadratic import (
    DISCRETE_QUADRATIC,
    QUADRATIC,
    QuadraticKind,
    quadratic_spec,
    register,
)
from worker import WorkerSettings
from worker.settings import MAX_CONSECUTIVE_FAILURES


@pytest.fixture(autouse=True)
def _quadratic_installed() -> None:
    register()


def search(path: Path, max_evals: int, *, kind: QuadraticKind = QUADRATIC, workers: int = 1,
           algo: str = "tpe") -> SearchOutcome:
    with SqliteTrialStore(path) as store:
        experiment = store.ensure_experiment(
            Experiment(exp_key="exp", objective=quadratic_spec(), algo=algo, seed=3))
        return run_local(store, experiment, kind, SearchSettings(max_evals=max_evals,
                                                                 poll_interval_s=0.01),
                         workers=workers, stop=threading.Event(),
                         worker_settings=WorkerSettings(exp_key="exp", poll_interval_s=0.01))


def test_a_local_search_finishes_exactly_max_evals_trials_and_finds_the_minimum(
        tmp_path: Path) -> None:
    outcome = search(tmp_path / "h.sqlite", 40)

    trials = SqliteTrialStore(tmp_path / "h.sqlite").trials("exp")
    assert outcome.completed
    assert len(trials) == 40
    assert {t.state for t in trials} == {TrialState.DONE}
    assert [t.tid for t in trials] == list(range(40))
    assert outcome.best is not None and outcome.best.loss is not None
    assert outcome.best.loss < 0.1


def test_local_workers_of_a_finished_search_say_it_ended_not_that_a_signal_came(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Given a local search that runs to its end
    with caplog.at_level(logging.INFO, logger="worker.loop"):
        search(tmp_path / "h.sqlite", 3)

    # Then its worker's last line gives the search's end as its reason
    (last,) = [m for m in caplog.messages if m.startswith("Worker local-0 stops")]
    assert last.endswith("the local search it evaluated for ended.")
    assert "SIGTERM" not in last


def test_running_again_with_more_evals_resumes_without_repeating_a_trial(tmp_path: Path
                                                                          ) -> None:
    path = tmp_path / "h.sqlite"
    search(path, 10)
    first = {t.tid: t for t in SqliteTrialStore(path).trials("exp")}

    outcome = search(path, 25)

    after = SqliteTrialStore(path).trials("exp")
    assert outcome.snapshot.finished == 25
    assert len(after) == 25
    # The first ten are untouched: same parameters, same results, never re-evaluated.
    for trial in after[:10]:
        assert trial.params == first[trial.tid].params
        assert trial.end_time == first[trial.tid].end_time


def test_running_again_with_fewer_evals_says_there_is_nothing_to_search(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Given a finished search of 6 trials
    search(tmp_path / "h.sqlite", 6)

    # When it is run again with --max-evals 4
    with caplog.at_level(logging.INFO, logger="coordinator.search"):
        outcome = search(tmp_path / "h.sqlite", 4)

    # Then it evaluates nothing and says why
    assert outcome.completed and outcome.snapshot.finished == 6
    assert len(SqliteTrialStore(tmp_path / "h.sqlite").trials("exp")) == 6
    assert ("Experiment 'exp' already has 6 finished trials, --max-evals 4: nothing to "
            "search (a larger --max-evals goes on).") in caplog.messages


def test_a_repeated_configuration_reuses_the_earlier_result_instead_of_evaluating(
        tmp_path: Path) -> None:
    outcome = search(tmp_path / "h.sqlite", 20, kind=DISCRETE_QUADRATIC, algo="rand")

    trials = SqliteTrialStore(tmp_path / "h.sqlite").trials("exp")
    reused = [t for t in trials if t.reused_from is not None]
    evaluated = [t for t in trials if t.reused_from is None]
    # Six distinct configurations exist (three x, two shades): at most six evaluations.
    assert len(trials) == 20
    assert len(evaluated) <= 6
    assert outcome.snapshot.reused == len(reused) >= 14
    for trial in reused:
        source = next(t for t in trials if t.tid == trial.reused_from)
        assert trial.params == source.params
        assert trial.loss == source.loss


def test_two_local_workers_share_the_trials_without_evaluating_one_twice(tmp_path: Path
                                                                          ) -> None:
    search(tmp_path / "h.sqlite", 16, workers=2)

    trials = SqliteTrialStore(tmp_path / "h.sqlite").trials("exp")
    owners = {t.owner for t in trials}
    assert len(trials) == 16
    assert all(t.attempts == 1 for t in trials)
    assert owners == {"local-0", "local-1"}


def test_a_repeat_of_a_trial_still_running_waits_for_its_result_instead_of_running_again(
        tmp_path: Path) -> None:
    outcome = search(tmp_path / "h.sqlite", 24, kind=DISCRETE_QUADRATIC, algo="rand",
                     workers=2)

    trials = SqliteTrialStore(tmp_path / "h.sqlite").trials("exp")
    evaluated = [t for t in trials if t.reused_from is None]
    assert outcome.snapshot.finished == 24
    assert len({t.config_key for t in evaluated}) == len(evaluated)
    assert all(t.loss is not None for t in trials)


class _UnreservableStore(SqliteTrialStore):
    """A history whose workers cannot reserve: the error no worker expects."""

    def reserve(self, worker_id: str, exp_keys: Collection[str] | None = None
                ) -> Trial | None:
        raise RuntimeError("the history file went away")


def failing_search(path: Path, *, workers: int = 1,
                   store_class: type[SqliteTrialStore] = SqliteTrialStore
                   ) -> LocalWorkersStoppedError:
    """Run a local search whose trials all fail; the error it stopped with."""
    with store_class(path) as store:
        experiment = store.ensure_experiment(
            Experiment(exp_key="exp", objective=quadratic_spec(fail_all=True), seed=3))
        with pytest.raises(LocalWorkersStoppedError) as raised:
            run_local(store, experiment, QUADRATIC,
                      SearchSettings(max_evals=50, poll_interval_s=0.01), workers=workers,
                      stop=threading.Event(),
                      worker_settings=WorkerSettings(exp_key="exp", poll_interval_s=0.01))
    return raised.value


def test_a_local_run_whose_trials_all_fail_stops_after_the_failure_limit_saying_why(
        tmp_path: Path) -> None:
    # Given an objective that fails every trial, and a search for 50 trials
    # When the local run searches
    error = failing_search(tmp_path / "h.sqlite")
    message = str(error)

    # Then it stops once its worker gave up, naming the limit, the last error and the fix
    assert message.startswith("the local worker stopped before --max-evals was reached: "
                              f"its trials failed {MAX_CONSECUTIVE_FAILURES} times in a row")
    assert "this objective fails every trial on purpose" in message
    assert "see every failed trial with `python -m coordinator history --exp-key exp " \
        "--state error`; fix" in message
    assert "`python -m coordinator history --exp-key exp --state error --history h.sqlite`" \
        in error.render(" --history h.sqlite")
    assert "run the same command again to resume" in message
    # And every failed trial is kept, none left running
    trials = SqliteTrialStore(tmp_path / "h.sqlite").trials("exp")
    states = [t.state for t in trials]
    assert states.count(TrialState.ERROR) == MAX_CONSECUTIVE_FAILURES
    assert TrialState.RUNNING not in states


def test_a_local_run_stops_only_when_every_one_of_its_workers_has_stopped(
        tmp_path: Path) -> None:
    # Given two local workers whose trials all fail
    # When the run searches
    message = str(failing_search(tmp_path / "h.sqlite", workers=2))

    # Then it stops once both have given up, each after its own streak
    assert message.startswith("the 2 local workers stopped before --max-evals was reached: "
                              f"their trials failed {MAX_CONSECUTIVE_FAILURES} times in a row")
    trials = SqliteTrialStore(tmp_path / "h.sqlite").trials("exp")
    failed = [t for t in trials if t.state is TrialState.ERROR]
    assert len(failed) == 2 * MAX_CONSECUTIVE_FAILURES
    assert {t.owner for t in failed} == {"local-0", "local-1"}


def test_a_local_worker_ended_by_an_unexpected_error_stops_the_run_naming_the_error(
        tmp_path: Path) -> None:
    # Given a history from which the worker cannot reserve a trial
    # When the local run searches
    message = str(failing_search(tmp_path / "h.sqlite", store_class=_UnreservableStore))

    # Then it stops at once, naming the error, instead of waiting for a worker forever
    assert ("the local worker stopped before --max-evals was reached: an unexpected error, "
            "RuntimeError: the history file went away") in message
    assert "run the same command again to resume" in message


def unloadable_search(path: Path, **misbehaviour: bool) -> str:
    """Run a local search whose objective cannot be loaded; the message it stopped with."""
    with SqliteTrialStore(path) as store:
        experiment = store.ensure_experiment(
            Experiment(exp_key="exp", objective=quadratic_spec(**misbehaviour), seed=3))
        with pytest.raises(LocalWorkersStoppedError) as raised:
            run_local(store, experiment, QUADRATIC,
                      SearchSettings(max_evals=5, poll_interval_s=0.01), workers=1,
                      stop=threading.Event(),
                      worker_settings=WorkerSettings(poll_interval_s=0.01,
                                                     objective_retry_s=0.2))
    return str(raised.value)


def test_a_local_run_whose_objective_fails_to_load_again_after_a_retry_stops_saying_why(
        tmp_path: Path) -> None:
    # Given an objective whose dataset cannot be read, a failure that may pass
    # When the local run searches
    message = unloadable_search(tmp_path / "h.sqlite", unreadable=True)

    # Then it stops once the one retry failed too, naming the cause, and fails no trial
    assert message.startswith(
        "the local worker stopped before --max-evals was reached: it cannot evaluate the "
        "one experiment it serves: cannot load the experiment's dataset here: "
        "images/page.png: cannot be read (Input/output error), on purpose (still so after "
        "1 retry, 0.2 s apart)")
    assert "run the same command again to resume" in message
    states = [t.state for t in SqliteTrialStore(tmp_path / "h.sqlite").trials("exp")]
    assert TrialState.ERROR not in states
    assert TrialState.RUNNING not in states


def test_a_local_run_whose_worker_refuses_its_experiment_stops_at_once_saying_why(
        tmp_path: Path) -> None:
    # Given an objective whose dataset's fingerprint differs from the experiment's
    # When the local run searches
    message = unloadable_search(tmp_path / "h.sqlite", refuse_load=True)

    # Then it stops, naming the difference, instead of waiting for a worker forever
    assert message.startswith(
        "the local worker stopped before --max-evals was reached: it cannot evaluate the "
        "one experiment it serves: the dataset here has fingerprint other")
