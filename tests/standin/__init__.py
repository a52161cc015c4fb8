"""A MongoDB wire-protocol stand-in, for tests only. It is not MongoDB.

What it is
    A small server that speaks enough of MongoDB's wire protocol for pymongo 4 to talk to
    it: ``mockupdb`` (MongoDB's library for scripted wire-protocol test servers) receives
    each OP_MSG command, and the command runs against an in-memory ``mongomock``
    database. Commands are answered one at a time under a lock, so findAndModify is atomic
    across connections and processes. It listens on 127.0.0.1 only.

Why
    The MongoDB trial store's tests need a server, and none can be installed where they
    run. When ``OCRTUNE_TEST_MONGO_URI`` names a real server the tests use that instead
    (see ``tests/conftest.py``).

Commands it answers
    hello / isMaster / ismaster, ping, buildInfo, endSessions;
    insert, update, delete, find, getMore, killCursors, findAndModify, count, distinct,
    aggregate;
    createIndexes, listIndexes, create, drop, dropDatabase, listCollections,
    listDatabases; saslStart and authenticate are refused as MongoDB refuses unknown users
    (AuthenticationFailed, code 18).
    Any other command gets a CommandNotFound error (code 59); options it would get wrong
    (collation, arrayFilters, partial indexes, ...) get a CommandNotSupported error
    (code 115) naming them. Query and update operators are whatever mongomock implements.

What it does not do
    No authentication, TLS, compression, replica sets, transactions, retryable writes or
    change streams. Read and write concerns are ignored: every write is applied at once,
    in memory (an unacknowledged, w=0 write is applied and gets no reply, as on MongoDB).
    Index options other than ``unique`` and ``sparse`` are refused. Query plans,
    performance and memory limits are nothing like MongoDB's. Data lives in memory; it is
    written to the state file only when the process stops on SIGTERM or SIGINT, so SIGKILL
    loses everything since the last start.

Running it
    ``python -m tests.standin --port P [--state-file F] [--clock-offset-s S]`` prints
    ``listening on 127.0.0.1:PORT`` once it serves. In tests, ``StandinServer`` starts it
    as a child process on a free port, waits for hello, and offers ``pause`` / ``resume``
    (SIGSTOP / SIGCONT: the server freezes with connections open) and ``restart``
    (SIGTERM, state saved, started again on the same port).
"""

from tests.standin.errors import StandinStartError
from tests.standin.process import StandinServer

__all__ = ["StandinServer", "StandinStartError"]
