"""Steps the end-to-end tests share: start a search, catch a worker mid-trial, check the
outcome."""

from __future__ import annotations

import contextlib
import re
import signal
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from shared.store.mongo import MongoTrialStore
from shared.trials import Trial, TrialState
from tests.e2e.database import running_trial_of
from tests.e2e.programs import (
    LEASE_TIMEOUT_S,
    SAMPLE_DATA,
    Launcher,
    Program,
    wait_for_exits,
)
from tests.e2e.waiting import POLL_S, wait_until

# The search's seed. Suggestions depend only on the seed and the trial id for TPE's first
# 20 trials; seed 28's first ten each take under 5 s on the sample data, where seed 0's
# fifth (non-local-means denoising of enlarged images) takes 12-18 s.
SEED = 28
# Waits for something that takes a few trials; generous for a busy two-core machine.
STEP_TIMEOUT_S = 90.0
# Waits for a whole search of up to ten trials.
RUN_TIMEOUT_S = 180.0
# Ample time for a request already sent to reach a server on this machine and be applied.
IN_FLIGHT_S = 0.3
# How long a process of an exited program may take to end on its own: multiprocessing's
# resource tracker, started with the first evaluation process, exits once it notices that
# its parent is gone.
LINGER_S = 10.0


def start_search(launcher: Launcher, store: MongoTrialStore, *, exp_key: str,
                 max_evals: int, workers: int, data_dir: Path = SAMPLE_DATA,
                 coordinator_options: Sequence[str] = (),
                 worker_options: Sequence[str] = (),
                 lease_timeout_s: float = LEASE_TIMEOUT_S) -> tuple[Program, list[Program]]:
    """A coordinator, and once it has created the experiment, ``workers`` workers for it.

    Workers start after the experiment exists, so that each serves it from its first
    look rather than finding it on a later one (``IDLE_EXPERIMENTS_REFRESH_S``).
    """
    coordinator = launcher.coordinator(
        exp_key=exp_key, max_evals=max_evals, data_dir=data_dir, lease_timeout_s=lease_timeout_s,
        options=["--seed", str(SEED), *coordinator_options])
    wait_until(lambda: exp_key in {e.exp_key for e in store.list_experiments()},
               what=f"the coordinator to create experiment {exp_key!r}",
               timeout_s=STEP_TIMEOUT_S, watch=[coordinator])
    started = [launcher.worker("--exp-key", exp_key, *worker_options) for _ in range(workers)]
    return coordinator, started


def stop_workers(workers: Sequence[Program]) -> list[int]:
    """SIGTERM every worker, as ``docker compose stop`` would; their exit codes."""
    for worker in workers:
        worker.send(signal.SIGTERM)
    return wait_for_exits(workers)


@contextlib.contextmanager
def frozen_mid_trial(worker: Program, store: MongoTrialStore, exp_key: str
                     ) -> Iterator[Trial]:
    """Freeze ``worker`` (SIGSTOP) at a moment it holds a running trial; yield that trial.

    While frozen the worker cannot record or hand back anything, so the trial read is
    still its own when the test acts (kills it, or signals it). Resumed (SIGCONT) after.
    """
    while True:
        wait_until(lambda: running_trial_of(store, exp_key, worker.worker_id),
                   what=f"{worker.name} to hold a running trial", timeout_s=STEP_TIMEOUT_S,
                   watch=[worker])
        worker.send(signal.SIGSTOP)
        # A write the worker sent just before it froze (its result) still reaches the
        # server; read the trial after that.
        time.sleep(IN_FLIGHT_S)
        held = running_trial_of(store, exp_key, worker.worker_id)
        if held is not None:
            break
        worker.send(signal.SIGCONT)  # it finished the trial in between; catch the next one
    try:
        yield held
    finally:
        if worker.exit_code is None:
            worker.send(signal.SIGCONT)


def assert_nothing_left(program: Program) -> None:
    """Fail unless every process of the exited ``program``'s session ends by itself soon:
    evaluation processes and the tesseract they started must already be gone."""
    deadline = time.monotonic() + LINGER_S
    while (left := program.session()) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    assert left == [], f"{program.name} left processes behind: {left}"


def finished_lines(workers: Sequence[Program], exp_key: str) -> list[int]:
    """The tids of every "finished trial" line in the workers' logs, repeats kept."""
    pattern = re.compile(rf"finished trial {re.escape(exp_key)}/(\d+):")
    return [int(tid) for worker in workers for tid in pattern.findall(worker.log())]


def assert_all_done(store: MongoTrialStore, exp_key: str, max_evals: int) -> list[Trial]:
    """Exactly ``max_evals`` trials exist, with distinct tids, each DONE with a loss.

    Tids may skip a number: a coordinator killed between allocating a tid and queueing
    its trial leaves that tid unused, which the store's contract allows.
    """
    trials = store.trials(exp_key)
    tids = [t.tid for t in trials]
    assert len(set(tids)) == len(tids) == max_evals
    assert [t.state for t in trials] == [TrialState.DONE] * max_evals
    assert all(t.result is not None and t.result.is_ok and t.loss is not None
               for t in trials)
    return trials


def assert_every_trial_done_once(store: MongoTrialStore, exp_key: str, max_evals: int,
                                 workers: Sequence[Program]) -> list[Trial]:
    """``assert_all_done``, and each trial evaluated once: a reused result is recorded by
    the coordinator, every other one by one worker, once."""
    trials = assert_all_done(store, exp_key, max_evals)
    evaluated = [t.tid for t in trials if t.reused_from is None]
    assert sorted(finished_lines(workers, exp_key)) == evaluated
    return trials
