"""The clock the stores stamp leases and results with; tests give a store a fake one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The time now, timezone-aware in UTC: the only kind of time the stores keep."""
    return datetime.now(UTC)
