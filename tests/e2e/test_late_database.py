"""Programs started before what they need (a cluster starts pods in any order): before
their database, they retry until it answers; a worker started before its experiment waits
for the coordinator to create it. Either way the search runs to the end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.store.mongo import MongoTrialStore
from shared.store.uri import parse_mongo_uri
from tests.e2e.database import open_store
from tests.e2e.programs import Launcher, Program
from tests.e2e.runs import RUN_TIMEOUT_S, STEP_TIMEOUT_S, assert_all_done, stop_workers
from tests.e2e.waiting import wait_until
from tests.standin import StandinServer
from tests.standin.plan import MONGO_URI_ENV

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DATABASE = "e2e_late"
# The programs give up on finding the server after 1 s, so that their retries show soon.
QUICK_SELECTION = "serverSelectionTimeoutMS=1000"
RETRY_PHRASE = "; try 2 in "


@pytest.fixture
def standin() -> Iterator[StandinServer]:
    """A stand-in of this test's own, since the test starts it late."""
    if os.environ.get(MONGO_URI_ENV):
        pytest.skip(f"{MONGO_URI_ENV} names a real server, which this test cannot start "
                    "late; unset it to run the test on the stand-in")
    with StandinServer() as server:
        yield server


def wait_for_retry(program: Program) -> None:
    wait_until(lambda: RETRY_PHRASE in program.log(), what=f"{program.name} to retry",
               timeout_s=STEP_TIMEOUT_S, watch=[program])


def test_a_search_started_before_its_database_completes_once_the_database_is_up(
        standin: StandinServer, tmp_path: Path) -> None:
    # Given a database that is down
    standin.stop()
    launcher = Launcher(f"{standin.uri}/{DATABASE}?{QUICK_SELECTION}", tmp_path)
    try:
        # When a coordinator and a worker start, and the database comes up once both
        # have said they will try again
        coordinator = launcher.coordinator(exp_key="late", max_evals=2)
        worker = launcher.worker("--exp-key", "late")
        for program in (coordinator, worker):
            wait_for_retry(program)
        standin.start()
        code = coordinator.wait(RUN_TIMEOUT_S)
        (worker_code,) = stop_workers([worker])
    finally:
        launcher.close()

    # Then the search ran to the end with every trial done
    assert (code, worker_code) == (0, 0), coordinator.tail() + worker.tail()
    with open_store(parse_mongo_uri(f"{standin.uri}/{DATABASE}")) as store:
        assert isinstance(store, MongoTrialStore)
        assert_all_done(store, "late", 2)


def test_a_worker_started_before_its_experiment_waits_for_it_and_serves_it(
        launcher: Launcher, store: MongoTrialStore) -> None:
    # Given a worker for an experiment that does not exist yet
    worker = launcher.worker("--exp-key", "later")
    wait_until(lambda: "Experiment 'later' does not exist yet" in worker.log(),
               what="the worker to wait for the experiment", timeout_s=STEP_TIMEOUT_S,
               watch=[worker])

    # When a coordinator creates it and searches
    coordinator = launcher.coordinator(exp_key="later", max_evals=2)
    code = coordinator.wait(RUN_TIMEOUT_S)
    (worker_code,) = stop_workers([worker])

    # Then the worker served it: the search ran to the end
    assert (code, worker_code) == (0, 0), coordinator.tail() + worker.tail()
    assert {t.owner for t in assert_all_done(store, "later", 2)} == {worker.worker_id}
