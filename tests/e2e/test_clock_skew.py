"""Hosts whose clocks disagree with the database's still agree on leases.

Workers on other machines stamp heartbeats that the coordinator judges. A MongoDB server
whose clock is an hour behind this host's plays every such disagreement at once: were any
program to compare stored times with its own clock, the coordinator would requeue every
trial as soon as it was reserved and see no live worker.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.store.uri import MongoTarget, parse_mongo_uri
from tests.e2e.database import open_store, uri_with_database
from tests.e2e.programs import REPO_ROOT, Launcher
from tests.e2e.runs import (
    RUN_TIMEOUT_S,
    assert_every_trial_done_once,
    start_search,
    stop_workers,
)
from tests.standin import StandinServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MAX_EVALS = 4
SERVER_BEHIND_S = 3600.0


@pytest.fixture
def skewed_target() -> Iterator[MongoTarget]:
    """A stand-in of the test's own, its clock an hour behind this host's."""
    with StandinServer(clock_offset_s=-SERVER_BEHIND_S) as standin:
        yield parse_mongo_uri(f"{standin.uri}/skew")


def test_a_search_on_a_server_with_another_clock_requeues_nothing(
        skewed_target: MongoTarget, tmp_path: Path) -> None:
    # Given a coordinator and a worker on a server whose clock is an hour behind
    launcher = Launcher(uri_with_database(skewed_target), tmp_path)
    try:
        with open_store(skewed_target) as store:
            coordinator, (worker,) = start_search(launcher, store, exp_key="skew",
                                                  max_evals=MAX_EVALS, workers=1)

            # When the search runs to its end, and status is asked before the worker stops
            code = coordinator.wait(RUN_TIMEOUT_S)
            status = subprocess.run(
                [sys.executable, "-m", "coordinator", "status", "--mongo",
                 launcher.mongo_uri, "--exp-key", "skew"],
                cwd=REPO_ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                check=False)
            worker_codes = stop_workers([worker])
            trials = assert_every_trial_done_once(store, "skew", MAX_EVALS, [worker])
    finally:
        launcher.close()

    # Then no lease expired, every trial took one attempt, and the worker counted as live
    assert code == 0, coordinator.tail()
    assert worker_codes == [0]
    assert "goes back to the queue" not in coordinator.log()
    assert "No worker has been seen" not in coordinator.log()
    assert [t.attempts for t in trials] == [1] * MAX_EVALS
    assert status.returncode == 0, status.stderr
    assert "workers:    1 live:" in status.stdout
