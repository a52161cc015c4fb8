"""The SQLite trial store: the store contract, plus what only a file on disk can get wrong."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from shared.store.sqlite import SqliteTrialStore

from .contract import StoreFactory, TrialStoreContract


class TestSqliteTrialStore(TrialStoreContract):
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> StoreFactory:
        return functools.partial(SqliteTrialStore, tmp_path / "trials.sqlite")
