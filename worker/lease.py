"""Keeping a reserved trial's lease alive while it is evaluated."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from shared.errors import LeaseLostError, StoreError
from shared.store.base import TrialStore
from shared.trials import Trial

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """Refreshes a trial's heartbeat from a background thread, as a context manager.

    If the store says the lease is gone (the trial was requeued after a missed heartbeat,
    or someone else recorded it), ``lost`` becomes true and the beats stop; the worker
    then drops the result instead of writing over the new owner's.

    ``announce`` (the worker's announcement of itself) is called from the same thread every
    ``announce_every_s``, so that a worker busy with a long trial still shows as live
    whatever the lease. The thread is a boundary: whatever a heartbeat or an announcement
    raises is logged (unexpected errors with their traceback) and the beats go on; only a
    lost lease ends them.
    """

    def __init__(self, store: TrialStore, trial: Trial, *, interval_s: float,
                 announce: Callable[[], None] | None = None,
                 announce_every_s: float | None = None) -> None:
        self._store = store
        self._trial = trial
        self._interval_s = interval_s
        self._announce = announce
        self._announce_every_s = interval_s if announce_every_s is None else announce_every_s
        self._done = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"lease-{trial.exp_key}-{trial.tid}")

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        now = time.monotonic()
        beat_at, announce_at = now + self._interval_s, now + self._announce_every_s
        while not self._done.wait(max(0.0, min(beat_at, announce_at) - time.monotonic())):
            now = time.monotonic()
            if now >= beat_at:
                beat_at = now + self._interval_s
                if not self._beat():
                    return
            if now >= announce_at:
                announce_at = now + self._announce_every_s
                self._announce_safely()

    def _beat(self) -> bool:
        """Refresh the heartbeat; False once the lease is lost."""
        trial = self._trial
        try:
            self._store.heartbeat(trial)
        except LeaseLostError:
            logger.warning("Trial %s/%s: lease lost while evaluating; its result will "
                           "be dropped, the new owner's stands.", trial.exp_key, trial.tid)
            self._lost.set()
            return False
        except StoreError as err:
            # Unreachable or failing store: the next beat tries again; the lease only
            # expires if the outage outlasts it.
            logger.warning("Trial %s/%s: heartbeat failed (%s); next try in %.1f s.",
                           trial.exp_key, trial.tid, err, self._interval_s)
        except Exception:  # the thread's boundary: a dead thread would lapse the lease
            logger.exception("Trial %s/%s: heartbeat failed on an unexpected error; next "
                             "try in %.1f s.", trial.exp_key, trial.tid, self._interval_s)
        return True

    def _announce_safely(self) -> None:
        if self._announce is None:
            return
        trial = self._trial
        # Announcing only keeps the worker listed as live; the lease depends on the
        # heartbeats alone, so they must outlive any failure here.
        try:
            self._announce()
        except StoreError as err:
            logger.warning("Trial %s/%s: announcing the worker failed (%s); heartbeats go "
                           "on, next announcement in %.1f s.", trial.exp_key, trial.tid,
                           err, self._announce_every_s)
        except Exception:  # the thread's boundary (an OSError from gethostname, a driver bug)
            logger.exception("Trial %s/%s: announcing the worker failed on an unexpected "
                             "error; heartbeats go on, next announcement in %.1f s.",
                             trial.exp_key, trial.tid, self._announce_every_s)
