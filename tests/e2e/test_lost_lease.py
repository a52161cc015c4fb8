"""A worker that lost its lease while it evaluated (frozen past the lease, its trial requeued
and finished by another worker) cannot write over the new owner's result, and goes on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.store.mongo import MongoTrialStore
from shared.trials import TrialState
from tests.e2e.database import QUICK_PARAMS, create_ocr_experiment, queue_params, trial
from tests.e2e.programs import LEASE_TIMEOUT_S, SAMPLE_DATA, Launcher
from tests.e2e.runs import STEP_TIMEOUT_S, finished_lines, frozen_mid_trial, stop_workers
from tests.e2e.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# What the first worker logs when it finds its lease gone: at its next heartbeat, or when
# it tries to record.
LOST_PHRASES = ("lease lost while evaluating", "is no longer this worker's")


def test_a_worker_that_lost_its_lease_keeps_the_new_owners_result_and_goes_on(
        launcher: Launcher, store: MongoTrialStore) -> None:
    # Given a worker frozen while it holds a trial
    create_ocr_experiment(store, "lease", SAMPLE_DATA)
    (tid,) = queue_params(store, "lease", [QUICK_PARAMS])
    first = launcher.worker("--exp-key", "lease", name="first")
    with frozen_mid_trial(first, store, "lease"):

        # When its lease expires, the reaper requeues the trial, and another worker
        # records it; then the first one wakes up
        wait_until(lambda: store.requeue_stale(
            "lease", older_than=datetime.now(UTC) - timedelta(seconds=LEASE_TIMEOUT_S),
            max_attempts=3).requeued, what="the frozen worker's lease to expire",
            timeout_s=STEP_TIMEOUT_S, watch=[first])
        second = launcher.worker("--exp-key", "lease", name="second")
        wait_until(lambda: trial(store, "lease", tid).state is TrialState.DONE,
                   what="the second worker's result", timeout_s=STEP_TIMEOUT_S,
                   watch=[second])
        recorded = trial(store, "lease", tid)
    wait_until(lambda: any(phrase in first.log() for phrase in LOST_PHRASES),
               what="the first worker to find its lease lost", timeout_s=STEP_TIMEOUT_S,
               watch=[first])
    codes = stop_workers([first, second])

    # Then the second worker's result stands, recorded once, and both exit 0
    assert codes == [0, 0]
    assert (recorded.owner, recorded.attempts) == (second.worker_id, 2)
    assert trial(store, "lease", tid) == recorded
    assert finished_lines([first, second], "lease") == [tid]
    assert f"finished trial lease/{tid}" in second.log()
