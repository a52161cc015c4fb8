"""Retrying store calls through an outage: the log says when the next try comes."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from shared.errors import StoreUnavailableError
from shared.retry import StopRequestedError, retry_unavailable


def test_each_retry_is_logged_with_its_pause_and_the_time_unreachable_so_far(
        caplog: pytest.LogCaptureFixture) -> None:
    # Given a call that fails twice, each failure after 0.2 s of waiting for the server
    calls: list[float] = []

    def call() -> str:
        calls.append(time.monotonic())
        if len(calls) <= 2:
            time.sleep(0.2)
            raise StoreUnavailableError("no server")
        return "answer"

    # When it is retried
    with caplog.at_level(logging.WARNING, logger="shared.retry"):
        answer = retry_unavailable(call, what="reading trials")

    # Then it succeeds on the third try, and each retry says when the next comes and how
    # long the store has been unreachable
    assert answer == "answer" and len(calls) == 3
    assert caplog.messages == [
        "The store was unreachable while reading trials (no server); try 2 in 0.5 s "
        "(unreachable for 0 s so far).",
        "The store was unreachable while reading trials (no server); try 3 in 1.0 s "
        "(unreachable for 1 s so far).",
    ]


def test_a_stop_request_ends_the_wait_between_tries() -> None:
    stop = threading.Event()

    def call() -> None:
        stop.set()
        raise StoreUnavailableError("no server")

    with pytest.raises(StopRequestedError, match="stop requested while retrying: reading"):
        retry_unavailable(call, what="reading", stop=stop)
