"""Showing a search's progress: a bar on a terminal, a log line now and then elsewhere."""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING, Never

from tqdm import tqdm

if TYPE_CHECKING:  # the search module imports hyperopt, which takes seconds to load
    from coordinator.search import SearchSnapshot

logger = logging.getLogger(__name__)

# Without a terminal (docker compose logs, CI), a status line this often instead of a bar.
LOG_EVERY_S = 15.0


def describe(snapshot: SearchSnapshot) -> str:
    """One line: running, queued, live workers, failures, reuses, best loss."""
    best = "-" if snapshot.best_loss is None else f"{snapshot.best_loss:.4f}"
    return (f"running {snapshot.running}, queued {snapshot.queued}, "
            f"workers {snapshot.live_workers}, failed {snapshot.failed}, "
            f"reused {snapshot.reused}, best loss {best}")


class SearchProgress:
    """Call with each snapshot; close when the search ends."""

    def __init__(self, *, exp_key: str, interactive: bool | None = None) -> None:
        self._exp_key = exp_key
        self._interactive = sys.stderr.isatty() if interactive is None else interactive
        self._bar: tqdm[Never] | None = None
        self._logged_at: float | None = None

    def __call__(self, snapshot: SearchSnapshot) -> None:
        if self._interactive:
            self._draw(snapshot)
        else:
            self._log(snapshot)

    def _draw(self, snapshot: SearchSnapshot) -> None:
        if self._bar is None:
            # Trials finished before this run are the bar's start, so that its rate and
            # time left count this run's trials only (a resumed search starts part-way).
            self._bar = tqdm(total=snapshot.max_evals, initial=snapshot.finished,
                             desc=self._exp_key, unit="trial", dynamic_ncols=True)
        bar = self._bar
        bar.set_postfix_str(describe(snapshot), refresh=False)
        if snapshot.finished > bar.n:
            bar.update(snapshot.finished - bar.n)
        else:
            bar.refresh()

    def _log(self, snapshot: SearchSnapshot) -> None:
        now = time.monotonic()
        finished = snapshot.finished >= snapshot.max_evals
        if self._logged_at is not None and now - self._logged_at < LOG_EVERY_S \
                and not finished:
            return
        self._logged_at = now
        if snapshot.finished > snapshot.max_evals:  # resumed with a smaller --max-evals
            logger.info("Experiment %r: %d trials finished (--max-evals %d); %s.",
                        self._exp_key, snapshot.finished, snapshot.max_evals,
                        describe(snapshot))
            return
        logger.info("Experiment %r: %d of %d trials finished; %s.", self._exp_key,
                    snapshot.finished, snapshot.max_evals, describe(snapshot))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
