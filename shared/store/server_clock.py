"""The MongoDB server's time, as every host of one run should read it.

Leases are stamped by workers and judged by the coordinator, often on other machines. Were
each to use its own clock, a worker whose clock runs five minutes slow would see every trial
it holds reaped as stale, and one running fast would hold a dead trial's lease for longer
than the timeout. So the MongoDB store tells the time by the server's clock: this host's
clock plus the offset to the server's, measured from the ``localTime`` of a ``hello`` reply
(the server's time when it answered, taken as the middle of the round trip) and measured
again every few minutes, since clocks drift. The error is at most half a round trip plus
the millisecond that ``localTime`` is rounded to: nothing against a lease timeout of
minutes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from pymongo.errors import PyMongoError

from shared.store.clock import Clock, utc_now

logger = logging.getLogger(__name__)

# How often the offset is measured again, and how soon after a failed measurement.
REMEASURE_EVERY_S = 600.0
RETRY_AFTER_S = 30.0
# An offset above this is worth a warning: the search is unaffected, but the host's time
# synchronisation is broken, and its own logs' times are that far off the stored ones.
WARN_OFFSET_S = 2.0

Hello = Callable[[], Mapping[str, object]]


class ServerClock:
    """A ``Clock`` that reads the MongoDB server's time through ``hello``.

    ``measure`` asks the server and raises what pymongo raises; calling the clock measures
    again once ``REMEASURE_EVERY_S`` have passed, and when that fails it keeps the last
    offset (logged), so that telling the time never fails. Safe to share between threads.
    """

    def __init__(self, hello: Hello, *, local: Clock = utc_now,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._hello = hello
        self._local = local
        self._monotonic = monotonic
        self._offset = timedelta(0)
        self._due_at = float("-inf")
        self._warned_at: timedelta | None = None
        self._lock = threading.Lock()

    @property
    def offset(self) -> timedelta:
        """The server's time minus this host's, as last measured (zero before that)."""
        return self._offset

    def __call__(self) -> datetime:
        if self._monotonic() >= self._due_at and self._lock.acquire(blocking=False):
            try:
                self._measure_or_keep()
            finally:
                self._lock.release()
        return self._local() + self._offset

    def measure(self) -> timedelta:
        """Ask the server for its time now and return the new offset."""
        with self._lock:
            return self._measure()

    def _measure_or_keep(self) -> None:
        try:
            self._measure()
        except PyMongoError as err:
            self._due_at = self._monotonic() + RETRY_AFTER_S
            logger.debug("Could not read the MongoDB server's clock (%s); the offset of "
                         "%.3f s measured before is kept.", type(err).__name__,
                         self._offset.total_seconds())

    def _measure(self) -> timedelta:
        sent = self._local()
        reply = self._hello()
        received = self._local()
        server_time = reply.get("localTime")
        if not isinstance(server_time, datetime) or server_time.tzinfo is None:
            # MongoDB servers send it; a server that does not leaves the offset as it was.
            logger.debug("The MongoDB server's hello reply gives no time; offset kept.")
        else:
            self._offset = server_time - (sent + (received - sent) / 2)
            self._warn_if_far()
        self._due_at = self._monotonic() + REMEASURE_EVERY_S
        return self._offset

    def _warn_if_far(self) -> None:
        # Once, and again only when the offset has moved by as much since.
        seconds = self._offset.total_seconds()
        last = self._warned_at
        if abs(seconds) <= WARN_OFFSET_S or (
                last is not None and abs(seconds - last.total_seconds()) <= WARN_OFFSET_S):
            return
        self._warned_at = self._offset
        side = "behind" if seconds > 0 else "ahead of"
        logger.warning("This host's clock is %.1f s %s the MongoDB server's. Leases and "
                       "stored times follow the server's clock, so the search is not "
                       "affected, but this host's log times are off by as much: check "
                       "its time synchronisation (NTP).", abs(seconds), side)
