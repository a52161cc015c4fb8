"""Faults and bad input, with coordinator and workers as processes (issue 7): experiments
of another version, trials past their time limit, parameters a worker cannot use, trials
that keep failing, and a search in which every trial fails."""

from __future__ import annotations

import shlex
import signal
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.collection import Collection

from shared.jsontypes import JsonObject
from shared.ocr_objective import OBJECTIVE_VERSION
from shared.params import SPACE_VERSION
from shared.store.documents import new_trial_document
from shared.store.mongo import MongoTrialStore
from shared.store.uri import MongoTarget, redact_uri
from shared.trials import NewTrial, TrialState
from tests.e2e import procfs
from tests.e2e.database import (
    QUICK_PARAMS,
    create_ocr_experiment,
    queue_params,
    trial,
)
from tests.e2e.programs import SAMPLE_DATA, Launcher
from tests.e2e.runs import (
    RUN_TIMEOUT_S,
    STEP_TIMEOUT_S,
    assert_nothing_left,
    start_search,
    stop_workers,
)
from tests.e2e.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# A page of 80 lines: the tesseract program takes several seconds on it whatever the
# preprocessing, so a one- or two-second time limit always stops it mid-read.
PAGE_TEXT = "\n".join(f"{n} the quick brown fox jumps over the lazy dog" for n in range(80))


@pytest.fixture
def raw_jobs(mongo_target: MongoTarget) -> Iterator[Collection[dict[str, Any]]]:
    """The test database's jobs collection through pymongo, bypassing the store."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_target.uri)
    try:
        yield client[mongo_target.database]["jobs"]
    finally:
        client.close()


@pytest.fixture
def page_dataset(make_dataset: Callable[[Mapping[str, str]], Path]) -> Path:
    return make_dataset({"page": PAGE_TEXT})


def test_a_worker_refuses_experiments_of_other_versions_saying_which_and_serves_the_rest(
        launcher: Launcher, store: MongoTrialStore) -> None:
    # Given experiments written by other releases, with trials queued, and a coordinator
    # searching an experiment of this release
    create_ocr_experiment(store, "older-objective", SAMPLE_DATA, version="ocr-objective-0")
    create_ocr_experiment(store, "older-space", SAMPLE_DATA, space_version="space-0")
    for exp_key in ("older-objective", "older-space"):
        queue_params(store, exp_key, [QUICK_PARAMS] * 2)

    # When a worker that serves every experiment runs until the search is done
    coordinator, _ = start_search(launcher, store, exp_key="current", max_evals=3, workers=0)
    worker = launcher.worker()
    code = coordinator.wait(RUN_TIMEOUT_S)
    (worker_code,) = stop_workers([worker])

    # Then the matching search completed, the others' trials are untouched, and the log
    # names the versions that differ
    assert (code, worker_code) == (0, 0), coordinator.tail() + worker.tail()
    assert [t.state for t in store.trials("current")] == [TrialState.DONE] * 3
    for exp_key in ("older-objective", "older-space"):
        assert [(t.state, t.owner, t.attempts) for t in store.trials(exp_key)] == [
            (TrialState.NEW, None, 0)] * 2
    log = worker.log()
    assert ("Refusing the trials of experiment 'older-objective': objective 'ocr': objective "
            f"version is 'ocr-objective-0' in the experiment but {OBJECTIVE_VERSION!r} here"
            ) in log
    assert ("Refusing the trials of experiment 'older-space': objective 'ocr': search-space "
            f"version is 'space-0' in the experiment but {SPACE_VERSION!r} here") in log


def test_a_trial_past_its_time_limit_fails_with_timeout_leaving_no_ocr_process_behind(
        launcher: Launcher, store: MongoTrialStore, page_dataset: Path) -> None:
    # Given a trial that reads a long page with the tesseract program, and a quick one of
    # another experiment after it
    create_ocr_experiment(store, "a-page", page_dataset, engine="pytesseract")
    (slow,) = queue_params(store, "a-page", [QUICK_PARAMS])
    create_ocr_experiment(store, "b-sample", SAMPLE_DATA)
    (quick,) = queue_params(store, "b-sample", [QUICK_PARAMS])

    # When a worker with a two-second limit per trial takes them on
    worker = launcher.worker("--trial-timeout", "2")
    reader = wait_until(
        lambda: next((p for p in worker.session() if p.name == "tesseract"), None),
        what="tesseract reading the page", timeout_s=STEP_TIMEOUT_S, watch=[worker])
    wait_until(lambda: trial(store, "b-sample", quick).state is TrialState.DONE,
               what="the quick trial after the slow one", timeout_s=STEP_TIMEOUT_S,
               watch=[worker])

    # Then the slow trial failed with "timeout", the evaluation process and the tesseract
    # it started are gone, and the worker went on to the next trial
    stopped = trial(store, "a-page", slow)
    assert stopped.state is TrialState.ERROR
    assert stopped.result is not None and stopped.result.error is not None
    assert stopped.result.error.startswith("timeout")
    assert procfs.live_in_group(reader.pgid) == []
    assert not procfs.is_alive(reader.pid)
    worker.send(signal.SIGTERM)
    assert worker.wait() == 0
    assert_nothing_left(worker)


def test_jobs_with_missing_or_out_of_range_parameters_fail_with_the_reason_and_work_goes_on(
        launcher: Launcher, store: MongoTrialStore, raw_jobs: Collection[dict[str, Any]]
        ) -> None:
    # Given jobs written straight into the jobs collection: three with parameters no release
    # would write, one whose parameters are not even an object, then a good one
    create_ocr_experiment(store, "bad", SAMPLE_DATA)
    bad: list[tuple[JsonObject, str]] = [
        ({"binarise": None}, "resize is missing"),
        ({"resize": {"glyph_height_px": 400}},
         "resize.glyph_height_px=400 is outside the allowed range"),
        ({**QUICK_PARAMS, "denoise": {"h": 4, "template_window": 7, "search_window": 21}},
         "denoise.h=4 must be odd"),
    ]
    unreadable, good = len(bad), len(bad) + 1
    raw_jobs.insert_many([
        *(job_document("bad", tid, params) for tid, (params, _) in enumerate(bad)),
        {**job_document("bad", unreadable, QUICK_PARAMS), "spec": "glyph_height_px=16"},
        job_document("bad", good, QUICK_PARAMS)])

    # When a worker takes them on
    worker = launcher.worker("--exp-key", "bad")
    wait_until(lambda: trial(store, "bad", good).state is TrialState.DONE,
               what="the good trial after the bad ones", timeout_s=STEP_TIMEOUT_S,
               watch=[worker])
    (code,) = stop_workers([worker])

    # Then each bad trial failed saying what is wrong with it, and the worker went on
    for tid, (_, reason) in enumerate(bad):
        failed = trial(store, "bad", tid)
        assert failed.state is TrialState.ERROR
        assert failed.result is not None and failed.result.error is not None
        assert reason in failed.result.error
    not_a_trial = raw_jobs.find_one({"exp_key": "bad", "tid": unreadable})
    assert not_a_trial is not None
    assert not_a_trial["state"] == TrialState.ERROR
    assert "field 'spec' is 'glyph_height_px=16'" in not_a_trial["result"]["error"]
    assert trial(store, "bad", good).loss is not None
    assert code == 0


def test_a_worker_whose_trials_fail_n_times_in_a_row_stops_with_a_non_zero_exit_saying_why(
        launcher: Launcher, store: MongoTrialStore) -> None:
    # Given four trials that all fail
    create_ocr_experiment(store, "failing", SAMPLE_DATA)
    queue_params(store, "failing", [{"resize": {"glyph_height_px": 1}}] * 4)

    # When a worker that tolerates two failures in a row takes them on
    worker = launcher.worker("--exp-key", "failing", "--max-consecutive-failures", "2")
    code = worker.wait()

    # Then it stops after two, exits non-zero, and says why
    counts = store.state_counts("failing")
    assert code == 3
    assert (counts[TrialState.ERROR], counts[TrialState.NEW]) == (2, 2)
    assert ("stops after 2 trial(s): its trials failed 2 times in a row "
            "(--max-consecutive-failures)") in worker.log()


def test_a_search_in_which_every_trial_fails_ends_non_zero_without_a_best(
        launcher: Launcher, store: MongoTrialStore, page_dataset: Path) -> None:
    # Given a search whose every trial outlasts the workers' time limit
    coordinator, workers = start_search(
        launcher, store, exp_key="hopeless", max_evals=2, workers=1, data_dir=page_dataset,
        coordinator_options=["--engine", "pytesseract"],
        worker_options=["--trial-timeout", "1"])

    # When the search has run
    code = coordinator.wait(RUN_TIMEOUT_S)
    stop_workers(workers)

    # Then it ends with an error saying every trial failed, and names no best
    assert code != 0
    # (the suggested command repeats a URI without a password, and stands in for one with)
    uri = launcher.mongo_uri
    store_option = "<your URI>" if redact_uri(uri) != uri else shlex.quote(uri)
    assert ("every trial failed, so there is no best configuration; see the errors with "
            "`python -m coordinator history --exp-key hopeless --state error --mongo "
            f"{store_option}`") in coordinator.log()
    assert "Best loss" not in coordinator.output()
    trials = store.trials("hopeless")
    assert [t.state for t in trials] == [TrialState.ERROR] * 2
    assert all(t.result is not None and t.result.error is not None
               and t.result.error.startswith("timeout") for t in trials)


def job_document(exp_key: str, tid: int, params: JsonObject) -> dict[str, Any]:
    """A queued job as the store writes it."""
    return new_trial_document(exp_key, NewTrial(tid, params, {"idxs": {}, "vals": {}}))
