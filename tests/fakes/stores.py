"""SQLite stores that note heartbeats, fail announcements or lose a reply, for worker tests."""

from __future__ import annotations

import time
from collections.abc import Collection
from pathlib import Path

from shared.errors import StoreUnavailableError
from shared.store.sqlite import SqliteTrialStore
from shared.trials import Trial, WorkerInfo


class BeatRecordingStore(SqliteTrialStore):
    """A SQLite store that notes when each heartbeat arrives (``time.monotonic``); the first
    ``failing_beats`` heartbeats raise ``beat_error`` instead of refreshing the lease."""

    def __init__(self, path: Path, *, beat_error: Exception | None = None,
                 failing_beats: int = 0) -> None:
        super().__init__(path)
        self.beats: list[float] = []
        self._beat_error = beat_error
        self._failing_beats_left = failing_beats

    def heartbeat(self, trial: Trial) -> Trial:
        self.beats.append(time.monotonic())
        if self._beat_error is not None and self._failing_beats_left > 0:
            self._failing_beats_left -= 1
            raise self._beat_error
        return super().heartbeat(trial)


class FailingAnnounceStore(BeatRecordingStore):
    """Announcing a worker succeeds ``ok_announcements`` times, then raises ``error``."""

    def __init__(self, path: Path, error: Exception, *, ok_announcements: int = 1) -> None:
        super().__init__(path)
        self._error = error
        self._ok_left = ok_announcements
        self.failed_announcements = 0

    def announce_worker(self, info: WorkerInfo) -> None:
        if self._ok_left > 0:
            self._ok_left -= 1
            super().announce_worker(info)
            return
        self.failed_announcements += 1
        raise self._error


class AnnounceRecordingStore(BeatRecordingStore):
    """A SQLite store that also notes when each worker announcement arrives."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.announcements: list[float] = []

    def announce_worker(self, info: WorkerInfo) -> None:
        self.announcements.append(time.monotonic())
        super().announce_worker(info)


class LostReserveReplyStore(SqliteTrialStore):
    """The first reservation is applied, then fails as if its reply were lost in an outage."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.lost_reservations: list[Trial] = []

    def reserve(self, worker_id: str, exp_keys: Collection[str] | None = None) -> Trial | None:
        trial = super().reserve(worker_id, exp_keys)
        if trial is not None and not self.lost_reservations:
            self.lost_reservations.append(trial)
            raise StoreUnavailableError("the server went away before it replied (test)")
        return trial
