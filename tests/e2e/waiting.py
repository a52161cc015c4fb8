"""Waiting for a condition across processes, with a deadline and the logs when it fails."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from tests.e2e.programs import Program

T = TypeVar("T")

POLL_S = 0.1


def wait_until(condition: Callable[[], T | None], *, what: str, timeout_s: float,
               watch: Sequence[Program] = ()) -> T:
    """Poll ``condition`` until it gives a true value, and return that value.

    Fails the test, with the logs of the ``watch``ed programs, when the deadline passes or
    when one of them exits first (it can then no longer bring the condition about).
    ``what`` completes "waiting for ...".
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        for program in watch:
            if program.exit_code is not None:
                raise AssertionError(f"{program.name} exited with {program.exit_code} while "
                                     f"waiting for {what}.\n{_tails(watch)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout_s:g} s of waiting for {what}.\n"
                                 f"{_tails(watch)}")
        time.sleep(POLL_S)


def _tails(programs: Sequence[Program]) -> str:
    return "\n".join(program.tail() for program in programs)
