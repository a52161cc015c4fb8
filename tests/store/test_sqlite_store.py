"""The SQLite trial store: the store contract, plus what only a file on disk can get wrong."""

from __future__ import annotations

import functools
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from shared.errors import StoreError, StoreUnavailableError
from shared.store.factory import open_store
from shared.store.sqlite import SqliteTrialStore
from shared.trials import TrialState

from .contract import MALFORMED_SPEC, CorruptTrial, StoreFactory, TrialStoreContract
from .contract_support import make_experiment, queue_trials


class TestSqliteTrialStore(TrialStoreContract):
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> StoreFactory:
        return functools.partial(SqliteTrialStore, tmp_path / "trials.sqlite")

    @pytest.fixture
    def corrupt_trial(self, tmp_path: Path) -> CorruptTrial:
        def corrupt(exp_key: str, tid: int) -> None:
            _edit_document(tmp_path / "trials.sqlite", exp_key, tid,
                           lambda doc: json.dumps({**json.loads(doc), "spec": MALFORMED_SPEC}))
        return corrupt


def _edit_document(path: Path, exp_key: str, tid: int, edit: Callable[[str], str]) -> None:
    """Replace a trial's stored document text with ``edit`` of it, behind the store's back."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        where = (exp_key, tid)
        (text,) = db.execute("SELECT doc FROM trials WHERE exp_key = ? AND tid = ?",
                             where).fetchone()
        db.execute("UPDATE trials SET doc = ? WHERE exp_key = ? AND tid = ?",
                   (edit(text), *where))
    finally:
        db.close()


@pytest.fixture
def raw(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A plain SQLite connection to the file the tests' store uses, to inspect or damage it."""
    db = sqlite3.connect(tmp_path / "trials.sqlite", isolation_level=None)
    yield db
    db.close()


def test_the_store_creates_missing_folders_and_keeps_the_file_in_wal_mode(
        tmp_path: Path, raw: sqlite3.Connection) -> None:
    # Given a path in folders that do not exist yet
    path = tmp_path / "runs" / "deep" / "history.sqlite"

    # When a store is opened there
    with SqliteTrialStore(path) as store:
        store.ensure_experiment(make_experiment())

    # Then the file exists, in WAL mode
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        db.close()


def test_a_folder_given_as_the_store_path_is_refused_with_the_fix(tmp_path: Path) -> None:
    # Given a folder / When it is opened as the store / Then the error names it and a file
    with pytest.raises(StoreError, match=r"is a folder; give a file path") as raised:
        SqliteTrialStore(tmp_path)
    assert str(tmp_path) in str(raised.value)


def test_a_file_that_is_not_sqlite_is_refused_naming_it(tmp_path: Path) -> None:
    # Given a file of other bytes
    path = tmp_path / "notes.sqlite"
    path.write_bytes(b"these are my notes, not a database\n" * 100)

    # When it is opened as the store / Then the error names the file and what to do
    with pytest.raises(StoreError, match="move the file aside") as raised:
        SqliteTrialStore(path)
    assert str(path) in str(raised.value)
    assert path.read_bytes().startswith(b"these are my notes")


def test_an_sqlite_file_of_another_program_is_refused(tmp_path: Path) -> None:
    # Given an SQLite file with someone else's tables
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE invoices (id INTEGER)")
    db.close()

    # When it is opened as the store / Then it is refused, naming its tables
    with pytest.raises(StoreError, match=r"another program.*invoices"):
        SqliteTrialStore(path)


def test_a_store_file_of_a_newer_layout_is_refused(
        tmp_path: Path, raw: sqlite3.Connection) -> None:
    # Given a store file whose layout version is newer than this code's
    SqliteTrialStore(tmp_path / "trials.sqlite").close()
    raw.execute("PRAGMA user_version = 99")

    # When it is opened / Then the error says to upgrade
    with pytest.raises(StoreError, match=r"newer ocr-tune.*upgrade"):
        SqliteTrialStore(tmp_path / "trials.sqlite")


def test_a_malformed_trial_document_raises_store_error_naming_the_trial_and_field(
        tmp_path: Path, raw: sqlite3.Connection) -> None:
    # Given a stored trial whose document has a refresh_time that is no time
    with SqliteTrialStore(tmp_path / "trials.sqlite") as store:
        queue_trials(store, store.ensure_experiment(make_experiment("exp-a")).exp_key, 2)
    (text,) = raw.execute("SELECT doc FROM trials WHERE tid = 1").fetchone()
    doc = json.loads(text)
    doc["refresh_time"] = "yesterday"
    raw.execute("UPDATE trials SET doc = ? WHERE tid = 1", (json.dumps(doc),))

    # When the trials are read / Then the error names trial 1 and the field
    with SqliteTrialStore(tmp_path / "trials.sqlite") as store, pytest.raises(
            StoreError, match=r"trial 1 of experiment 'exp-a': field 'refresh_time'"):
        store.trials("exp-a")


def test_a_trial_whose_document_is_not_json_is_failed_readably_and_the_next_one_reserved(
        tmp_path: Path, raw: sqlite3.Connection) -> None:
    # Given trials 0 and 1 queued, and trial 0's document replaced by text that is no JSON
    path = tmp_path / "trials.sqlite"
    with SqliteTrialStore(path) as store:
        queue_trials(store, store.ensure_experiment(make_experiment("exp-a")).exp_key, 2)
    _edit_document(path, "exp-a", 0, lambda _: "{this is not json")

    # When a worker reserves / Then it gets trial 1, and trial 0 is failed naming the cause
    with SqliteTrialStore(path) as store:
        reserved = store.reserve("w1", ["exp-a"])
        assert reserved is not None and reserved.tid == 1
        assert store.state_counts("exp-a")[TrialState.ERROR] == 1
        (failed,) = store.trials("exp-a", tids=[0])
    assert failed.result is not None and failed.result.error is not None
    assert re.match(r"trial 0 .*not JSON", failed.result.error)

    # And its row and its document agree on the new version, the text kept beside them
    state, version, text = raw.execute(
        "SELECT state, version, doc FROM trials WHERE tid = 0").fetchone()
    doc = json.loads(text)
    assert (state, version) == (doc["state"], doc["version"]) == (TrialState.ERROR, 1)
    assert doc["unreadable_doc"] == "{this is not json"


def test_a_write_lock_held_by_another_process_too_long_raises_store_unavailable(
        tmp_path: Path, raw: sqlite3.Connection) -> None:
    # Given a store, and another connection that holds the write lock
    store = SqliteTrialStore(tmp_path / "trials.sqlite", busy_timeout_s=0.05)
    exp_key = store.ensure_experiment(make_experiment()).exp_key
    raw.execute("BEGIN IMMEDIATE")

    # When the store writes / Then it gives up with an error callers retry on
    with pytest.raises(StoreUnavailableError, match="busy"):
        store.next_tids(exp_key, 1)

    # And once the lock is released, the store works again
    raw.execute("ROLLBACK")
    assert store.next_tids(exp_key, 1) == [0]
    store.close()


def test_a_closed_store_raises_store_error(tmp_path: Path) -> None:
    # Given a closed store
    store = SqliteTrialStore(tmp_path / "trials.sqlite")
    store.close()

    # When it is used / Then the SQLite error arrives as a StoreError naming the file
    with pytest.raises(StoreError, match=r"trials\.sqlite"):
        store.list_experiments()


def test_a_time_without_a_time_zone_is_refused(tmp_path: Path) -> None:
    # Given a store / When leases are reaped with a naive cutoff / Then it is refused
    with SqliteTrialStore(tmp_path / "trials.sqlite") as store:
        store.ensure_experiment(make_experiment("exp-a"))
        with pytest.raises(ValueError, match="time zone"):
            store.requeue_stale("exp-a", older_than=datetime(2024, 1, 1), max_attempts=3)


def test_opening_a_missing_history_file_to_read_only_is_refused_and_creates_nothing(
        tmp_path: Path) -> None:
    # Given a history path in a folder that does not exist
    path = tmp_path / "runs" / "history.sqlite"

    # When the factory opens it to read only / Then the error names the file and the fix
    with pytest.raises(StoreError, match=r"there is no SQLite trial store .*coordinator run"
                       ) as raised:
        open_store(history=path, read_only=True)
    assert str(path) in str(raised.value)

    # And neither the file nor its folder was made
    assert not path.parent.exists()


def test_an_empty_file_opened_to_read_only_is_refused_and_left_empty(tmp_path: Path) -> None:
    # Given an empty file where the history should be
    path = tmp_path / "history.sqlite"
    path.touch()

    # When it is opened to read only / Then it is refused with the fix, and stays empty
    with pytest.raises(StoreError, match=r"holds no trials yet.*coordinator run"):
        SqliteTrialStore(path, read_only=True)
    assert path.stat().st_size == 0


def test_a_store_opened_to_read_only_reads_the_trials_and_refuses_writes(
        tmp_path: Path) -> None:
    # Given a history file with an experiment and two trials
    path = tmp_path / "history.sqlite"
    with SqliteTrialStore(path) as writer:
        queue_trials(writer, writer.ensure_experiment(make_experiment("exp-a")).exp_key, 2)

    # When it is opened to read only
    with SqliteTrialStore(path, read_only=True) as reader:
        # Then the trials read back, and a write fails naming the file
        assert [t.tid for t in reader.trials("exp-a")] == [0, 1]
        with pytest.raises(StoreError, match=r"history\.sqlite.*opened to read only"):
            reader.next_tids("exp-a", 1)

    # And nothing changed: the next id is still 2
    with SqliteTrialStore(path) as writer:
        assert writer.next_tids("exp-a", 1) == [2]
