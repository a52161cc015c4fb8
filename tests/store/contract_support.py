"""Fixtures, sample values and concurrency helpers shared by the store contract suite."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol

import pytest

from shared.store.base import TrialStore
from shared.trials import Experiment, NewTrial, ObjectiveSpec, Trial, TrialResult, TrialState

# A guard against a hung child process or thread, not a measurement: every task here takes
# well under a second.
_CONCURRENCY_TIMEOUT_S = 120.0
PROCESSES = 4
THREADS = 8


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class StoreFactory(Protocol):
    def __call__(self, *, clock: Callable[[], datetime] = ..., read_only: bool = ...
                 ) -> TrialStore: ...


# What ``corrupt_trial`` stores as a trial's ``spec``: not a mapping, so no reader takes it.
MALFORMED_SPEC = "not an object"


class CorruptTrial(Protocol):
    """Overwrite the stored ``spec`` of a trial with ``MALFORMED_SPEC``, behind the store's
    back, as a hand edit or another program might."""

    def __call__(self, exp_key: str, tid: int) -> None: ...


def make_experiment(exp_key: str = "exp-a", *, version: str = "1", lang: str = "eng",
                    data_dir: str = "/data/photos", seed: int = 0) -> Experiment:
    spec = ObjectiveSpec(name="ocr", version=version, space_version="1", fingerprint="f00d",
                         settings={"data_dir": data_dir, "lang": lang, "engine": "tesserocr"})
    return Experiment(exp_key=exp_key, objective=spec, seed=seed)


def new_trial(tid: int) -> NewTrial:
    return NewTrial(tid=tid, params={"resize": {"glyph_height_px": 20 + tid}},
                    hyperopt_misc={"idxs": {"glyph": [tid]}, "vals": {"glyph": [20 + tid]}})


def queue_trials(store: TrialStore, exp_key: str, count: int) -> list[int]:
    """Allocate ``count`` trial ids and queue a trial for each."""
    tids = store.next_tids(exp_key, count)
    store.enqueue(exp_key, [new_trial(tid) for tid in tids])
    return tids


def stored(store: TrialStore, trial: Trial) -> Trial:
    (found,) = store.trials(trial.exp_key, tids=[trial.tid])
    return found


# -- work done in child processes; module-level so that "spawn" can pickle it -----------


# A pause between a child's calls. A call takes a fraction of a millisecond, less than it
# takes the others to wake from the barrier: without it, the first child awake would often
# do all the work alone and the calls would never race.
_PAUSE_S = 0.001


def allocate_tids(store: TrialStore, exp_key: str, worker_id: str) -> list[list[int]]:
    batches = []
    for _ in range(10):
        batches.append(store.next_tids(exp_key, 3))
        time.sleep(_PAUSE_S)
    return batches


def reserve_until_empty(store: TrialStore, exp_key: str, worker_id: str) -> list[int]:
    tids = []
    while (trial := store.reserve(worker_id, [exp_key])) is not None:
        tids.append(trial.tid)
        time.sleep(_PAUSE_S)
    return tids


Task = Callable[[TrialStore, str, str], Any]


@dataclass(frozen=True)
class _ChildJob:
    factory: StoreFactory
    task: Task
    exp_key: str
    worker_id: str


def _child(job: _ChildJob, barrier: Any, results: Any) -> None:
    try:
        store = job.factory()
        try:
            barrier.wait(_CONCURRENCY_TIMEOUT_S)  # start together, so the calls overlap
            results.put((job.worker_id, job.task(store, job.exp_key, job.worker_id), None))
        finally:
            store.close()
    except BaseException as err:
        # Report, so that the parent fails with the reason rather than waiting for output.
        results.put((job.worker_id, None, f"{type(err).__name__}: {err}"))
        raise


def run_in_processes(factory: StoreFactory, task: Task, exp_key: str) -> dict[str, Any]:
    """Run ``task`` in several processes at once, each on its own store: worker id -> output."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    children = [
        context.Process(target=_child, args=(
            _ChildJob(factory, task, exp_key, f"proc-{n}"), barrier, results))
        for n in range(PROCESSES)]
    for child in children:
        child.start()
    try:
        outcomes = [results.get(timeout=_CONCURRENCY_TIMEOUT_S) for _ in children]
    finally:
        for child in children:
            child.join(_CONCURRENCY_TIMEOUT_S)
            if child.is_alive():
                child.kill()
    errors = [error for _, _, error in outcomes if error]
    assert not errors, errors
    return {worker_id: output for worker_id, output, _ in outcomes}


def run_in_threads(store: TrialStore, task: Task, exp_key: str) -> dict[str, Any]:
    """Run ``task`` in several threads at once, all on one store: worker id -> output."""
    barrier = threading.Barrier(THREADS)

    def work(worker_id: str) -> Any:
        barrier.wait(_CONCURRENCY_TIMEOUT_S)
        return task(store, exp_key, worker_id)

    worker_ids = [f"thread-{n}" for n in range(THREADS)]
    with ThreadPoolExecutor(THREADS) as pool:
        outputs = pool.map(work, worker_ids, timeout=_CONCURRENCY_TIMEOUT_S)
        return dict(zip(worker_ids, outputs, strict=True))


# -- steps many tests take ------------------------------------------------------------


def reserve_one(store: TrialStore, exp_key: str, worker_id: str = "w1") -> Trial:
    """Queue one more trial and reserve it (the lowest NEW tid: earlier ones are taken)."""
    queue_trials(store, exp_key, 1)
    reserved = store.reserve(worker_id, [exp_key])
    assert reserved is not None
    return reserved


def lease_write(store: TrialStore, write: str, trial: Trial) -> Trial:
    """Make the lease write named ``write`` ("heartbeat", "finish" or "release")."""
    if write == "heartbeat":
        return store.heartbeat(trial)
    if write == "finish":
        return store.finish(trial, TrialResult.ok(0.5))
    return store.release(trial)


def assert_each_reserved_once(store: TrialStore, exp_key: str,
                               outputs: dict[str, Any], count: int) -> None:
    """Trials 0..count-1 were each reserved once, by the worker the store names as owner."""
    taken = [tid for tids in outputs.values() for tid in tids]
    assert sorted(taken) == list(range(count))
    owners = {t.tid: t.owner for t in store.trials(exp_key)}
    assert owners == {tid: worker for worker, tids in outputs.items() for tid in tids}
    assert store.state_counts(exp_key)[TrialState.RUNNING] == count


class ContractFixtures:
    """The fixtures and switches every part of the contract suite uses."""

    processes_skip_reason: ClassVar[str | None] = None
    threads_skip_reason: ClassVar[str | None] = None

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        raise NotImplementedError("a TrialStoreContract subclass must provide the "
                                  "store_factory fixture; see tests/store/contract.py")

    @pytest.fixture
    def corrupt_trial(self) -> CorruptTrial:
        raise NotImplementedError("a TrialStoreContract subclass must provide the "
                                  "corrupt_trial fixture; see tests/store/contract.py")

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def store(self, store_factory: StoreFactory, clock: FakeClock) -> Iterator[TrialStore]:
        store = store_factory(clock=clock)
        yield store
        store.close()

    @pytest.fixture
    def exp_key(self, store: TrialStore) -> str:
        return store.ensure_experiment(make_experiment("exp-a")).exp_key

    def _skip_unless_processes(self) -> None:
        if self.processes_skip_reason:
            pytest.skip(self.processes_skip_reason)

    def _skip_unless_threads(self) -> None:
        if self.threads_skip_reason:
            pytest.skip(self.threads_skip_reason)
