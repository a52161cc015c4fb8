"""Opening the SQLite trial store's file: checks, WAL mode, and the tables, made once;
or, to read only, checks alone.

The tables keep each document as JSON text beside copies of the fields queries filter and
sort on; ``PRAGMA user_version`` records which layout a file has.
"""

from __future__ import annotations

import logging
import shlex
import sqlite3
from pathlib import Path

from shared.errors import StoreError, StoreUnavailableError

logger = logging.getLogger(__name__)

# How long a write waits for another process's write lock. Each write transaction is a
# handful of statements on one machine, so a wait this long means a process is stuck.
BUSY_TIMEOUT_S = 30.0
SCHEMA_VERSION = 1  # kept in PRAGMA user_version
_SCHEMA = (
    """CREATE TABLE experiments (
        exp_key TEXT PRIMARY KEY, next_tid INTEGER NOT NULL DEFAULT 0,
        created_at TEXT, doc TEXT NOT NULL)""",
    """CREATE TABLE trials (
        exp_key TEXT NOT NULL, tid INTEGER NOT NULL, state INTEGER NOT NULL, owner TEXT,
        version INTEGER NOT NULL, refresh_time TEXT, config_key TEXT NOT NULL,
        doc TEXT NOT NULL, PRIMARY KEY (exp_key, tid))""",
    "CREATE INDEX trials_by_state ON trials (state, tid)",
    "CREATE INDEX trials_by_exp_state ON trials (exp_key, state, tid)",
    "CREATE INDEX trials_by_lease ON trials (state, refresh_time)",
    "CREATE INDEX trials_by_owner ON trials (owner, version)",
    "CREATE INDEX trials_by_config ON trials (exp_key, config_key)",
    """CREATE TABLE workers (
        worker_id TEXT PRIMARY KEY, last_seen TEXT NOT NULL, exp_key TEXT,
        doc TEXT NOT NULL)""",
    "CREATE INDEX workers_by_last_seen ON workers (last_seen)",
)


def connect(path: Path, busy_timeout_s: float = BUSY_TIMEOUT_S, *, read_only: bool = False
            ) -> sqlite3.Connection:
    """Open (creating if needed) the store file, or say what is wrong with it.

    With ``read_only`` the file must exist and hold a store: nothing is created or written.
    """
    db = _open(path, busy_timeout_s, read_only=read_only)
    try:
        if read_only:
            _check_readable(db, path)
        else:
            _prepare(db, path)
    except sqlite3.Error as err:
        db.close()
        if is_busy(err):
            raise StoreUnavailableError(
                f"the SQLite store {path} is busy: another process held its write lock for "
                f"{busy_timeout_s:g} s while it was opened; retry") from err
        raise StoreError(f"{path} is not a usable SQLite trial store ({err}); move the file "
                         "aside or choose another path") from err
    except StoreError:
        db.close()
        raise
    return db


def _open(path: Path, busy_timeout_s: float, *, read_only: bool) -> sqlite3.Connection:
    if path.is_dir():
        raise StoreError(f"the SQLite store {path} is a folder; give a file path, for "
                         f"example {path / 'trials.sqlite'}")
    if read_only and not path.exists():
        raise StoreError(f"there is no SQLite trial store {path}; give the path of an "
                         "existing history file with --history, or make this one with "
                         f"`python -m coordinator run --data DIR --max-evals N --history "
                         f"{shlex.quote(str(path))}`")
    try:
        if read_only:
            # mode=ro: SQLite refuses every write, and never creates the file.
            return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                   timeout=busy_timeout_s, isolation_level=None,
                                   check_same_thread=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        return sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None,
                               check_same_thread=False)  # our lock serialises the threads
    except (OSError, sqlite3.Error) as err:
        raise StoreError(f"cannot open the SQLite store {path}: {err}; check that the "
                         "folder exists and is writable, or choose another path") from err


def is_busy(err: sqlite3.Error) -> bool:
    """Whether SQLite gave up waiting for another connection's lock."""
    return getattr(err, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _prepare(db: sqlite3.Connection, path: Path) -> None:
    """Switch the file to WAL mode and create the tables, once, under the write lock."""
    (mode,) = db.execute("PRAGMA journal_mode = WAL").fetchone()
    if mode != "wal":
        logger.warning("The SQLite store %s stays in %s journal mode, not WAL; readers "
                       "will wait for writers.", path, mode)
    db.execute("BEGIN IMMEDIATE")
    try:
        _create_schema(db, path)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _create_schema(db: sqlite3.Connection, path: Path) -> None:
    if _holds_schema(db, path):
        return
    for statement in _SCHEMA:
        db.execute(statement)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _check_readable(db: sqlite3.Connection, path: Path) -> None:
    if not _holds_schema(db, path):
        raise StoreError(f"{path} holds no trials yet (an empty SQLite file); start a search "
                         f"with `python -m coordinator run --data DIR --max-evals N --history "
                         f"{shlex.quote(str(path))}`")


def _holds_schema(db: sqlite3.Connection, path: Path) -> bool:
    """True if the file holds this layout, False if it holds nothing yet; else StoreError."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version == SCHEMA_VERSION:
        return True
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path} was written by a newer ocr-tune (store schema {version}, "
                         f"this one reads {SCHEMA_VERSION}); upgrade ocr-tune")
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE "
                                              "type = 'table'")}
    # Our schema and its version are written in one transaction: tables without the
    # version belong to someone else.
    if tables:
        raise StoreError(f"{path} is an SQLite file of another program (tables: "
                         f"{', '.join(sorted(tables))}); choose another path")
    return False
