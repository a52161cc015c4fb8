"""Trials that fail in ways no real objective should: an escaping error, an evaluation
process killed, losses that are not finite numbers. Each fails only its own trial, with the
reason, and never becomes the best; the worker (its evaluation in a child process) goes on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from coordinator.best import best_trial
from shared.store.sqlite import SqliteTrialStore
from shared.trials import Experiment, NewTrial, TrialState
from tests.fakes.misbehaving import MISBEHAVIOURS, OK_LOSS, misbehaving_spec, register
from worker import ExitReason, Worker, WorkerSettings

pytestmark = pytest.mark.slow  # one evaluation process per killed one: a few seconds

# What each misbehaviour leaves in the failed trial's error.
REASONS = {
    "raise": "RuntimeError: the objective broke on purpose",
    "die": "the evaluation process died (exit code -9)",
    "nan": "non-finite loss (nan)",
    "inf": "non-finite loss (inf)",
    "text": "loss of type str, not a number",
    "ok-nan": "ValueError: an OK result needs a finite loss",
}


@pytest.fixture(autouse=True)
def _misbehaving_installed() -> None:
    register()


def test_each_misbehaving_trial_fails_with_its_reason_and_the_worker_goes_on(
        tmp_path: Path) -> None:
    # Given one trial of each misbehaviour queued before a trial that scores normally
    store = SqliteTrialStore(tmp_path / "history.sqlite")
    store.ensure_experiment(Experiment(exp_key="bad", objective=misbehaving_spec()))
    hows = [*MISBEHAVIOURS, "ok"]
    store.enqueue("bad", [NewTrial(tid, {"how": how}, {"idxs": {}, "vals": {}})
                          for tid, how in zip(store.next_tids("bad", len(hows)), hows,
                                              strict=True)])

    # When a worker that tolerates that many failures in a row serves them
    reason = Worker(store, WorkerSettings(poll_interval_s=0.02, reserve_timeout_s=0.5,
                                          max_consecutive_failures=len(hows))).run()

    # Then every misbehaving trial is ERROR without a loss, saying why; the last one is
    # DONE, and it is the best
    trials = store.trials("bad")
    assert reason is ExitReason.IDLE
    for trial, how in zip(trials, MISBEHAVIOURS, strict=False):
        assert trial.state is TrialState.ERROR, how
        assert trial.loss is None, how
        assert trial.result is not None and trial.result.error is not None
        assert REASONS[how] in trial.result.error, how
    assert (trials[-1].state, trials[-1].loss) == (TrialState.DONE, OK_LOSS)
    assert best_trial("bad", trials).tid == trials[-1].tid
    store.close()
