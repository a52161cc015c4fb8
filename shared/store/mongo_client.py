"""Connecting to the MongoDB server a store names, and the indexes its collections carry.

The collections and what each index serves are described in ``shared.store.mongo``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from dns.exception import DNSException
from pymongo import ASCENDING, IndexModel, MongoClient
from pymongo.database import Database
from pymongo.errors import ConfigurationError

from shared.errors import ConfigError
from shared.store.documents import Document
from shared.store.uri import MongoTarget

# How long an operation waits for a usable server before it fails as unreachable, and
# how long opening one connection may take. pymongo waits 30 s and 20 s; ours are shorter
# because every caller retries with backoff and logs each try: a stop request is then
# answered within seconds rather than after half a minute (compose kills after its grace
# period), and an outage shows in the log at once. A replica set's election, about 12 s
# at MongoDB's defaults, is spanned by the retries.
SERVER_SELECTION_TIMEOUT_MS = 5_000
CONNECT_TIMEOUT_MS = 5_000
# How long an operation waits for the server's answer. pymongo waits for ever by default,
# so a server that hangs (frozen, or behind a network that drops packets) would stall the
# coordinator and every worker without a word; with a limit the wait ends in
# StoreUnavailableError, which callers log and retry. Every operation here is a small
# indexed read or a one-document write, answered in milliseconds.
SOCKET_TIMEOUT_MS = 20_000

INDEXES: dict[str, list[IndexModel]] = {
    "jobs": [
        IndexModel([("exp_key", ASCENDING), ("tid", ASCENDING)], name="exp_key_tid",
                   unique=True),
        IndexModel([("state", ASCENDING), ("exp_key", ASCENDING), ("tid", ASCENDING)],
                   name="reserve"),
        IndexModel([("exp_key", ASCENDING), ("state", ASCENDING),
                    ("refresh_time", ASCENDING)], name="lease_reaper"),
        IndexModel([("exp_key", ASCENDING), ("config_key", ASCENDING)], name="config_key"),
    ],
    "experiments": [IndexModel([("exp_key", ASCENDING)], name="exp_key", unique=True)],
    "workers": [
        IndexModel([("worker_id", ASCENDING)], name="worker_id", unique=True),
        IndexModel([("last_seen", ASCENDING)], name="last_seen"),
    ],
}


def connect(target: MongoTarget, *, server_selection_timeout_ms: int, connect_timeout_ms: int,
            socket_timeout_ms: int | None) -> MongoClient[Document]:
    """A client for ``target``, with these timeouts unless its URI sets them itself.

    Raises ConfigError when pymongo refuses the URI's options, or cannot look up the
    cluster a ``mongodb+srv://`` URI names. pymongo connects lazily: nothing is sent to the
    server yet (a ``mongodb+srv://`` URI's DNS records are looked up here, though).
    """
    defaults: dict[str, Any] = {
        "serverSelectionTimeoutMS": server_selection_timeout_ms,
        "connectTimeoutMS": connect_timeout_ms,
        "socketTimeoutMS": socket_timeout_ms,
        # Callers retry unreachable stores themselves and every lease write is
        # conditional. pymongo 4.20's own retry of a write whose connection failed adds
        # a transaction number, which a standalone server refuses with an error.
        "retryWrites": False,
    }
    # pymongo lets keywords override the URI's options; an option the URI sets is the
    # operator's choice, so only those it leaves out are passed.
    in_uri = {name.lower() for name, _ in parse_qsl(target.uri.partition("?")[2])}
    chosen = {name: value for name, value in defaults.items() if name.lower() not in in_uri}
    try:
        # tz_aware: datetimes come back as aware UTC, as the documents hold them.
        return MongoClient(target.uri, tz_aware=True, **chosen)
    except ConfigurationError as err:
        raise _config_error(target, err) from None


def _config_error(target: MongoTarget, err: ConfigurationError) -> ConfigError:
    reason = target.scrub(str(err))
    # pymongo reports a failed DNS lookup of a mongodb+srv:// host as a ConfigurationError
    # caused by dnspython's error; the options are not what is wrong then.
    if isinstance(err.__cause__, DNSException):
        return ConfigError(
            f"cannot look up the MongoDB cluster of the URI {target.redacted}: {reason}; "
            "check the host name in the URI: a mongodb+srv:// URI needs a DNS SRV record "
            "for its host (for a server without one, use mongodb://HOST:PORT)")
    return ConfigError(f"cannot use the MongoDB URI {target.redacted}: {reason}; fix the "
                       "URI's options")


def create_indexes(database: Database[Document]) -> None:
    """Create every collection's indexes; those that exist already are left as they are."""
    for name, indexes in INDEXES.items():
        database[name].create_indexes(indexes)
