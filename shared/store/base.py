"""The trial store interface that the coordinator and the workers share.

Contract, for every implementation (tests/store/contract.py checks each one):

- Trial ids are allocated by ``next_tids``, atomically, per experiment, from 0 upwards;
  no id is handed out twice, whichever process asks. Ids may have gaps: a coordinator
  stopped between allocating an id and queueing its trial leaves that id unused.
- ``reserve`` is atomic: of many workers asking at once, exactly one gets a given trial.
  It moves the oldest NEW trial (lowest tid) to RUNNING, sets ``owner``, ``book_time`` and
  ``refresh_time``, adds one to ``attempts`` and one to ``version``. A trial whose stored
  document cannot be read (edited by hand, another program's) is replaced by a readable
  ERROR trial whose error names the damage (the document as found kept beside it, in
  ``unreadable_doc``), and the next one is taken: one bad document blocks no queue and
  breaks no later read.
- A worker's lease is the (owner, version) pair that ``reserve`` returned. ``heartbeat``,
  ``finish`` and ``release`` succeed only while the stored trial is RUNNING with that
  owner and version; otherwise they raise ``LeaseLostError`` and change nothing.
  ``heartbeat`` updates ``refresh_time`` only; it does not change ``version``.
- ``finish`` records a result exactly once: RUNNING -> DONE for an OK result,
  RUNNING -> ERROR for a FAIL. (The MongoDB store also accepts a retry of the same
  finish by the same lease, whose first try landed but whose reply was lost, and returns
  the stored trial.) ``release`` hands a trial back: RUNNING -> NEW, owner
  cleared, ``attempts`` minus one (a hand-back is not a failed attempt), ``version`` + 1.
- ``requeue_stale`` moves RUNNING trials whose ``refresh_time`` is older than the cutoff
  back to NEW (``version`` + 1, ``attempts`` kept), or to ERROR with a reason once they
  have used ``max_attempts`` reservations.
- ``insert_reused`` records a suggestion whose configuration was already evaluated: the
  trial is stored DONE at once with the earlier result and ``reused_from`` set.
- ``enqueue`` and ``insert_reused`` may be retried after a lost reply. Trial ids come
  from ``next_tids``, so a stored trial with the same tid and configuration
  (``config_key``, and ``reused_from``; ``shared.store.same_trial``) can only be an earlier
  try of the same call that landed. ``enqueue`` skips such trials, whatever state they
  have reached since (reserved, even finished: they are not touched), and stores the rest:
  a first try may have landed in whole or in part (an ordered insert stores the first k).
  ``insert_reused`` returns the stored trial. A tid that holds another configuration, or
  is given twice in one call, raises ``StoreError`` naming it; ``enqueue`` then stores none
  of the call's trials (on MongoDB, unless another process stored that tid between the
  store's check and its insert).
- ``now`` tells the store's time, the one it stamps leases and results with; callers
  compare stored times with it rather than with their own clock.
- Unreachable stores raise ``StoreUnavailableError``; callers retry. Every other failure
  of the backend raises ``StoreError``. An unknown experiment raises
  ``UnknownExperimentError``.
- ``read_only``: a store opened to read only makes no change. Every writing method (those
  marked ``@writes``: ``ensure_experiment``, ``next_tids``, ``enqueue``, ``insert_reused``,
  ``requeue_stale``, ``reserve``, ``heartbeat``, ``finish``, ``release``,
  ``announce_worker``, ``retire_worker``) raises ``StoreError`` naming the store, the
  method and the fix, before it reaches the backend; the reading methods work as usual.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Concatenate, ParamSpec, Self, TypeVar

from shared.errors import StoreError
from shared.trials import (
    Experiment,
    NewTrial,
    RequeueReport,
    Trial,
    TrialResult,
    TrialState,
    WorkerInfo,
)

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound="TrialStore")


def writes(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Marks a store method that changes the store: refused on a store opened read-only."""

    @functools.wraps(method)
    def guarded(store: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if store.read_only:
            raise StoreError(f"{store!r} was opened to read only, so {method.__name__} is "
                             "refused; open the store without read_only to change it")
        return method(store, *args, **kwargs)

    return guarded


class TrialStore(abc.ABC):
    """Where experiments and their trials live. Implementations: SQLite file, MongoDB."""

    # Set by implementations opened to read only; see the contract above.
    read_only: bool = False

    # -- experiments ------------------------------------------------------------------

    @abc.abstractmethod
    def ensure_experiment(self, experiment: Experiment) -> Experiment:
        """Create the experiment, or return the stored one if it evaluates the same thing.

        Raises ExperimentMismatchError naming each difference when the stored experiment
        has another objective spec (see ``ObjectiveSpec.differences``).
        """

    @abc.abstractmethod
    def get_experiment(self, exp_key: str) -> Experiment:
        """Raises UnknownExperimentError when there is no such experiment."""

    @abc.abstractmethod
    def list_experiments(self) -> list[Experiment]:
        """All experiments, oldest first."""

    # -- the coordinator's side -------------------------------------------------------

    @abc.abstractmethod
    def next_tids(self, exp_key: str, count: int) -> list[int]:
        """Allocate ``count`` consecutive, never-used trial ids for the experiment."""

    @abc.abstractmethod
    def enqueue(self, exp_key: str, trials: Sequence[NewTrial]) -> None:
        """Store the trials as NEW, ready to reserve; those stored already are skipped."""

    @abc.abstractmethod
    def insert_reused(self, exp_key: str, trial: NewTrial, source: Trial) -> Trial:
        """Store ``trial`` as DONE with ``source``'s result, without evaluating it.

        Returns the stored trial, the one stored already if an earlier try stored it.
        """

    @abc.abstractmethod
    def trials(
        self,
        exp_key: str,
        *,
        states: Collection[TrialState] | None = None,
        tids: Collection[int] | None = None,
    ) -> list[Trial]:
        """The experiment's trials, filtered by state and/or id, in tid order."""

    @abc.abstractmethod
    def state_counts(self, exp_key: str) -> dict[TrialState, int]:
        """How many trials are in each state; every state is a key."""

    @abc.abstractmethod
    def requeue_stale(
        self, exp_key: str | None, *, older_than: datetime, max_attempts: int
    ) -> RequeueReport:
        """Reap expired leases (of one experiment, or of all when ``exp_key`` is None)."""

    # -- the worker's side ------------------------------------------------------------

    @abc.abstractmethod
    def reserve(self, worker_id: str, exp_keys: Collection[str] | None = None) -> Trial | None:
        """Atomically take the oldest NEW trial (of ``exp_keys``, or of any experiment)."""

    @abc.abstractmethod
    def heartbeat(self, trial: Trial) -> Trial:
        """Refresh the lease of a trial this worker reserved."""

    @abc.abstractmethod
    def finish(self, trial: Trial, result: TrialResult) -> Trial:
        """Record the result of a trial this worker reserved; DONE or ERROR by its status."""

    @abc.abstractmethod
    def release(self, trial: Trial) -> Trial:
        """Hand a reserved trial back to the queue unevaluated."""

    @abc.abstractmethod
    def announce_worker(self, info: WorkerInfo) -> None:
        """Record or refresh a worker's presence."""

    @abc.abstractmethod
    def retire_worker(self, worker_id: str) -> None:
        """Forget a worker that stops, so that it no longer counts as live; a worker never
        announced is no error."""

    @abc.abstractmethod
    def live_workers(self, *, seen_since: datetime, exp_key: str | None = None
                     ) -> list[WorkerInfo]:
        """Workers seen since the given time, serving ``exp_key`` or every experiment."""

    # -- time -------------------------------------------------------------------------

    @abc.abstractmethod
    def now(self) -> datetime:
        """The store's time, aware in UTC: what it stamps leases and results with.

        Compare stored times (``refresh_time``, ``last_seen``) with this, never with the
        local clock: the MongoDB store's is the server's clock, the same for every host.
        """

    # -- lifetime ---------------------------------------------------------------------

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections and file handles."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
