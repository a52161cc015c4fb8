"""A search rides out its MongoDB server stopping for a few seconds (the stand-in, paused
or restarted with its data kept): nothing is lost, and the logs say when the next try is."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.store.mongo import MongoTrialStore
from shared.store.uri import parse_mongo_uri
from shared.trials import TrialState
from tests.e2e.database import (
    QUICK_PARAMS,
    create_ocr_experiment,
    finished_count,
    open_store,
    queue_params,
    trial,
)
from tests.e2e.programs import LEASE_TIMEOUT_S, SAMPLE_DATA, Launcher
from tests.e2e.runs import (
    RUN_TIMEOUT_S,
    STEP_TIMEOUT_S,
    assert_all_done,
    finished_lines,
    frozen_mid_trial,
    start_search,
    stop_workers,
)
from tests.e2e.waiting import wait_until
from tests.standin import StandinServer
from tests.standin.plan import MONGO_URI_ENV

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DATABASE = "e2e_outage"
# The programs give up on a silent server after 1.5 s, and on finding one after 3 s, so
# that an outage of a few seconds shows in their logs (the defaults wait 20 s and 30 s).
QUICK_TIMEOUTS = "socketTimeoutMS=1500&connectTimeoutMS=1500&serverSelectionTimeoutMS=3000"
OUTAGE_S = 6.0
# Longer than the outages: leases survive them, so no trial is evaluated twice.
PATIENT_LEASE_S = 30.0
RETRY_LINE = re.compile(r"try \d+ in \d+(\.\d+)? s")


@pytest.fixture
def standin() -> Iterator[StandinServer]:
    """A stand-in of this test's own, since the test stops it."""
    if os.environ.get(MONGO_URI_ENV):
        pytest.skip(f"{MONGO_URI_ENV} names a real server, which this test cannot pause or "
                    "restart; unset it to run the outage tests on the stand-in")
    with StandinServer() as server:
        yield server


@pytest.fixture
def launcher(standin: StandinServer, tmp_path: Path) -> Iterator[Launcher]:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    programs = Launcher(f"{standin.uri}/{DATABASE}?{QUICK_TIMEOUTS}", log_dir)
    try:
        yield programs
    finally:
        programs.close()


@pytest.fixture
def store(standin: StandinServer) -> Iterator[MongoTrialStore]:
    with open_store(parse_mongo_uri(f"{standin.uri}/{DATABASE}")) as opened:
        assert isinstance(opened, MongoTrialStore)
        yield opened


def test_a_search_completes_through_a_paused_and_a_restarted_server_and_logs_its_retries(
        standin: StandinServer, launcher: Launcher, store: MongoTrialStore) -> None:
    # Given a search with two workers under way
    exp_key, max_evals = "outage", 6
    coordinator, workers = start_search(launcher, store, exp_key=exp_key,
                                        max_evals=max_evals, workers=2,
                                        lease_timeout_s=PATIENT_LEASE_S)
    everyone = [coordinator, *workers]
    wait_until(lambda: finished_count(store, exp_key) >= 1, what="a finished trial",
               timeout_s=STEP_TIMEOUT_S, watch=everyone)

    # When the server freezes for a while, then later goes down and comes back with its data
    standin.pause()
    time.sleep(OUTAGE_S)
    standin.resume()
    wait_until(lambda: finished_count(store, exp_key) >= 3,
               what="more finished trials after the pause", timeout_s=STEP_TIMEOUT_S,
               watch=everyone)
    standin.stop()
    time.sleep(OUTAGE_S)
    standin.start()
    code = coordinator.wait(RUN_TIMEOUT_S)
    worker_codes = stop_workers(workers)

    # Then the search completes with every trial reserved and evaluated once, and the logs
    # said when they would try again. (A worker may not have logged a result: one whose
    # reply was lost in the pause was applied while the worker still waited to retry.)
    assert code == 0, coordinator.tail()
    assert worker_codes == [0, 0]
    trials = assert_all_done(store, exp_key, max_evals)
    assert [t.attempts for t in trials] == [1] * max_evals
    logged = finished_lines(workers, exp_key)
    assert len(logged) == len(set(logged))
    retries = [line for program in everyone for line in program.log().splitlines()
               if RETRY_LINE.search(line)]
    assert retries, "no program logged a retry:\n" + "\n".join(p.tail() for p in everyone)


def test_a_worker_records_a_result_after_an_outage_longer_than_its_lease(
        standin: StandinServer, launcher: Launcher, store: MongoTrialStore) -> None:
    # Given a worker holding a trial, and no coordinator that could requeue it meanwhile
    create_ocr_experiment(store, "record", SAMPLE_DATA)
    (tid,) = queue_params(store, "record", [QUICK_PARAMS])
    worker = launcher.worker("--exp-key", "record")

    # When the server goes down before the result is recorded, for longer than the lease
    with frozen_mid_trial(worker, store, "record"):
        standin.stop()
    wait_until(lambda: f"while recording trial record/{tid}" in worker.log(),
               what="the worker to meet the outage as it records", timeout_s=STEP_TIMEOUT_S,
               watch=[worker])
    # Past the lease timeout by several retries: a worker that gave up at the lease timeout
    # would have done so by now.
    time.sleep(2 * LEASE_TIMEOUT_S + 4)
    standin.start()

    # Then the worker records its result once the server is back, and stops cleanly
    recorded = wait_until(lambda: trial(store, "record", tid).state is TrialState.DONE,
                          what="the result to be recorded", timeout_s=STEP_TIMEOUT_S,
                          watch=[worker])
    worker.send(signal.SIGTERM)
    assert recorded
    assert worker.wait() == 0
    stored = trial(store, "record", tid)
    assert (stored.owner, stored.attempts) == (worker.worker_id, 1)
    assert stored.loss is not None
