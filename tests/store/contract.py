"""The contract of ``shared.store.base.TrialStore`` as one test suite that every store passes.

To test a store, subclass ``TrialStoreContract`` in a module named ``test_*.py`` and give
it a ``store_factory`` fixture::

    class TestSqliteTrialStore(TrialStoreContract):
        @pytest.fixture
        def store_factory(self, tmp_path: Path) -> StoreFactory:
            return functools.partial(SqliteTrialStore, tmp_path / "trials.sqlite")

The factory must:

- return a new store object over the same, initially empty data on every call (the suite
  calls it again to check that the data survives ``close``, and closes what it opens);
- accept a keyword ``clock``: a callable returning the timezone-aware time the store
  stamps on leases and results. The suite passes a ``FakeClock`` that it moves by hand to
  expire leases; child processes call the factory without one and get real time;
- be picklable, unless the store cannot be shared between processes: the multi-process
  tests send it to children started with "spawn", which build their own store with it.

A store whose backend cannot be shared between processes (an in-memory fake of MongoDB)
sets the class attribute ``processes_skip_reason`` to say why; one that cannot be shared
between threads sets ``threads_skip_reason``. Those tests are then skipped with that reason.

The times the suite sets are whole seconds, because MongoDB keeps only milliseconds.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol

import pytest

from shared.errors import (
    ExperimentMismatchError,
    IllegalTransitionError,
    LeaseLostError,
    StoreError,
    UnknownExperimentError,
)
from shared.store.base import TrialStore
from shared.trials import (
    Experiment,
    NewTrial,
    ObjectiveSpec,
    ResultStatus,
    Trial,
    TrialResult,
    TrialState,
    WorkerInfo,
)

# A guard against a hung child process or thread, not a measurement: every task here takes
# well under a second.
_CONCURRENCY_TIMEOUT_S = 120.0
_PROCESSES = 4
_THREADS = 8


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
    def __call__(self, *, clock: Callable[[], datetime] = ...) -> TrialStore: ...


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


def _allocate_tids(store: TrialStore, exp_key: str, worker_id: str) -> list[list[int]]:
    batches = []
    for _ in range(10):
        batches.append(store.next_tids(exp_key, 3))
        time.sleep(_PAUSE_S)
    return batches


def _reserve_until_empty(store: TrialStore, exp_key: str, worker_id: str) -> list[int]:
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
    barrier, results = context.Barrier(_PROCESSES), context.Queue()
    children = [
        context.Process(target=_child, args=(
            _ChildJob(factory, task, exp_key, f"proc-{n}"), barrier, results))
        for n in range(_PROCESSES)]
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
    barrier = threading.Barrier(_THREADS)

    def work(worker_id: str) -> Any:
        barrier.wait(_CONCURRENCY_TIMEOUT_S)
        return task(store, exp_key, worker_id)

    worker_ids = [f"thread-{n}" for n in range(_THREADS)]
    with ThreadPoolExecutor(_THREADS) as pool:
        outputs = pool.map(work, worker_ids, timeout=_CONCURRENCY_TIMEOUT_S)
        return dict(zip(worker_ids, outputs, strict=True))


class TrialStoreContract:
    """Every test of the store contract; subclass it with a ``store_factory`` fixture."""

    processes_skip_reason: ClassVar[str | None] = None
    threads_skip_reason: ClassVar[str | None] = None

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        raise NotImplementedError("a TrialStoreContract subclass must provide the "
                                  "store_factory fixture; see tests/store/contract.py")

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

    # -- experiments ------------------------------------------------------------------

    def test_ensure_experiment_creates_it_stamped_by_the_clock(
            self, store: TrialStore, clock: FakeClock) -> None:
        # Given an empty store
        # When an experiment is ensured
        created = store.ensure_experiment(make_experiment("exp-a"))

        # Then it is stored as given, created now
        assert created == replace(make_experiment("exp-a"), created_at=clock.now)
        assert store.get_experiment("exp-a") == created

    def test_ensure_experiment_returns_the_stored_one_when_only_data_dir_differs(
            self, store: TrialStore, clock: FakeClock) -> None:
        # Given an experiment stored with its dataset at one path
        first = store.ensure_experiment(make_experiment("exp-a", data_dir="/mnt/a"))
        clock.advance(60)

        # When it is ensured again with the dataset mounted elsewhere
        again = store.ensure_experiment(make_experiment("exp-a", data_dir="/mnt/b"))

        # Then the stored experiment comes back unchanged
        assert again == first
        assert store.list_experiments() == [first]

    def test_ensure_experiment_names_each_difference_when_the_objective_differs(
            self, store: TrialStore) -> None:
        # Given a stored experiment
        first = store.ensure_experiment(make_experiment("exp-a", version="1", lang="eng"))

        # When it is ensured with another objective version and language
        other = make_experiment("exp-a", version="2", lang="deu")
        with pytest.raises(ExperimentMismatchError) as raised:
            store.ensure_experiment(other)

        # Then the error names both differences and the stored experiment is kept
        differences = first.objective.differences(other.objective)
        assert len(differences) == 2
        for difference in differences:
            assert difference in str(raised.value)
        assert store.get_experiment("exp-a") == first

    def test_list_experiments_returns_them_oldest_first(
            self, store: TrialStore, clock: FakeClock) -> None:
        # Given two experiments created one after the other, the later one sorting first
        older = store.ensure_experiment(make_experiment("exp-z"))
        clock.advance(1)
        newer = store.ensure_experiment(make_experiment("exp-a"))

        # When they are listed / Then the older comes first
        assert store.list_experiments() == [older, newer]

    @pytest.mark.parametrize("call", [
        "get_experiment", "next_tids", "enqueue", "insert_reused", "trials", "state_counts",
        "requeue_stale"])
    def test_a_call_naming_an_unknown_experiment_raises_unknown_experiment_error(
            self, store: TrialStore, clock: FakeClock, call: str) -> None:
        # Given a store without the experiment "missing"
        source = Trial("missing", 0, TrialState.DONE, {"a": 1}, {},
                       result=TrialResult.ok(0.5))
        calls: dict[str, Callable[[], object]] = {
            "get_experiment": lambda: store.get_experiment("missing"),
            "next_tids": lambda: store.next_tids("missing", 1),
            "enqueue": lambda: store.enqueue("missing", [new_trial(0)]),
            "insert_reused": lambda: store.insert_reused("missing", new_trial(1), source),
            "trials": lambda: store.trials("missing"),
            "state_counts": lambda: store.state_counts("missing"),
            "requeue_stale": lambda: store.requeue_stale(
                "missing", older_than=clock.now, max_attempts=3),
        }

        # When the call names it / Then it raises, and nothing is created
        with pytest.raises(UnknownExperimentError, match="missing"):
            calls[call]()
        assert store.list_experiments() == []

    # -- trial ids --------------------------------------------------------------------

    def test_next_tids_are_consecutive_from_zero_and_never_repeat(
            self, store: TrialStore, exp_key: str) -> None:
        # Given a new experiment
        # When ids are allocated in several batches, one of them empty
        batches = [store.next_tids(exp_key, n) for n in (3, 0, 1, 2)]

        # Then they run on from 0 without a gap or a repeat
        assert batches == [[0, 1, 2], [], [3], [4, 5]]

    def test_next_tids_count_separately_for_each_experiment(
            self, store: TrialStore, exp_key: str) -> None:
        # Given a second experiment beside one that has handed out ids
        store.next_tids(exp_key, 5)
        store.ensure_experiment(make_experiment("exp-b"))

        # When the second allocates / Then it starts from 0
        assert store.next_tids("exp-b", 2) == [0, 1]

    def test_next_tids_from_several_threads_are_unique_and_consecutive(
            self, store: TrialStore, exp_key: str) -> None:
        self._skip_unless_threads()
        # Given threads that each allocate ten batches of three at once
        batches = [b for out in run_in_threads(store, _allocate_tids, exp_key).values()
                   for b in out]

        # Then each batch is consecutive and together they cover every id once
        assert all(batch == list(range(batch[0], batch[0] + 3)) for batch in batches)
        assert sorted(tid for batch in batches for tid in batch) == list(range(_THREADS * 30))

    def test_next_tids_from_several_processes_are_unique_and_consecutive(
            self, store: TrialStore, store_factory: StoreFactory, exp_key: str) -> None:
        self._skip_unless_processes()
        # Given processes that each allocate ten batches of three at once, each its own store
        outputs = run_in_processes(store_factory, _allocate_tids, exp_key)
        batches = [batch for out in outputs.values() for batch in out]

        # Then each batch is consecutive and together they cover every id once
        assert all(batch == list(range(batch[0], batch[0] + 3)) for batch in batches)
        assert sorted(tid for batch in batches for tid in batch) == list(
            range(_PROCESSES * 30))

    # -- queueing and reading ---------------------------------------------------------

    def test_enqueued_trials_are_new_with_their_params_and_hyperopt_misc(
            self, store: TrialStore, exp_key: str) -> None:
        # Given allocated ids
        tids = store.next_tids(exp_key, 3)

        # When trials are queued for them
        store.enqueue(exp_key, [new_trial(tid) for tid in tids])

        # Then they are stored NEW, unowned, at version 0, without attempts or result
        expected = [Trial(exp_key, t, TrialState.NEW, new_trial(t).params,
                          new_trial(t).hyperopt_misc) for t in tids]
        assert store.trials(exp_key) == expected
        assert [t.config_key for t in expected] == [new_trial(t).config_key for t in tids]

    def test_enqueue_of_a_tid_already_stored_raises_store_error(
            self, store: TrialStore, exp_key: str) -> None:
        # Given a queued trial
        (tid,) = queue_trials(store, exp_key, 1)

        # When a trial with the same id is queued again / Then the store refuses it
        with pytest.raises(StoreError):
            store.enqueue(exp_key, [replace(new_trial(tid), params={"other": True})])
        assert store.trials(exp_key)[0].params == new_trial(tid).params

    def test_trials_filter_by_state_and_tid_in_tid_order(
            self, store: TrialStore, exp_key: str) -> None:
        # Given trials 0..4: 0 finished, 1 running, 2..4 queued
        queue_trials(store, exp_key, 5)
        first = store.reserve("w1", [exp_key])
        assert first is not None
        store.finish(first, TrialResult.ok(0.5))
        store.reserve("w1", [exp_key])

        # When they are read with filters / Then only the matching ones come, by tid
        def tids(**filters: Any) -> list[int]:
            return [t.tid for t in store.trials(exp_key, **filters)]

        assert tids() == [0, 1, 2, 3, 4]
        assert tids(states=[TrialState.RUNNING]) == [1]
        assert tids(states={TrialState.DONE, TrialState.NEW}) == [0, 2, 3, 4]
        assert tids(tids=[4, 0]) == [0, 4]
        assert tids(states=[TrialState.NEW], tids=[1, 3, 4]) == [3, 4]
        assert tids(states=[]) == []

    def test_state_counts_count_every_state_including_empty_ones(
            self, store: TrialStore, exp_key: str) -> None:
        # Given an empty experiment / Then every state counts zero
        assert store.state_counts(exp_key) == dict.fromkeys(TrialState, 0)

        # Given three queued trials, one reserved and failed
        queue_trials(store, exp_key, 3)
        reserved = store.reserve("w1", [exp_key])
        assert reserved is not None
        store.finish(reserved, TrialResult.failed("unreadable image"))

        # Then the counts follow
        assert store.state_counts(exp_key) == {
            TrialState.NEW: 2, TrialState.RUNNING: 0, TrialState.DONE: 0,
            TrialState.ERROR: 1}

    # -- reserving --------------------------------------------------------------------

    def test_reserve_leases_the_lowest_new_tid_to_the_worker(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given trials queued out of order
        tids = store.next_tids(exp_key, 3)
        store.enqueue(exp_key, [new_trial(tid) for tid in reversed(tids)])
        clock.advance(5)

        # When a worker reserves
        reserved = store.reserve("w1", [exp_key])

        # Then it holds trial 0: running, booked now, one attempt, one version on
        assert reserved == Trial(
            exp_key, 0, TrialState.RUNNING, new_trial(0).params, new_trial(0).hyperopt_misc,
            version=1, attempts=1, owner="w1", book_time=clock.now, refresh_time=clock.now)
        assert stored(store, reserved) == reserved
        assert [t.tid for t in store.trials(exp_key, states=[TrialState.NEW])] == [1, 2]

    def test_reserve_returns_none_when_nothing_is_queued(
            self, store: TrialStore, exp_key: str) -> None:
        # Given one trial, already reserved
        queue_trials(store, exp_key, 1)
        assert store.reserve("w1", [exp_key]) is not None

        # When another reservation is asked for / Then there is none
        assert store.reserve("w2", [exp_key]) is None
        assert store.reserve("w2") is None

    def test_reserve_takes_only_trials_of_the_experiments_named(
            self, store: TrialStore, exp_key: str) -> None:
        # Given a queued trial in each of two experiments
        store.ensure_experiment(make_experiment("exp-b"))
        queue_trials(store, exp_key, 1)
        queue_trials(store, "exp-b", 1)

        # When workers reserve naming no experiment, or ones without queued trials
        # Then they get nothing
        assert store.reserve("w1", []) is None
        assert store.reserve("w1", ["not-there"]) is None

        # When a worker names the second experiment / Then it gets that one's trial
        reserved = store.reserve("w1", ["exp-b", "not-there"])
        assert reserved is not None
        assert (reserved.exp_key, reserved.tid) == ("exp-b", 0)
        assert store.state_counts(exp_key)[TrialState.NEW] == 1

    def test_reserve_without_experiment_keys_takes_from_any_experiment(
            self, store: TrialStore, exp_key: str) -> None:
        # Given queued trials in two experiments
        store.ensure_experiment(make_experiment("exp-b"))
        queue_trials(store, exp_key, 2)
        queue_trials(store, "exp-b", 1)

        # When a worker reserves until nothing is left, naming no experiment
        taken = []
        while (trial := store.reserve("w1")) is not None:
            taken.append((trial.exp_key, trial.tid))

        # Then it got every trial once
        assert sorted(taken) == [(exp_key, 0), (exp_key, 1), ("exp-b", 0)]

    def test_reserve_from_several_threads_hands_out_each_trial_once(
            self, store: TrialStore, exp_key: str) -> None:
        self._skip_unless_threads()
        # Given 80 queued trials
        queue_trials(store, exp_key, 80)

        # When threads sharing one store reserve at once until nothing is left
        outputs = run_in_threads(store, _reserve_until_empty, exp_key)

        # Then every trial went to exactly one of them, the one the store names as owner
        self._assert_each_reserved_once(store, exp_key, outputs, 80)

    def test_reserve_from_several_processes_hands_out_each_trial_once(
            self, store: TrialStore, store_factory: StoreFactory, exp_key: str) -> None:
        self._skip_unless_processes()
        # Given 200 queued trials
        queue_trials(store, exp_key, 200)

        # When processes, each with its own store, reserve at once until nothing is left
        outputs = run_in_processes(store_factory, _reserve_until_empty, exp_key)

        # Then every trial went to exactly one of them, the one the store names as owner
        self._assert_each_reserved_once(store, exp_key, outputs, 200)

    @staticmethod
    def _assert_each_reserved_once(store: TrialStore, exp_key: str,
                                   outputs: dict[str, Any], count: int) -> None:
        taken = [tid for tids in outputs.values() for tid in tids]
        assert sorted(taken) == list(range(count))
        owners = {t.tid: t.owner for t in store.trials(exp_key)}
        assert owners == {tid: worker for worker, tids in outputs.items() for tid in tids}
        assert store.state_counts(exp_key)[TrialState.RUNNING] == count

    # -- leases -----------------------------------------------------------------------

    def _reserve_one(self, store: TrialStore, exp_key: str, worker_id: str = "w1") -> Trial:
        queue_trials(store, exp_key, 1)
        reserved = store.reserve(worker_id, [exp_key])
        assert reserved is not None
        return reserved

    def test_heartbeat_refreshes_the_lease_and_keeps_its_version(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given a reserved trial
        reserved = self._reserve_one(store, exp_key)

        # When its worker beats 30 s later
        clock.advance(30)
        beaten = store.heartbeat(reserved)

        # Then only refresh_time moved; the lease is unchanged
        assert beaten == replace(reserved, refresh_time=clock.now)
        assert stored(store, reserved) == beaten
        assert store.heartbeat(beaten).version == reserved.version

    def test_finish_with_an_ok_result_makes_the_trial_done(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given a reserved trial
        reserved = self._reserve_one(store, exp_key)
        result = TrialResult.ok(0.25, duration_s=12.5,
                                details={"images": {"a.png": {"cer": 0.2}}, "mean_cer": 0.25})

        # When its worker records an OK result
        clock.advance(20)
        finished = store.finish(reserved, result)

        # Then it is DONE with that result and loss, ended now, one version on
        assert finished == replace(reserved, state=TrialState.DONE, result=result,
                                   end_time=clock.now, version=reserved.version + 1)
        assert finished.loss == 0.25
        assert stored(store, reserved) == finished

    def test_finish_with_a_fail_result_makes_the_trial_error(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given a reserved trial
        reserved = self._reserve_one(store, exp_key)

        # When its worker records a failure
        finished = store.finish(reserved, TrialResult.failed("objective returned NaN"))

        # Then it is ERROR with the reason and no loss
        assert finished.state is TrialState.ERROR
        assert finished.result is not None
        assert finished.result.status is ResultStatus.FAIL
        assert finished.result.error == "objective returned NaN"
        assert finished.loss is None
        assert stored(store, reserved) == finished

    def test_a_result_is_recorded_exactly_once(
            self, store: TrialStore, exp_key: str) -> None:
        # Given a trial whose result was recorded
        reserved = self._reserve_one(store, exp_key)
        finished = store.finish(reserved, TrialResult.ok(0.25))

        # When the same lease records another result / Then it is refused
        with pytest.raises(LeaseLostError):
            store.finish(reserved, TrialResult.ok(0.1))
        with pytest.raises(LeaseLostError):
            store.finish(reserved, TrialResult.failed("late failure"))

        # And the first result stands
        assert stored(store, reserved) == finished

    @pytest.mark.parametrize("write", ["heartbeat", "finish", "release"])
    def test_a_write_by_another_owner_raises_lease_lost_and_changes_nothing(
            self, store: TrialStore, exp_key: str, write: str) -> None:
        # Given a trial reserved by w1
        reserved = self._reserve_one(store, exp_key, "w1")

        # When a write claims it for w2 / Then it is refused and the trial is untouched
        with pytest.raises(LeaseLostError):
            self._lease_write(store, write, replace(reserved, owner="w2"))
        assert stored(store, reserved) == reserved

    @pytest.mark.parametrize("write", ["heartbeat", "finish", "release"])
    def test_a_write_with_a_lease_voided_by_requeueing_raises_lease_lost_and_changes_nothing(
            self, store: TrialStore, clock: FakeClock, exp_key: str, write: str) -> None:
        # Given a lease that expired and was requeued, then taken again by the same worker
        stale = self._reserve_one(store, exp_key, "w1")
        clock.advance(600)
        store.requeue_stale(exp_key, older_than=clock.now, max_attempts=5)
        current = store.reserve("w1", [exp_key])
        assert current is not None
        assert current.owner == stale.owner

        # When the old lease writes / Then it is refused and the current lease is untouched
        with pytest.raises(LeaseLostError):
            self._lease_write(store, write, stale)
        assert stored(store, stale) == current

    def test_a_write_to_a_trial_not_in_the_store_raises_lease_lost(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given a lease on a trial id the experiment never stored
        ghost = Trial(exp_key, 42, TrialState.RUNNING, {}, {}, version=1, attempts=1,
                      owner="w1", book_time=clock.now, refresh_time=clock.now)

        # When its worker beats or records / Then the lease is lost
        with pytest.raises(LeaseLostError):
            store.heartbeat(ghost)
        with pytest.raises(LeaseLostError):
            store.finish(ghost, TrialResult.ok(0.5))
        assert store.trials(exp_key) == []

    def test_release_hands_the_trial_back_new_with_the_attempt_undone(
            self, store: TrialStore, exp_key: str) -> None:
        # Given a reserved trial
        reserved = self._reserve_one(store, exp_key)

        # When its worker hands it back
        released = store.release(reserved)

        # Then it is NEW, nobody's, its attempt undone, one version on
        assert (released.state, released.owner, released.attempts, released.version) == (
            TrialState.NEW, None, 0, reserved.version + 1)
        assert stored(store, reserved) == released

        # And the next reservation counts as its first attempt
        again = store.reserve("w2", [exp_key])
        assert again is not None
        assert (again.tid, again.attempts, again.owner) == (reserved.tid, 1, "w2")

    @pytest.mark.parametrize(("state", "write"), [
        (TrialState.NEW, "heartbeat"), (TrialState.NEW, "finish"),
        (TrialState.NEW, "release"), (TrialState.DONE, "heartbeat"),
        (TrialState.DONE, "finish"), (TrialState.DONE, "release")])
    def test_a_write_for_a_trial_that_is_not_running_raises_illegal_transition(
            self, store: TrialStore, exp_key: str, state: TrialState, write: str) -> None:
        # Given a trial as the store last returned it in a state that holds no lease
        queued = queue_trials(store, exp_key, 1)
        if state is TrialState.NEW:
            (trial,) = store.trials(exp_key, tids=queued)
        else:
            trial = store.finish(self._reserve_one(store, exp_key), TrialResult.ok(0.5))

        # When a worker writes with it / Then the write is refused and nothing changes
        before = store.trials(exp_key)
        with pytest.raises(IllegalTransitionError):
            self._lease_write(store, write, trial)
        assert store.trials(exp_key) == before

    @staticmethod
    def _lease_write(store: TrialStore, write: str, trial: Trial) -> Trial:
        if write == "heartbeat":
            return store.heartbeat(trial)
        if write == "finish":
            return store.finish(trial, TrialResult.ok(0.5))
        return store.release(trial)

    # -- expired leases ---------------------------------------------------------------

    def test_requeue_stale_requeues_leases_older_than_the_cutoff_and_keeps_fresh_ones(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given leases on trials 0 and 1 taken at t0; at t0+100 s, trial 1's heartbeat and
        # a lease on trial 2
        old = self._reserve_one(store, exp_key, "w0")
        beaten = self._reserve_one(store, exp_key, "w1")
        clock.advance(100)
        beaten = store.heartbeat(beaten)
        fresh = self._reserve_one(store, exp_key, "w2")

        # When leases not refreshed in the last 50 s are reaped
        report = store.requeue_stale(exp_key, older_than=clock.now - timedelta(seconds=50),
                                     max_attempts=3)

        # Then trial 0 is back in the queue, its attempt kept, and the others are untouched
        assert (report.requeued, report.failed) == ((0,), ())
        requeued = stored(store, old)
        assert (requeued.state, requeued.owner, requeued.attempts, requeued.version) == (
            TrialState.NEW, None, 1, old.version + 1)
        assert stored(store, beaten) == beaten
        assert stored(store, fresh) == fresh

    def test_a_requeued_trial_is_reserved_again_with_one_more_attempt(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given a lease that expired and was requeued
        first = self._reserve_one(store, exp_key, "w1")
        clock.advance(600)
        store.requeue_stale(exp_key, older_than=clock.now, max_attempts=3)

        # When another worker reserves
        second = store.reserve("w2", [exp_key])

        # Then it gets the same trial on its second attempt
        assert second is not None
        assert (second.tid, second.owner, second.attempts) == (first.tid, "w2", 2)
        assert second.version > first.version

    def test_requeue_stale_fails_a_trial_whose_lease_expired_max_attempts_times(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given a trial whose lease expired once and was requeued, then taken again
        self._reserve_one(store, exp_key, "w1")
        clock.advance(600)
        assert store.requeue_stale(exp_key, older_than=clock.now, max_attempts=2).requeued
        second = store.reserve("w2", [exp_key])
        assert second is not None

        # When its second lease expires too, with two attempts allowed
        clock.advance(600)
        report = store.requeue_stale(exp_key, older_than=clock.now, max_attempts=2)

        # Then it is failed for good, with a reason and without a loss
        assert (report.requeued, report.failed) == ((), (second.tid,))
        failed = stored(store, second)
        assert failed.state is TrialState.ERROR
        assert failed.result is not None
        assert failed.result.status is ResultStatus.FAIL
        assert failed.result.error
        assert failed.loss is None
        assert failed.version == second.version + 1
        with pytest.raises(LeaseLostError):
            store.finish(second, TrialResult.ok(0.5))

    def test_requeue_stale_reaps_one_experiment_or_all_of_them(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given an expired lease in each of two experiments
        store.ensure_experiment(make_experiment("exp-b"))
        self._reserve_one(store, exp_key)
        self._reserve_one(store, "exp-b")
        clock.advance(600)

        # When the first experiment is reaped / Then only its lease is requeued
        assert store.requeue_stale(exp_key, older_than=clock.now, max_attempts=3).requeued
        assert store.state_counts("exp-b")[TrialState.RUNNING] == 1

        # When every experiment is reaped / Then the other lease is requeued too
        report = store.requeue_stale(None, older_than=clock.now, max_attempts=3)
        assert report.requeued == (0,)
        assert store.state_counts("exp-b")[TrialState.NEW] == 1

    # -- reused results ---------------------------------------------------------------

    def test_insert_reused_stores_the_trial_done_with_the_source_result(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given a finished trial
        source = store.finish(self._reserve_one(store, exp_key),
                              TrialResult.ok(0.3, duration_s=8.0, details={"mean_cer": 0.3}))
        (tid,) = store.next_tids(exp_key, 1)
        suggestion = replace(new_trial(tid), params=source.params)

        # When a suggestion of the same configuration is recorded as reused
        clock.advance(10)
        reused = store.insert_reused(exp_key, suggestion, source)

        # Then it is DONE at once with the source's result, and never reserved
        assert reused == Trial(exp_key, tid, TrialState.DONE, source.params,
                               suggestion.hyperopt_misc, end_time=clock.now,
                               result=source.result, reused_from=source.tid)
        assert reused.config_key == source.config_key
        assert stored(store, reused) == reused
        assert store.reserve("w1", [exp_key]) is None

    def test_insert_reused_refuses_a_source_without_a_loss(
            self, store: TrialStore, exp_key: str) -> None:
        # Given a failed trial
        source = store.finish(self._reserve_one(store, exp_key), TrialResult.failed("blank"))
        (tid,) = store.next_tids(exp_key, 1)

        # When its result is offered for reuse / Then the store refuses and stores nothing
        with pytest.raises(StoreError):
            store.insert_reused(exp_key, new_trial(tid), source)
        assert [t.tid for t in store.trials(exp_key)] == [source.tid]

    # -- workers ----------------------------------------------------------------------

    def test_an_announced_worker_is_live_until_it_is_not_seen_since(
            self, store: TrialStore, clock: FakeClock) -> None:
        # Given a worker announced now
        info = WorkerInfo("w1", "host-1", 4242, clock.now, "exp-a", ("ocr",))
        store.announce_worker(info)

        # When live workers are listed / Then it counts as seen since up to its last_seen
        assert store.live_workers(seen_since=clock.now - timedelta(minutes=1)) == [info]
        assert store.live_workers(seen_since=clock.now) == [info]
        assert store.live_workers(seen_since=clock.now + timedelta(seconds=1)) == []

    def test_announcing_a_worker_again_refreshes_its_record(
            self, store: TrialStore, clock: FakeClock) -> None:
        # Given a worker announced a minute ago
        store.announce_worker(WorkerInfo("w1", "host-1", 4242, clock.now, None, ("ocr",)))
        clock.advance(60)

        # When it announces itself again, now serving one experiment
        again = WorkerInfo("w1", "host-1", 4242, clock.now, "exp-a", ("ocr", "toy"))
        store.announce_worker(again)

        # Then one record remains: the new one
        assert store.live_workers(seen_since=clock.now - timedelta(hours=1)) == [again]

    def test_live_workers_of_an_experiment_include_workers_serving_every_experiment(
            self, store: TrialStore, clock: FakeClock) -> None:
        # Given workers serving experiment a, experiment b, and any experiment
        workers = [WorkerInfo(f"w-{key}", "host", 1, clock.now, key, ("ocr",))
                   for key in ("a", "b", None)]
        for info in workers:
            store.announce_worker(info)
        since = clock.now - timedelta(minutes=1)

        # When the workers of experiment a are listed / Then a's and the general one come
        def ids(exp_key: str | None) -> list[str]:
            found = store.live_workers(seen_since=since, exp_key=exp_key)
            return sorted(w.worker_id for w in found)

        assert ids("a") == ["w-None", "w-a"]
        assert ids("unknown") == ["w-None"]
        assert ids(None) == ["w-None", "w-a", "w-b"]

    # -- lifetime ---------------------------------------------------------------------

    def test_everything_stored_survives_close_and_reopen(
            self, store_factory: StoreFactory, clock: FakeClock) -> None:
        # Given a store holding an experiment with a trial in each state, and a worker
        with store_factory(clock=clock) as store:
            store.ensure_experiment(make_experiment("exp-a"))
            queue_trials(store, "exp-a", 4)
            for result in (TrialResult.ok(0.5), TrialResult.failed("blank page")):
                reserved = store.reserve("w1", ["exp-a"])
                assert reserved is not None
                store.finish(reserved, result)
            store.reserve("w1", ["exp-a"])
            store.announce_worker(WorkerInfo("w1", "host", 7, clock.now, "exp-a", ("ocr",)))
            before = (store.list_experiments(), store.trials("exp-a"),
                      store.live_workers(seen_since=clock.now))

        # When it is closed and opened again
        with store_factory(clock=clock) as reopened:
            after = (reopened.list_experiments(), reopened.trials("exp-a"),
                     reopened.live_workers(seen_since=clock.now))

            # Then everything is there, and trial ids go on where they stopped
            assert after == before
            assert [t.state for t in after[1]] == [
                TrialState.DONE, TrialState.ERROR, TrialState.RUNNING, TrialState.NEW]
            assert reopened.next_tids("exp-a", 1) == [4]
