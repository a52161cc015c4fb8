"""SIGTERM and SIGINT as stop requests: the first asks to stop, the second to hurry."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator

import pytest

from shared.signals import handlers_restored, stop_on_signals


@pytest.fixture(autouse=True)
def _handlers_restored() -> Iterator[None]:
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def _send(signum: signal.Signals) -> None:
    # A signal to this process runs its Python handler in the main thread before kill
    # returns to the next bytecode, so the effect is visible on the next line.
    os.kill(os.getpid(), signum)


def test_the_first_signal_asks_to_stop_and_the_second_to_hurry(
        caplog: pytest.LogCaptureFixture) -> None:
    hurry = threading.Event()
    with caplog.at_level(logging.INFO, logger="shared.signals"):
        stop = stop_on_signals("the trial is finished", hurry=hurry,
                               hurry_means="the trial is handed back now")

        _send(signal.SIGTERM)
        assert (stop.is_set(), hurry.is_set()) == (True, False)
        _send(signal.SIGINT)
        assert hurry.is_set()
        _send(signal.SIGTERM)

    assert [r.getMessage() for r in caplog.records] == [
        "SIGTERM received: the trial is finished.",
        "SIGINT again: the trial is handed back now.",
        "SIGTERM again: already stopping."]


def test_without_a_hurry_event_a_second_signal_only_says_it_is_stopping(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="shared.signals"):
        stop = stop_on_signals("the search stops")
        _send(signal.SIGINT)
        _send(signal.SIGINT)

    assert stop.is_set()
    assert [r.getMessage() for r in caplog.records] == [
        "SIGINT received: the search stops.", "SIGINT again: already stopping."]


def test_handlers_taken_over_in_the_block_are_given_back_after_it() -> None:
    before = signal.getsignal(signal.SIGINT)

    with handlers_restored():
        stop = stop_on_signals("the test stops")
        _send(signal.SIGINT)
    assert stop.is_set()

    assert signal.getsignal(signal.SIGINT) is before


def test_outside_the_main_thread_the_block_runs_and_no_handler_is_touched() -> None:
    ran: list[bool] = []
    errors: list[BaseException] = []

    def block() -> None:
        try:
            with handlers_restored():
                ran.append(True)
        except BaseException as err:  # noqa: BLE001 (a thread's error is lost otherwise)
            errors.append(err)

    thread = threading.Thread(target=block)
    thread.start()
    thread.join()

    assert ran == [True]
    assert errors == []
