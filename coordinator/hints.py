"""The store options to repeat in a command that a message suggests.

A suggestion such as "see why with `python -m coordinator history --state error`" must read
the store the user named, or it reports another history, or none. The options are spelled
as the user would type them: ``--history PATH``, and ``--mongo URI`` for a URI that holds
no secret. One with a password (or another secret option) is never printed: a placeholder
stands in for it, and one given in ``OCRTUNE_MONGO`` is read again by the suggested
command itself.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from shared.errors import OcrTuneError, SuggestingError
from shared.store.factory import DEFAULT_HISTORY
from shared.store.uri import redact_uri

MONGO_PLACEHOLDER = "--mongo <your URI>"


@dataclass(frozen=True)
class StoreOptions:
    """How the user named the store: ``--mongo`` (and whether from its variable) or
    ``--history``."""

    mongo: str | None = None
    history: Path = DEFAULT_HISTORY
    mongo_from_env: bool = False

    def typed(self) -> str:
        """The options, with a leading space when there are any: " --history a.sqlite"."""
        if self.mongo:
            if self.mongo_from_env:
                return ""
            if redact_uri(self.mongo) == self.mongo:
                return f" --mongo {shlex.quote(self.mongo)}"
            return f" {MONGO_PLACEHOLDER}"
        return f" --history {shlex.quote(str(self.history))}"

    def message(self, err: OcrTuneError) -> str:
        """``err``'s message, its suggested command (if any) reading this store."""
        return err.render(self.typed()) if isinstance(err, SuggestingError) else str(err)

    def command(self, *words: str) -> str:
        """``python -m coordinator WORDS`` reading this store."""
        return shlex.join(["python", "-m", "coordinator", *words]) + self.typed()
