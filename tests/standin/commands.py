"""The command table: which MongoDB commands the stand-in answers, and how.

``Executor.execute`` takes one command document as pymongo sent it and returns the reply
document; refused or failing commands come back as ``ok: 0`` replies with MongoDB's error
codes, so pymongo raises what it would raise against a real server.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any

import mongomock
from pymongo.errors import PyMongoError

from tests.standin import catalog, crud
from tests.standin.context import Command, Context, Reply, check_fields
from tests.standin.cursors import Cursors
from tests.standin.errors import CommandError

logger = logging.getLogger(__name__)

Handler = Callable[[Context, Command], Reply]

# What the stand-in claims to be in its hello reply: a standalone server speaking the wire
# protocol of MongoDB 6.0 (wire version 17), which pymongo 4.x fully supports.
MAX_WIRE_VERSION = 17
FAKE_SERVER_VERSION = "6.0.0"
SESSION_TIMEOUT_MIN = 30


class Executor:
    """Runs commands against one in-memory mongomock client. Not thread-safe: callers
    serialise commands (the server holds a lock around ``execute``)."""

    def __init__(self, client: Any = None, *, clock_offset_s: float = 0.0) -> None:
        self.client = client if client is not None else mongomock.MongoClient()
        # Added to the time hello reports, to play a server whose clock is not this host's.
        self._clock_offset = timedelta(seconds=clock_offset_s)
        self._cursors = Cursors()
        self._connection_ids = itertools.count(1)
        self._handlers: dict[str, Handler] = {
            "hello": self._hello, "isMaster": self._hello, "ismaster": self._hello,
            "ping": _empty, "endSessions": _empty, "buildInfo": _build_info,
            "getMore": _get_more, "killCursors": _kill_cursors,
            "insert": crud.insert, "update": crud.update, "delete": crud.delete,
            "find": crud.find, "findAndModify": crud.find_and_modify,
            "count": crud.count, "distinct": crud.distinct, "aggregate": crud.aggregate,
            "createIndexes": catalog.create_indexes, "listIndexes": catalog.list_indexes,
            "create": catalog.create, "drop": catalog.drop,
            "dropDatabase": catalog.drop_database,
            "listCollections": catalog.list_collections,
            "listDatabases": catalog.list_databases,
            "saslStart": _refuse_authentication, "authenticate": _refuse_authentication,
        }

    @property
    def command_names(self) -> list[str]:
        return sorted(self._handlers)

    def execute(self, database: str, command: Command) -> Reply:
        """The reply to ``command`` run on ``database``; never raises for a bad command."""
        name = next(iter(command), "")
        handler = self._handlers.get(name)
        if handler is None:
            return CommandError(59, "CommandNotFound",
                                f"no such command: {name!r}; the test stand-in serves only "
                                f"{', '.join(self.command_names)}").reply()
        context = Context(self.client, database, self._cursors)
        try:
            return {**handler(context, command), "ok": 1}
        except CommandError as err:
            return err.reply()
        # mongomock reports what it cannot do, or bad input, with these.
        except (PyMongoError, ValueError, TypeError, KeyError) as err:
            code = getattr(err, "code", None) or 2
            return {"ok": 0, "errmsg": f"{name} failed: {err}", "code": code,
                    "codeName": "BadValue" if code == 2 else "Location"}
        except NotImplementedError as err:
            return CommandError(115, "CommandNotSupported",
                                f"mongomock, behind the test stand-in, cannot do this "
                                f"{name}: {err}").reply()

    def _hello(self, _ctx: Context, command: Command) -> Reply:
        # Whatever the client sends with hello (metadata, compression) is accepted: the
        # reply simply advertises no compression and no authentication.
        primary_key = "isWritablePrimary" if "hello" in command else "ismaster"
        return {
            primary_key: True, "helloOk": True, "connectionId": next(self._connection_ids),
            "minWireVersion": 0, "maxWireVersion": MAX_WIRE_VERSION,
            "maxBsonObjectSize": 16 * 1024 * 1024, "maxMessageSizeBytes": 48_000_000,
            "maxWriteBatchSize": 100_000,
            "localTime": datetime.now(UTC) + self._clock_offset,
            "logicalSessionTimeoutMinutes": SESSION_TIMEOUT_MIN, "readOnly": False,
        }


def _empty(_ctx: Context, _command: Command) -> Reply:
    return {}


def _refuse_authentication(_ctx: Context, _command: Command) -> Reply:
    # What a real server answers for a user it does not know, so clients given credentials
    # fail the way they would against MongoDB with wrong ones.
    raise CommandError(18, "AuthenticationFailed",
                       "Authentication failed: the test stand-in has no users")


def _build_info(_ctx: Context, command: Command) -> Reply:
    check_fields("buildInfo", command, {"buildInfo", "buildinfo"})
    major, minor, patch = (int(p) for p in FAKE_SERVER_VERSION.split("."))
    return {"version": FAKE_SERVER_VERSION, "versionArray": [major, minor, patch, 0],
            "gitVersion": "ocrtune-test-standin", "standin": "mockupdb + mongomock",
            "mongomockVersion": version("mongomock")}


def _get_more(ctx: Context, command: Command) -> Reply:
    check_fields("getMore", command, {"getMore", "collection", "batchSize"})
    return ctx.cursors.next_batch(int(command["getMore"]),
                                  batch_size=command.get("batchSize"))


def _kill_cursors(ctx: Context, command: Command) -> Reply:
    check_fields("killCursors", command, {"killCursors", "cursors"})
    return ctx.cursors.kill(command.get("cursors", []))
