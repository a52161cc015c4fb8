"""Which MongoDB server a test session uses: the real one a variable names, or the stand-in.

``tests/conftest.py`` decides once per session (``plan_mongo``), shows the decision in the
pytest header, and gives each test a database of its own, named after the session.
"""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass, field, replace

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from shared.errors import ConfigError, StoreError, StoreUnavailableError
from shared.store.uri import MongoTarget, parse_mongo_uri
from tests.standin.server import LOOPBACK

MONGO_URI_ENV = "OCRTUNE_TEST_MONGO_URI"
# Checking the real server and dropping test databases: wait for it, but not for ever.
_CLEANUP_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class MongoPlan:
    """A real server (``real``), or else the stand-in on ``standin_port``.

    Every test database is named ``<database_prefix>_<n>``: fresh for each session, so a
    real server's other databases are never touched, and easy to find for cleanup.
    """

    real: MongoTarget | None
    standin_port: int
    database_prefix: str = field(
        default_factory=lambda: f"ocrtune_test_{secrets.token_hex(4)}")

    def header(self) -> str:
        if self.real is not None:
            return f"MongoDB tests: real server at {self.real.redacted}"
        return (f"MongoDB tests: wire-protocol stand-in (mockupdb + mongomock) on "
                f"{LOOPBACK}:{self.standin_port}; set {MONGO_URI_ENV} to use a real server")

    def test_database(self, server: MongoTarget, number: int) -> MongoTarget:
        """``server`` with the session's ``number``-th test database."""
        return replace(server, database=f"{self.database_prefix}_{number}")


def plan_mongo(uri: str | None) -> MongoPlan:
    """The plan for ``OCRTUNE_TEST_MONGO_URI``'s value (None or empty: the stand-in).

    The stand-in's port is chosen now, so the header can name it before the stand-in is
    started (only if a test asks for MongoDB).
    """
    if uri:
        try:
            return MongoPlan(real=parse_mongo_uri(uri), standin_port=0)
        except ConfigError as err:
            raise ConfigError(f"{MONGO_URI_ENV} is not usable: {err}") from err
    return MongoPlan(real=None, standin_port=_free_loopback_port())


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def check_reachable(server: MongoTarget) -> None:
    """Raise StoreUnavailableError now, once, rather than in every test, if ``server``
    does not answer."""
    client: MongoClient[dict[str, object]] = MongoClient(
        server.uri, serverSelectionTimeoutMS=_CLEANUP_TIMEOUT_MS)
    try:
        client.admin.command("ping")
    except PyMongoError as err:
        raise StoreUnavailableError(
            f"{MONGO_URI_ENV} names {server.redacted}, which does not answer "
            f"({server.scrub(str(err))[:300]}); start it, or unset {MONGO_URI_ENV} to use "
            "the stand-in") from err
    finally:
        client.close()


def drop_databases(server: MongoTarget, names: list[str] | None = None, *,
                   prefix: str | None = None) -> None:
    """Drop the named databases, and every database starting with ``prefix``."""
    client: MongoClient[dict[str, object]] = MongoClient(
        server.uri, serverSelectionTimeoutMS=_CLEANUP_TIMEOUT_MS)
    doomed = set(names or [])
    try:
        if prefix:
            doomed |= {name for name in client.list_database_names()
                       if name.startswith(prefix)}
        for name in sorted(doomed):
            client.drop_database(name)
    except PyMongoError as err:
        raise StoreError(f"could not drop the test databases {sorted(doomed)} at "
                         f"{server.redacted}: {server.scrub(str(err))}") from err
    finally:
        client.close()
