"""Waiting for a condition within one test process, with a generous deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_S = 0.02
# Generous: the suite runs on loaded two-core machines, where a thread may wait seconds
# for its turn. A condition that holds returns at once, so only failures pay for it.
DEADLINE_S = 20.0


def wait_for(condition: Callable[[], object], *, what: str = "the condition",
             timeout_s: float = DEADLINE_S) -> None:
    """Poll ``condition`` until it is true; fail the test once ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout_s:g} s of waiting for {what}")
        time.sleep(POLL_S)
