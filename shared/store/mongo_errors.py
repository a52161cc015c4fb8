"""pymongo's errors as the store's: an unreachable server raises StoreUnavailableError
(callers retry), anything else StoreError, each with what to check.

Messages name the server by its redacted URI and keep only the head of pymongo's message,
which appends whole topology descriptions; a password that appears in it is masked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

from shared.errors import StoreError, StoreUnavailableError
from shared.store.uri import MongoTarget

# MongoDB's error codes for refused credentials: Unauthorized, AuthenticationFailed.
AUTH_ERROR_CODES = frozenset({13, 18})
_BRIEF_CHARS = 300


@contextmanager
def store_errors(target: MongoTarget, action: str) -> Iterator[None]:
    """Raise pymongo's errors inside the block as the store's; ``action`` says what failed,
    e.g. "reserving a trial for worker 'w1'"."""
    where = target.redacted
    try:
        yield
    except ConnectionFailure as err:
        raise StoreUnavailableError(
            f"MongoDB at {where} could not be reached while {action} "
            f"({type(err).__name__}: {brief(target, err)}); check that the server runs and "
            "that the URI's hosts and ports are right, then retry") from err
    except OperationFailure as err:
        hint = ("check the user, password and authSource in the URI"
                if err.code in AUTH_ERROR_CODES else "see the server's log")
        raise StoreError(f"MongoDB at {where} refused {action} (code {err.code}: "
                         f"{brief(target, err)}); {hint}") from err
    except PyMongoError as err:
        raise StoreError(f"MongoDB at {where} failed while {action} "
                         f"({type(err).__name__}: {brief(target, err)})") from err


def brief(target: MongoTarget, err: PyMongoError) -> str:
    """The head of pymongo's message, without the server's full reply or the password."""
    # pymongo appends the server's whole reply (", full error: ...") to refusals, and its
    # whole view of the cluster (", Timeout: 5.0s, Topology Description: ...") to
    # unreachable servers: the head before either says what happened.
    message = target.scrub(str(err)).split(", full error:")[0].split(", Timeout:")[0]
    return message if len(message) <= _BRIEF_CHARS else message[:_BRIEF_CHARS] + "..."
