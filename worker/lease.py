"""Keeping a reserved trial's lease alive while it is evaluated."""

from __future__ import annotations

import logging
import threading
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
    """

    def __init__(self, store: TrialStore, trial: Trial, *, interval_s: float,
                 on_beat: Callable[[], None] | None = None) -> None:
        self._store = store
        self._trial = trial
        self._interval_s = interval_s
        self._on_beat = on_beat
        self._done = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True,
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

    def _beat(self) -> None:
        trial = self._trial
        while not self._done.wait(self._interval_s):
            try:
                self._store.heartbeat(trial)
            except LeaseLostError:
                logger.warning("Trial %s/%s: lease lost while evaluating; its result will "
                               "be dropped, the new owner's stands.", trial.exp_key, trial.tid)
                self._lost.set()
                return
            except StoreError as err:
                # Unreachable or failing store: the next beat tries again; the lease only
                # expires if the outage outlasts it.
                logger.warning("Trial %s/%s: heartbeat failed (%s); next try in %.1f s.",
                               trial.exp_key, trial.tid, err, self._interval_s)
                continue
            if self._on_beat is not None:
                self._on_beat()
