"""One lease per experiment: the coordinator records it, its reaper and every worker use it."""

from __future__ import annotations

import itertools
import logging
import statistics
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from coordinator.cli import cli
from coordinator.run import RunRequest, objective_spec, run_experiment
from coordinator.settings import SearchSettings
from shared.store.mongo import MongoTrialStore
from shared.store.sqlite import SqliteTrialStore
from shared.store.uri import MongoTarget
from shared.trials import Experiment, NewTrial, TrialState
from tests.fakes.quadratic import quadratic_spec, register
from tests.fakes.stores import AnnounceRecordingStore, BeatRecordingStore
from tests.real_history import mongo_uri
from worker import ExitReason, Worker, WorkerSettings

# A lease short enough that a trial of a second or two sees several beats.
SHORT_LEASE_S = 0.8


def thirty_s_ago() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=30)


@pytest.fixture(autouse=True)
def _quadratic_installed() -> None:
    register()


def test_a_worker_beats_at_a_quarter_of_its_experiments_lease_whatever_its_own_settings(
        tmp_path: Path) -> None:
    # Given an experiment with a 0.8 s lease and one trial that takes 1.5 s, and a worker
    # whose own settings say nothing of leases but poll slowly
    store = BeatRecordingStore(tmp_path / "h.sqlite")
    store.ensure_experiment(Experiment(exp_key="exp", objective=quadratic_spec(sleep_s=1.5),
                                       lease_timeout_s=SHORT_LEASE_S))
    store.enqueue("exp", [NewTrial(0, {"x": 1.0, "shade": "dark"}, {"idxs": {}, "vals": {}})])
    settings = WorkerSettings(poll_interval_s=5.0, reserve_timeout_s=0.0, max_jobs=1)

    # When the worker evaluates the trial
    reason = Worker(store, settings).run()

    # Then it beat at a quarter of the experiment's lease, 0.2 s: never sooner (allowing
    # for the timer), mostly within half the lease, and never so late that the lease could
    # lapse (bounds loose enough for a loaded machine); and it recorded the trial
    interval_s = SHORT_LEASE_S / 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(store.beats)]
    assert reason is ExitReason.MAX_JOBS
    assert store.trials("exp")[0].state is TrialState.DONE
    assert len(gaps) >= 3
    assert min(gaps) >= 0.9 * interval_s
    assert statistics.median(gaps) <= SHORT_LEASE_S / 2
    assert max(gaps) < SHORT_LEASE_S


def test_a_worker_busy_with_a_long_trial_announces_itself_while_it_evaluates(
        tmp_path: Path) -> None:
    # Given a trial of 3 s, and a worker that announces itself every 0.1 s
    store = AnnounceRecordingStore(tmp_path / "h.sqlite")
    store.ensure_experiment(Experiment(exp_key="exp", objective=quadratic_spec(sleep_s=3.0),
                                       lease_timeout_s=SHORT_LEASE_S))
    store.enqueue("exp", [NewTrial(0, {"x": 1.0, "shade": "dark"}, {"idxs": {}, "vals": {}})])
    settings = WorkerSettings(poll_interval_s=0.02, reserve_timeout_s=0.0, max_jobs=1,
                              announce_interval_s=0.1)

    # When the worker evaluates the trial
    Worker(store, settings).run()

    # Then it went on announcing itself between the trial's first and last heartbeat, so
    # the coordinator keeps seeing it live however long its trials take
    during = [at for at in store.announcements if store.beats[0] <= at <= store.beats[-1]]
    assert len(during) >= 3


def test_resuming_with_another_lease_warns_and_keeps_the_stored_one_for_the_reaper(
        mongo_target: MongoTarget, caplog: pytest.LogCaptureFixture) -> None:
    # Given an experiment in MongoDB created with a 60 s lease, whose one trial a worker
    # elsewhere last beat for 30 s ago
    request = RunRequest(objective="sklearn", dataset="iris", exp_key="kept",
                         mongo=mongo_uri(mongo_target), lease_timeout_given=True)
    with MongoTrialStore(mongo_target, clock=thirty_s_ago) as store:
        store.ensure_experiment(Experiment(exp_key="kept", objective=objective_spec(request),
                                           lease_timeout_s=60.0))
        store.enqueue("kept", [NewTrial(0, {"unused": True}, {"idxs": {}, "vals": {}})])
        assert store.reserve("elsewhere:1", ["kept"]) is not None

    # When the coordinator resumes it with --lease-timeout 5 (and a stop already
    # requested, so that it makes one pass: reap, count, stop)
    stop = threading.Event()
    stop.set()
    with caplog.at_level(logging.WARNING, logger="coordinator.run"):
        result = run_experiment(request, SearchSettings(max_evals=1, lease_timeout_s=5.0),
                                stop=stop)

    # Then it warns naming the stored lease, goes on with it, and its reaper leaves the
    # trial with its worker: 30 s without a beat is within 60 s, though not within 5 s
    assert result.experiment.lease_timeout_s == 60.0
    assert "'kept' was created with --lease-timeout 60; it goes on with that lease" in (
        caplog.text)
    with MongoTrialStore(mongo_target) as store:
        (trial,) = store.trials("kept")
    assert (trial.state, trial.owner) == (TrialState.RUNNING, "elsewhere:1")


@pytest.mark.parametrize(("options", "env", "warned"), [
    ([], {}, False),
    (["--lease-timeout", "5"], {}, True),
    ([], {"OCRTUNE_LEASE_TIMEOUT_S": "5"}, True),
])
def test_resuming_warns_of_another_lease_only_when_one_was_asked_for(
        options: list[str], env: dict[str, str], warned: bool, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an experiment created with a 120 s lease, which is not the default
    history = tmp_path / "h.sqlite"
    request = RunRequest(objective="sklearn", dataset="iris", exp_key="kept", history=history)
    with SqliteTrialStore(history) as store:
        store.ensure_experiment(Experiment(exp_key="kept", objective=objective_spec(request),
                                           lease_timeout_s=120.0))
    # ... and a stop already requested, so that the resumed run makes one pass and stops
    stopped = threading.Event()
    stopped.set()
    monkeypatch.setattr("coordinator.cli.stop_on_signals", lambda _what: stopped)

    # When it is resumed without --lease-timeout, or with one on the command line or in
    # OCRTUNE_LEASE_TIMEOUT_S
    result = CliRunner().invoke(cli, [
        "--log-level", "WARNING", "run", "--objective", "sklearn", "--dataset", "iris",
        "--exp-key", "kept", "--history", str(history), "--max-evals", "1", *options],
        env=env)

    # Then only a lease asked for is warned about; the run goes on with the stored one
    assert result.exit_code == 130, result.output
    assert ("'kept' was created with --lease-timeout 120" in result.stderr) is warned
    assert SqliteTrialStore(history).get_experiment("kept").lease_timeout_s == 120.0
