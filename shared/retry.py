"""Retrying store calls while the database is unreachable, with backoff and a stop switch.

Coordinator and workers must ride out a MongoDB restart: every store call that can meet
``StoreUnavailableError`` goes through ``retry_unavailable``, which waits with exponential
backoff, logs when the next try comes, and gives up early only when asked to stop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

import tenacity

from shared.errors import OcrTuneError, StoreUnavailableError

logger = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_WAIT_S = 0.5
MAX_WAIT_S = 15.0


class StopRequestedError(OcrTuneError):
    """Raised out of a retry loop when a stop was requested while it waited.

    Not a failure: callers that end on it (``coordinator run``, the worker) catch it before
    ``OcrTuneError``, and no ``except OcrTuneError`` lies between a retry and those callers.
    """


def retry_unavailable(
    call: Callable[[], T],
    *,
    what: str,
    stop: threading.Event | None = None,
    give_up_after_s: float | None = None,
) -> T:
    """Run ``call``, retrying on StoreUnavailableError until it succeeds.

    ``what`` completes the sentence "the store was unreachable while ..." in the log.
    Waiting ends early with StopRequestedError when ``stop`` is set; after
    ``give_up_after_s`` seconds the last StoreUnavailableError is raised.
    """
    event = stop or threading.Event()

    def wait_or_stop(seconds: float) -> None:
        if event.wait(seconds):
            raise StopRequestedError(f"stop requested while retrying: {what}")

    def log_next_try(state: tenacity.RetryCallState) -> None:
        seconds = state.next_action.sleep if state.next_action else 0.0
        # Each try may itself wait for the server (pymongo's server selection timeout), so
        # the time since the first try says more than the pause before the next one.
        logger.warning("The store was unreachable while %s (%s); try %d in %.1f s "
                       "(unreachable for %.0f s so far).",
                       what, state.outcome.exception() if state.outcome else "?",
                       state.attempt_number + 1, seconds, state.seconds_since_start or 0.0)

    stop_rule: tenacity.stop.stop_base = tenacity.stop_never
    if give_up_after_s is not None:
        stop_rule = tenacity.stop_after_delay(give_up_after_s)
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(StoreUnavailableError),
        wait=tenacity.wait_exponential(multiplier=FIRST_WAIT_S, max=MAX_WAIT_S),
        stop=stop_rule,
        sleep=wait_or_stop,
        before_sleep=log_next_try,
        reraise=True,
    )
    return retrying(call)
