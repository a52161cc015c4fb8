"""The stand-in's own failures: refused commands and a server that would not start."""

from __future__ import annotations

from typing import Any


class CommandError(Exception):
    """Raised when the stand-in refuses a command; becomes an ``ok: 0`` reply.

    ``code`` and ``code_name`` are MongoDB's, so pymongo raises the exception it would
    raise for a real server (OperationFailure, CursorNotFound, ...).
    """

    def __init__(self, code: int, code_name: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.code_name = code_name

    def reply(self) -> dict[str, Any]:
        return {"ok": 0, "errmsg": str(self), "code": self.code, "codeName": self.code_name}


class StandinStartError(RuntimeError):
    """Raised when the stand-in process exits or stays silent instead of serving."""
