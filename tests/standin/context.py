"""What a command handler works on: the in-memory databases, the open cursors, the request."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from tests.standin.cursors import Cursors
from tests.standin.errors import CommandError

# Fields drivers add to every command that change nothing the stand-in does: sessions,
# read and write concerns of a single server, routing and API-version markers.
IGNORED_FIELDS = frozenset({
    "$db", "lsid", "$readPreference", "$clusterTime", "readConcern", "writeConcern",
    "comment", "maxTimeMS", "apiVersion", "apiStrict", "apiDeprecationErrors",
})

Command = Mapping[str, Any]
Reply = dict[str, Any]


@dataclass(frozen=True)
class Context:
    """One command's view of the stand-in. ``client`` is a ``mongomock.MongoClient``."""

    client: Any
    database_name: str
    cursors: Cursors

    @property
    def database(self) -> Any:
        return self.client[self.database_name]

    def collection(self, command: Command) -> Any:
        """The collection a command names in its first field, as MongoDB commands do."""
        name = next(iter(command.values()))
        if not isinstance(name, str) or not name:
            raise CommandError(73, "InvalidNamespace",
                               f"{next(iter(command))} needs a collection name, got {name!r}")
        return self.database[name]

    def namespace(self, command: Command) -> str:
        return f"{self.database_name}.{next(iter(command.values()))}"


def check_fields(what: str, given: Mapping[str, Any], accepted: Collection[str]) -> None:
    """Refuse options the stand-in would silently get wrong (collation, hint, ...)."""
    unknown = sorted(set(given) - set(accepted) - IGNORED_FIELDS)
    if unknown:
        raise CommandError(
            115, "CommandNotSupported",
            f"the test stand-in does not support {', '.join(unknown)} in {what}; "
            "it is not MongoDB (see tests/standin/__init__.py for what it serves)")


def sort_spec(sort: Mapping[str, Any] | None) -> list[tuple[str, Any]] | None:
    """A command's sort document as the (field, direction) pairs mongomock takes."""
    return list(sort.items()) if sort else None
