"""A worker whose copy of the dataset differs from the experiment's refuses its trials,
naming both fingerprints, hands the trial it took back untouched, and, told to serve only
that experiment, stops with a non-zero exit saying why."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from shared.store.mongo import MongoTrialStore
from shared.trials import TrialState
from tests.e2e.database import QUICK_PARAMS, create_ocr_experiment, queue_params, trial
from tests.e2e.programs import SAMPLE_DATA, Launcher
from tests.e2e.runs import STEP_TIMEOUT_S

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_worker_with_another_dataset_refuses_the_experiment_hands_its_trial_back_and_stops(
        launcher: Launcher, store: MongoTrialStore,
        make_dataset: Callable[[Mapping[str, str]], Path]) -> None:
    # Given an experiment on the sample data, and a worker told to serve it (--exp-key)
    # but pointed at other data
    experiment = create_ocr_experiment(store, "moved", SAMPLE_DATA)
    (tid,) = queue_params(store, "moved", [QUICK_PARAMS])
    elsewhere = make_dataset({"page": "not the sample data"})
    worker = launcher.worker("--exp-key", "moved", "--data-dir", str(elsewhere))

    # When it has tried the experiment's trial
    code = worker.wait(timeout_s=STEP_TIMEOUT_S)

    # Then it stopped by itself with exit code 4, the refusal names both fingerprints,
    # and the trial waits as it was queued
    log = worker.log()
    assert code == 4, worker.tail()
    refusal = next(line for line in log.splitlines() if "Refusing" in line)
    assert f"but the experiment's has {experiment.objective.fingerprint}" in refusal
    assert str(elsewhere.resolve()) in refusal
    assert "This worker serves only it (--exp-key), so it stops." in refusal
    assert "stops after 0 trial(s): it cannot evaluate the one experiment it serves" in log
    handed_back = trial(store, "moved", tid)
    assert (handed_back.state, handed_back.owner, handed_back.attempts,
            handed_back.result) == (TrialState.NEW, None, 0, None)
