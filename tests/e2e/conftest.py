"""Fixtures of the end-to-end tests: the database the programs share, and the launcher."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.store.mongo import MongoTrialStore
from shared.store.uri import MongoTarget
from tests.e2e.database import open_store, uri_with_database
from tests.e2e.programs import Launcher


@pytest.fixture(autouse=True)
def _linux_only() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the end-to-end tests look at processes through Linux's /proc")


@pytest.fixture
def store(mongo_target: MongoTarget) -> Iterator[MongoTrialStore]:
    """The test's database, to arrange trials and to look at the outcome."""
    with open_store(mongo_target) as opened:
        assert isinstance(opened, MongoTrialStore)
        yield opened


@pytest.fixture
def launcher(mongo_target: MongoTarget, tmp_path: Path) -> Iterator[Launcher]:
    """Starts programs on the test's database; kills all of them at teardown."""
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    programs = Launcher(uri_with_database(mongo_target), log_dir)
    try:
        yield programs
    finally:
        programs.close()
