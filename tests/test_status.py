"""``coordinator status``: trials by state, workers, pace and time left, on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coordinator.hints import StoreOptions
from coordinator.status import summarise, time_left, trials_per_minute
from coordinator.status_text import describe_status, duration
from shared.store.mongo import MongoTrialStore
from shared.store.sqlite import SqliteTrialStore
from shared.store.uri import MongoTarget
from shared.trials import (
    Experiment,
    ObjectiveSpec,
    Trial,
    TrialResult,
    TrialState,
    WorkerInfo,
)
from tests.real_history import (
    EXP_KEY,
    FAILED_KEY,
    WORKER_ID,
    RealHistory,
    announce,
    evaluated_results,
    fill,
    invoke,
    mongo_uri,
    real_history,
)

NOW = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory) -> RealHistory:
    return real_history(tmp_path_factory)


def finished(tid: int, *, started_min_ago: float, ended_min_ago: float) -> Trial:
    return Trial("exp", tid, TrialState.DONE, {"x": tid}, {},
                 book_time=NOW - timedelta(minutes=started_min_ago),
                 end_time=NOW - timedelta(minutes=ended_min_ago),
                 result=TrialResult.ok(float(tid)))


def pending(tid: int, state: TrialState) -> Trial:
    return Trial("exp", tid, state, {"x": tid}, {})


# -- the pace and the time left ---------------------------------------------------------


def test_the_pace_counts_only_the_trials_that_ended_within_the_window() -> None:
    # Given an experiment that has run for an hour, three trials ending in the last ten
    # minutes and two long before
    trials = [finished(0, started_min_ago=60, ended_min_ago=50),
              finished(1, started_min_ago=50, ended_min_ago=40),
              finished(2, started_min_ago=12, ended_min_ago=8),
              finished(3, started_min_ago=8, ended_min_ago=5),
              finished(4, started_min_ago=5, ended_min_ago=1)]

    # When the pace is measured over ten minutes
    pace = trials_per_minute(trials, now=NOW, window_s=600)

    # Then it is three trials in ten minutes
    assert pace == pytest.approx(0.3)


def test_a_young_experiment_has_its_pace_measured_from_its_first_start() -> None:
    # Given two trials, the first started two minutes ago
    trials = [finished(0, started_min_ago=2, ended_min_ago=1),
              finished(1, started_min_ago=1, ended_min_ago=0)]

    # When the pace is measured over a ten-minute window
    pace = trials_per_minute(trials, now=NOW, window_s=600)

    # Then the two minutes count, not the ten
    assert pace == pytest.approx(1.0)


def test_no_pace_is_given_when_no_trial_ended_in_the_window() -> None:
    trials = [finished(0, started_min_ago=60, ended_min_ago=30), pending(1, TrialState.NEW)]

    assert trials_per_minute(trials, now=NOW, window_s=600) is None


def test_with_max_evals_the_time_left_counts_every_trial_still_to_finish() -> None:
    # Given 8 finished trials (one failed) and 2 pending, at 2 trials a minute
    counts = {TrialState.DONE: 7, TrialState.ERROR: 1, TrialState.RUNNING: 1,
              TrialState.NEW: 1}

    # When the search runs to 20 trials
    left = time_left(counts, 2.0, 20)

    # Then 12 trials remain, 6 minutes' worth, and that is the whole estimate
    assert (left.trials, left.seconds, left.at_least) == (12, 360.0, False)


def test_without_max_evals_the_time_left_is_a_lower_bound_from_the_pending_trials() -> None:
    counts = {TrialState.DONE: 7, TrialState.ERROR: 1, TrialState.RUNNING: 1,
              TrialState.NEW: 2}

    left = time_left(counts, 0.5, None)

    assert (left.trials, left.seconds, left.at_least) == (3, 360.0, True)


def test_the_time_left_is_unknown_without_a_pace() -> None:
    counts = dict.fromkeys(TrialState, 0) | {TrialState.NEW: 2}

    assert time_left(counts, None, None).seconds is None


def test_the_summary_counts_states_reuse_and_names_the_lowest_loss() -> None:
    # Given a done trial, a better one, a reuse of the first, a failure and a running one
    experiment = Experiment("exp", ObjectiveSpec("ocr", "1", "1", "f"))
    trials = [finished(5, started_min_ago=3, ended_min_ago=2),
              finished(1, started_min_ago=2, ended_min_ago=1),
              Trial("exp", 2, TrialState.DONE, {"x": 5}, {}, end_time=NOW,
                    result=TrialResult.ok(5.0), reused_from=5),
              Trial("exp", 3, TrialState.ERROR, {}, {}, result=TrialResult.failed("bad")),
              Trial("exp", 4, TrialState.RUNNING, {}, {}, owner="w1",
                    refresh_time=NOW - timedelta(seconds=7))]

    # When it is summarised
    status = summarise(experiment, trials, [], now=NOW)

    # Then each state is counted, the reuse too, and trial 1 is the best
    assert [status.count(s) for s in TrialState] == [0, 1, 3, 1]
    assert status.reused == 1
    assert status.best is not None and status.best.tid == 1
    assert [(r.tid, r.owner, r.heartbeat_age_s) for r in status.running] == [(4, "w1", 7.0)]


@pytest.mark.parametrize(("workers", "time_left"), [
    ([], "unknown for the 1 trial pending: no worker is live to evaluate them"),
    ([WorkerInfo("w1", "host", 7, NOW, "exp", ("ocr",))],
     "at least 3 min for the 1 trial pending (pass --max-evals"),
])
def test_the_time_left_needs_a_live_worker_and_counts_one_trial_as_one(
        workers: list[WorkerInfo], time_left: str) -> None:
    # Given a finished trial and one queued (a local run that stopped, or one going on)
    experiment = Experiment("exp", ObjectiveSpec("ocr", "1", "1", "f"))
    trials = [finished(0, started_min_ago=3, ended_min_ago=2), pending(1, TrialState.NEW)]

    # When its status is written
    text = describe_status(summarise(experiment, trials, workers, now=NOW), window_s=600,
                           store=StoreOptions())

    # Then the time left is given only while a worker can take the trial
    assert f"time left:  {time_left}" in text


@pytest.mark.parametrize(("seconds", "text"), [
    (4.4, "4 s"), (200, "3 min 20 s"), (600, "10 min"), (7500, "2 h 05 min")])
def test_durations_read_in_the_largest_sensible_units(seconds: float, text: str) -> None:
    assert duration(seconds) == text


# -- the command on the real history ----------------------------------------------------


@pytest.mark.slow
def test_status_shows_each_experiment_its_trials_best_loss_and_live_worker(
        real: RealHistory, tmp_path: Path) -> None:
    # Given the real history, with its worker seen just now
    history = real.copy(tmp_path)
    with SqliteTrialStore(history) as store:
        announce(store)

    # When the status of every experiment is asked for
    result = invoke("status", "--history", history)

    # Then each experiment has its block, with what the history holds
    assert result.exit_code == 0, result.output
    sample = result.output.split("\n\n")[0]
    assert f"Experiment {EXP_KEY} " in sample
    assert "4 done (1 reusing an earlier result), 1 error, 1 running, 1 new" in sample
    assert f"best loss:  {real.results[3].loss:.4f} (trial 3)" in sample
    assert "workers:    1 live" in sample and WORKER_ID in sample
    assert f"running:    trial 5 on {WORKER_ID}" in sample
    assert "ocr-empty" in result.output
    assert (f"none: every trial failed (see `python -m coordinator history --exp-key "
            f"ocr-all-failed --state error --history {history}`)") in result.output


@pytest.mark.slow
def test_status_with_max_evals_counts_the_trials_still_to_suggest(real: RealHistory) -> None:
    result = invoke("status", "--history", real.path, "--exp-key", EXP_KEY,
                    "--max-evals", "20")

    # 5 finished of 20: 15 remain, whatever the pace
    assert result.exit_code == 0, result.output
    assert "the 15 trials still to finish" in result.output
    assert "ocr-empty" not in result.output


@pytest.mark.slow
def test_status_of_an_unknown_experiment_names_the_known_ones(real: RealHistory) -> None:
    result = invoke("status", "--history", real.path, "--exp-key", "nope")

    assert result.exit_code == 1
    assert "no experiment 'nope'" in result.output
    assert repr(FAILED_KEY) in result.output


def test_status_refuses_a_history_file_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite"

    result = invoke("status", "--history", missing)

    assert result.exit_code == 1
    assert f"there is no history file {missing}" in result.output
    assert not missing.exists()  # and it did not create one


def test_status_of_a_store_without_experiments_says_how_to_start_one(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    SqliteTrialStore(path).close()

    result = invoke("status", "--history", path)

    assert result.exit_code == 1
    assert "holds no experiment yet" in result.output


def test_status_of_an_unreachable_database_fails_within_the_uris_timeout() -> None:
    # Given a URI whose port nothing listens on, with a half-second server selection
    uri = "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500"

    # When the status is asked for
    result = invoke("status", "--mongo", uri)

    # Then it ends with the store's message, naming the server, not a traceback
    assert result.exit_code == 1
    assert "could not be reached" in result.output
    assert "127.0.0.1:1" in result.output


# -- the command on MongoDB -----------------------------------------------------------------


@pytest.mark.slow
def test_status_reads_the_same_history_from_mongodb(mongo_target: MongoTarget) -> None:
    # Given the real history's trials recorded in MongoDB
    with MongoTrialStore(mongo_target) as store:
        fill(store, evaluated_results())

    # When the status is asked for through --mongo
    result = invoke("status", "--mongo", mongo_uri(mongo_target), "--exp-key", EXP_KEY)

    # Then it reports what the SQLite history reports
    assert result.exit_code == 0, result.output
    assert "4 done (1 reusing an earlier result), 1 error, 1 running, 1 new" in result.output
    assert f"best loss:  {evaluated_results()[3].loss:.4f} (trial 3)" in result.output
    assert WORKER_ID in result.output
