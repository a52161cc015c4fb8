"""The MongoDB store's clock: this host's time plus the offset to the server's."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.errors import AutoReconnect

from shared.store.server_clock import REMEASURE_EVERY_S, RETRY_AFTER_S, ServerClock

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Host:
    """This host's clocks, and a server whose clock is ``offset`` off them."""

    def __init__(self, offset: timedelta, *, round_trip: timedelta = timedelta(0)) -> None:
        self.wall = START
        self.elapsed_s = 0.0
        self.offset = offset
        self.round_trip = round_trip
        self.failing = False
        self.hellos = 0

    def local(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.elapsed_s

    def hello(self) -> Mapping[str, object]:
        """The server answers half-way through the round trip."""
        self.hellos += 1
        if self.failing:
            raise AutoReconnect("connection refused")
        self.wall += self.round_trip / 2
        answered_at = self.wall + self.offset
        self.wall += self.round_trip / 2
        return {"isWritablePrimary": True, "localTime": answered_at}

    def wait(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.elapsed_s += seconds

    def clock(self) -> ServerClock:
        return ServerClock(self.hello, local=self.local, monotonic=self.monotonic)


def test_the_clock_tells_the_servers_time_measured_from_the_middle_of_the_round_trip() -> None:
    host = Host(timedelta(minutes=-5), round_trip=timedelta(milliseconds=40))
    clock = host.clock()

    assert clock.measure() == timedelta(minutes=-5)
    assert clock() == host.wall - timedelta(minutes=5)


def test_a_clock_not_measured_yet_measures_when_first_read() -> None:
    host = Host(timedelta(seconds=90))

    assert host.clock()() == START + timedelta(seconds=90)
    assert host.hellos == 1


def test_the_offset_is_measured_again_only_after_the_interval() -> None:
    # Given a clock measured once
    host = Host(timedelta(seconds=3))
    clock = host.clock()
    clock.measure()

    # When the server's clock drifts, it is seen only once the interval has passed
    host.offset = timedelta(seconds=4)
    host.wait(REMEASURE_EVERY_S - 1)
    assert clock() == host.wall + timedelta(seconds=3)
    host.wait(1)
    assert clock() == host.wall + timedelta(seconds=4)
    assert host.hellos == 2


def test_a_failed_measurement_keeps_the_last_offset_and_is_tried_again_soon(
        caplog: pytest.LogCaptureFixture) -> None:
    # Given a clock measured once, and a server that then cannot be reached
    host = Host(timedelta(seconds=-7))
    clock = host.clock()
    clock.measure()
    host.failing = True
    host.wait(REMEASURE_EVERY_S)

    # When the clock is read, then it still tells the time by the last offset
    with caplog.at_level(logging.DEBUG, logger="shared.store.server_clock"):
        assert clock() == host.wall - timedelta(seconds=7)
    assert "offset of -7.000 s measured before is kept" in caplog.text

    # And it tries again after a short wait, not at every read
    clock()
    assert host.hellos == 2
    host.failing = False
    host.offset = timedelta(seconds=-8)
    host.wait(RETRY_AFTER_S)
    assert clock() == host.wall - timedelta(seconds=8)


def test_a_first_measurement_that_fails_raises() -> None:
    host = Host(timedelta(0))
    host.failing = True

    with pytest.raises(AutoReconnect):
        host.clock().measure()


def test_a_reply_without_a_time_leaves_the_offset() -> None:
    clock = ServerClock(lambda: {"isWritablePrimary": True}, local=lambda: START)

    assert clock.measure() == timedelta(0)
    assert clock() == START


@pytest.mark.parametrize(("offset_s", "words"), [(3600.0, "3600.0 s behind"),
                                                  (-2.5, "2.5 s ahead of")])
def test_a_clock_far_from_the_servers_is_warned_about_once(
        caplog: pytest.LogCaptureFixture, offset_s: float, words: str) -> None:
    host = Host(timedelta(seconds=offset_s))
    clock = host.clock()

    with caplog.at_level(logging.WARNING, logger="shared.store.server_clock"):
        clock.measure()
        clock.measure()

    assert [r.getMessage() for r in caplog.records if words in r.getMessage()] == [
        f"This host's clock is {words} the MongoDB server's. Leases and stored times "
        "follow the server's clock, so the search is not affected, but this host's log "
        "times are off by as much: check its time synchronisation (NTP)."]


def test_a_clock_warned_about_is_warned_about_again_only_when_it_moves_far(
        caplog: pytest.LogCaptureFixture) -> None:
    # Given a clock warned about at 10 s behind
    host = Host(timedelta(seconds=10))
    clock = host.clock()
    with caplog.at_level(logging.WARNING, logger="shared.store.server_clock"):
        clock.measure()
        caplog.clear()

        # When it moves by 1 s, then by 9 s more
        host.offset = timedelta(seconds=11)
        clock.measure()
        host.offset = timedelta(seconds=20)
        clock.measure()

    # Then only the second move is warned about
    assert [r.getMessage().split(" the MongoDB")[0] for r in caplog.records] == [
        "This host's clock is 20.0 s behind"]


def test_a_clock_close_to_the_servers_is_not_warned_about(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="shared.store.server_clock"):
        Host(timedelta(seconds=1.5)).clock().measure()

    assert caplog.records == []
