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
- accept a keyword ``read_only``, passed on to the store;
- be picklable, unless the store cannot be shared between processes: the multi-process
  tests send it to children started with "spawn", which build their own store with it.

It must also give a ``corrupt_trial`` fixture (``CorruptTrial``): a function that damages
one stored trial's document through the backend itself, not through the store.

A store whose backend cannot be shared between processes (an in-memory fake of MongoDB)
sets the class attribute ``processes_skip_reason`` to say why; one that cannot be shared
between threads sets ``threads_skip_reason``. Those tests are then skipped with that reason.

The times the suite sets are whole seconds, because MongoDB keeps only milliseconds.
"""

from __future__ import annotations

from .contract_experiments import ExperimentContract
from .contract_history import HistoryContract
from .contract_leases import LeaseContract
from .contract_repeats import RepeatContract
from .contract_support import MALFORMED_SPEC, CorruptTrial, FakeClock, StoreFactory

__all__ = ["MALFORMED_SPEC", "CorruptTrial", "FakeClock", "StoreFactory", "TrialStoreContract"]


class TrialStoreContract(ExperimentContract, LeaseContract, HistoryContract,
                         RepeatContract):
    """Every test of the store contract; subclass it with a ``store_factory`` fixture."""
