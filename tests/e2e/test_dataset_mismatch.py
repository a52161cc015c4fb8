"""A worker whose copy of the dataset differs from the experiment's refuses its trials,
naming both fingerprints, and hands the trial it took back untouched."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from shared.store.mongo import MongoTrialStore
from shared.trials import TrialState
from tests.e2e.database import QUICK_PARAMS, create_ocr_experiment, queue_params, trial
from tests.e2e.programs import SAMPLE_DATA, Launcher
from tests.e2e.runs import STEP_TIMEOUT_S, stop_workers
from tests.e2e.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_worker_with_another_dataset_refuses_the_experiment_and_hands_its_trial_back(
        launcher: Launcher, store: MongoTrialStore,
        make_dataset: Callable[[Mapping[str, str]], Path]) -> None:
    # Given an experiment on the sample data, and a worker pointed at other data
    experiment = create_ocr_experiment(store, "moved", SAMPLE_DATA)
    (tid,) = queue_params(store, "moved", [QUICK_PARAMS])
    elsewhere = make_dataset({"page": "not the sample data"})
    worker = launcher.worker("--exp-key", "moved", "--data-dir", str(elsewhere))

    # When it has tried the experiment's trial
    wait_until(lambda: "Refusing the trials of experiment 'moved'" in worker.log(),
               what="the worker to refuse the experiment", timeout_s=STEP_TIMEOUT_S,
               watch=[worker])
    wait_until(lambda: trial(store, "moved", tid).state is TrialState.NEW,
               what="the trial to be handed back", timeout_s=STEP_TIMEOUT_S, watch=[worker])
    (code,) = stop_workers([worker])

    # Then the refusal names both fingerprints, and the trial waits as it was queued
    refusal = next(line for line in worker.log().splitlines() if "Refusing" in line)
    assert f"but the experiment's has {experiment.objective.fingerprint}" in refusal
    assert str(elsewhere.resolve()) in refusal
    handed_back = trial(store, "moved", tid)
    assert (handed_back.owner, handed_back.attempts, handed_back.result) == (None, 0, None)
    assert code == 0
