"""Where the MongoDB trial store lives: connection URIs parsed into a ``MongoTarget``.

Three spellings are accepted:

- ``mongodb://[user[:password]@]host[:port][,host...][/database][?options]``
- ``mongodb+srv://[user[:password]@]cluster.example.org[/database][?options]``
- hyperopt's ``mongo://[user[:password]@]host[:port]/database/jobs``, translated to the
  ``mongodb://`` form; its last part names hyperopt's job collection and must be ``jobs``.

pymongo's own parser checks the ``mongodb://`` forms (escaping, ports, option names and
values, readable TLS files). A ``mongodb+srv://`` URI is checked without the DNS lookup
pymongo would do, so parsing never waits on the network; the lookup happens when the
client connects. The database defaults to ``ocrtune``.

Passwords never leave this module in readable form: ``MongoTarget.redacted``, its ``str``
and ``repr``, and every error message show ``***`` in their place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from pymongo.errors import ConfigurationError
from pymongo.uri_parser import parse_uri

from shared.errors import ConfigError

DEFAULT_DATABASE = "ocrtune"
EXAMPLE_URI = "mongodb://alice@db.example.org:27017/ocrtune?authSource=admin"
HYPEROPT_COLLECTION = "jobs"

_SCHEME = "mongodb://"
_SRV_SCHEME = "mongodb+srv://"
_HYPEROPT_SCHEME = "mongo://"
_MASK = "***"
# Passwords shorter than this are masked only where they stand alone (see _scrub).
_SHORT_PASSWORD = 6
# Query options whose values are secrets as much as a password is.
_SECRET_OPTIONS = frozenset({"tlscertificatekeyfilepassword", "authmechanismproperties"})
# Options pymongo accepts only on mongodb+srv:// URIs; dropped before the offline check.
_SRV_ONLY_OPTIONS = frozenset({"srvservicename", "srvmaxhosts"})


@dataclass(frozen=True, repr=False)
class MongoTarget:
    """A parsed connection URI: what to hand ``MongoClient`` and what to show people.

    ``uri`` keeps the password and goes to ``MongoClient`` only; log and print
    ``redacted`` (also what ``str`` and ``repr`` give).
    """

    uri: str
    database: str
    redacted: str
    username: str | None = None
    auth_source: str | None = None
    replica_set: str | None = None
    tls: bool = False

    def __str__(self) -> str:
        return self.redacted

    def __repr__(self) -> str:
        return f"MongoTarget({self.redacted!r}, database={self.database!r})"

    def scrub(self, message: str) -> str:
        """``message`` with this URI's password masked, should a library have quoted it."""
        return _scrub(message, self.uri)


def parse_mongo_uri(text: str) -> MongoTarget:
    """Parse a ``mongodb://``, ``mongodb+srv://`` or hyperopt ``mongo://`` URI.

    Raises ConfigError naming the problem, the redacted URI and an example of a valid one.
    """
    text = text.strip()
    redacted = redact_uri(text)
    if text.startswith(_HYPEROPT_SCHEME):
        standard, database = _translate_hyperopt(text, redacted)
        return _parse_standard(standard, redacted, database=database)
    if text.startswith(_SRV_SCHEME):
        return _parse_srv(text, redacted)
    if text.startswith(_SCHEME):
        return _parse_standard(text, redacted)
    raise _invalid(redacted, "it must start with mongodb://, mongodb+srv:// or mongo://")


def redact_uri(text: str) -> str:
    """``text`` with the password and secret option values replaced by ``***``.

    Works on malformed URIs too. The credentials end at the last ``@``: a password holding
    an unescaped ``/``, ``?`` or ``@`` is still hidden, at the price of hiding more than
    needed when an option value contains an ``@``.
    """
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    userinfo, at, location = rest.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.partition(":")[0]
        userinfo = f"{user}:{_MASK}"
    hosts_and_path, question, query = location.partition("?")
    if question:
        location = f"{hosts_and_path}?{_redact_options(query)}"
    return f"{scheme}{sep}{userinfo}{at}{location}"


def _redact_options(query: str) -> str:
    parts = []
    for option in query.split("&"):
        name, equals, _value = option.partition("=")
        secret = equals and name.lower() in _SECRET_OPTIONS
        parts.append(f"{name}={_MASK}" if secret else option)
    return "&".join(parts)


def _translate_hyperopt(text: str, redacted: str) -> tuple[str, str]:
    """hyperopt's ``mongo://host:port/db/jobs`` as ``mongodb://host:port/db`` and ``db``.

    The database stays in the translated URI's path because pymongo then authenticates
    against it by default, as hyperopt did.
    """
    rest = text[len(_HYPEROPT_SCHEME):]
    userinfo, at, location = rest.rpartition("@")
    path, question, query = location.partition("?")
    parts = path.split("/")
    if len(parts) != 3 or not all(parts):
        raise _invalid(redacted, "hyperopt's form is mongo://host:port/database/jobs",
                       example="mongo://localhost:27017/ocrtune/jobs")
    host, database, collection = parts
    if collection != HYPEROPT_COLLECTION:
        raise _invalid(redacted, f"the last part of a mongo:// URI names hyperopt's job "
                       f"collection and must be {HYPEROPT_COLLECTION!r}, not {collection!r}",
                       example=f"mongo://localhost:27017/{database}/jobs")
    standard = f"{_SCHEME}{userinfo}{at}{host}/{database}{question}{query}"
    return standard, database


def _parse_standard(text: str, redacted: str, *, database: str | None = None
                    ) -> MongoTarget:
    parsed = _checked_by_pymongo(text, redacted)
    return _target(text, redacted, parsed, database=database, tls_by_default=False)


def _parse_srv(text: str, redacted: str) -> MongoTarget:
    """Check a ``mongodb+srv://`` URI offline, as the ``mongodb://`` URI it resembles."""
    look_alike = _SCHEME + _without_options(text[len(_SRV_SCHEME):], _SRV_ONLY_OPTIONS)
    parsed = _checked_by_pymongo(look_alike, redacted, default_port=None)
    nodes = parsed["nodelist"]
    if len(nodes) != 1 or nodes[0][1] is not None:
        raise _invalid(redacted, "a mongodb+srv:// URI names exactly one host, the DNS "
                       "name of the cluster, without a port",
                       example="mongodb+srv://alice@cluster0.example.org/ocrtune")
    if parsed["options"].get("directConnection"):
        raise _invalid(redacted, "directConnection=true cannot be used with mongodb+srv://")
    # SRV connections use TLS unless the URI turns it off.
    return _target(text, redacted, parsed, database=None, tls_by_default=True)


def _target(text: str, redacted: str, parsed: dict[str, Any], *, database: str | None,
            tls_by_default: bool) -> MongoTarget:
    if parsed["collection"]:
        raise _invalid(redacted, f"it names a collection ({parsed['collection']!r}); "
                       "give only the database, the store names its own collections")
    options = parsed["options"]
    return MongoTarget(
        uri=text,
        database=database or parsed["database"] or DEFAULT_DATABASE,
        redacted=redacted,
        username=parsed["username"],
        auth_source=options.get("authSource"),
        replica_set=options.get("replicaSet"),
        tls=bool(options.get("tls", tls_by_default)),
    )


def _without_options(text: str, names: frozenset[str]) -> str:
    head, question, query = text.partition("?")
    kept = [o for o in query.split("&") if o.partition("=")[0].lower() not in names]
    return f"{head}{question}{'&'.join(kept)}" if any(kept) else head


def _checked_by_pymongo(text: str, redacted: str, *, default_port: int | None = 27017
                        ) -> dict[str, Any]:
    try:
        return parse_uri(text, default_port=default_port)
    # pymongo reports bad option values as ValueError or TypeError, unreadable TLS
    # files as OSError, everything else as ConfigurationError.
    except (ConfigurationError, ValueError, TypeError, OSError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        # Not chained: a traceback would print the library's message before _scrub.
        raise _invalid(redacted, _scrub(reason, text)) from None


def _scrub(message: str, text: str) -> str:
    """``message`` with the URI's password masked, should a library have quoted it.

    A password is masked wherever it occurs, even inside other text (a library may escape
    what surrounds it). Only a short one is masked where it stands alone instead, not where
    letters or digits run on from its ends: a password "a" must not mask every "a" of the
    message ("alice:a@db" becomes "alice:***@db").
    """
    userinfo = text.partition("://")[2].rpartition("@")[0]
    password = userinfo.partition(":")[2]
    for secret in {password, unquote_plus(password)} - {""}:
        if len(secret) < _SHORT_PASSWORD:
            message = _standalone(secret).sub(_MASK, message)
        else:
            message = message.replace(secret, _MASK)
    return message


def _standalone(secret: str) -> re.Pattern[str]:
    before = r"(?<![^\W_])" if secret[0].isalnum() else ""
    after = r"(?![^\W_])" if secret[-1].isalnum() else ""
    return re.compile(before + re.escape(secret) + after)


def _invalid(redacted: str, reason: str, *, example: str = EXAMPLE_URI) -> ConfigError:
    return ConfigError(f"invalid MongoDB URI {redacted!r}: {reason.rstrip('.')}. "
                       f"A valid URI looks like {example}")
