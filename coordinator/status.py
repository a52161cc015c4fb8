"""Where an experiment stands: trials by state, live workers, pace, best loss, time left.

The pace is the number of trials finished in the last ``window_s`` seconds, per minute
(measured from the first of them's start instead, if that is later). The time left is the
trials still to finish divided by that pace. How many trials are still to finish needs
``max_evals``, which only the running coordinator knows (it is not stored); without it,
the queued and running trials are counted, the least that remains, since the coordinator
queues only about one trial ahead per worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from coordinator.settings import WORKER_SEEN_WITHIN_S
from shared.store.base import TrialStore
from shared.trials import Experiment, Trial, TrialState, WorkerInfo

# Finished trials counted for the pace: long enough to smooth over slow trials, short
# enough to follow a change in the number of workers.
PACE_WINDOW_S = 600.0


@dataclass(frozen=True)
class RunningTrial:
    tid: int
    owner: str | None
    heartbeat_age_s: float | None  # None: no heartbeat recorded


@dataclass(frozen=True)
class LiveWorker:
    worker_id: str
    host: str
    pid: int
    last_seen_age_s: float


@dataclass(frozen=True)
class TimeLeft:
    """Trials still to finish, and the time they take at the current pace (None: unknown).

    ``at_least`` is True when ``max_evals`` was not given: only the pending trials count.
    """

    trials: int
    seconds: float | None
    at_least: bool


@dataclass(frozen=True)
class ExperimentStatus:
    experiment: Experiment
    counts: tuple[tuple[TrialState, int], ...]
    reused: int
    best: Trial | None
    trials_per_minute: float | None
    last_end_age_s: float | None
    time_left: TimeLeft
    running: tuple[RunningTrial, ...]
    workers: tuple[LiveWorker, ...]

    def count(self, state: TrialState) -> int:
        return dict(self.counts).get(state, 0)


def read_status(store: TrialStore, experiment: Experiment, *, now: datetime,
                max_evals: int | None = None, window_s: float = PACE_WINDOW_S
                ) -> ExperimentStatus:
    """Read one experiment's trials and live workers from the store, as of ``now``."""
    trials = store.trials(experiment.exp_key)
    workers = store.live_workers(seen_since=now - timedelta(seconds=WORKER_SEEN_WITHIN_S),
                                 exp_key=experiment.exp_key)
    return summarise(experiment, trials, workers, now=now, max_evals=max_evals,
                     window_s=window_s)


def summarise(experiment: Experiment, trials: list[Trial], workers: list[WorkerInfo], *,
              now: datetime, max_evals: int | None = None, window_s: float = PACE_WINDOW_S
              ) -> ExperimentStatus:
    """The status of an experiment with these trials and live workers, as of ``now``."""
    counts = dict.fromkeys(TrialState, 0)
    for trial in trials:
        counts[trial.state] += 1
    scored = [trial for trial in trials if trial.loss is not None]
    ends = [trial.end_time for trial in trials if trial.end_time is not None]
    pace = trials_per_minute(trials, now=now, window_s=window_s)
    return ExperimentStatus(
        experiment=experiment,
        counts=tuple(counts.items()),
        reused=sum(trial.reused_from is not None for trial in trials),
        best=min(scored, key=lambda t: (t.loss, t.tid)) if scored else None,
        trials_per_minute=pace,
        last_end_age_s=_age(now, max(ends)) if ends else None,
        time_left=time_left(counts, pace, max_evals),
        running=tuple(RunningTrial(t.tid, t.owner, _age_or_none(now, t.refresh_time))
                      for t in trials if t.state is TrialState.RUNNING),
        workers=tuple(LiveWorker(w.worker_id, w.host, w.pid, _age(now, w.last_seen))
                      for w in workers),
    )


def trials_per_minute(trials: list[Trial], *, now: datetime, window_s: float = PACE_WINDOW_S
                      ) -> float | None:
    """Trials finished per minute over the last ``window_s``; None if none finished in it.

    When the earliest of those trials started less than ``window_s`` ago, the pace is
    measured from its start, so that a young experiment is not made to look slow.
    """
    since = now - timedelta(seconds=window_s)
    # (start, end) of the trials that ended in the window; a reused trial has no start.
    recent = [(trial.book_time or end, end) for trial in trials
              if (end := trial.end_time) is not None and since < end <= now]
    if not recent:
        return None
    first_start = min(start for start, _ in recent)
    elapsed_s = (now - max(since, first_start)).total_seconds()
    # Trials that finished within the same second as the first start: a pace of trials
    # per second would be noise, so the span counts as at least one second.
    return len(recent) / max(elapsed_s, 1.0) * 60.0


def time_left(counts: dict[TrialState, int], pace: float | None, max_evals: int | None
              ) -> TimeLeft:
    """The trials still to finish and how long they take at ``pace`` trials per minute."""
    finished = counts[TrialState.DONE] + counts[TrialState.ERROR]
    if max_evals is None:
        remaining, at_least = counts[TrialState.NEW] + counts[TrialState.RUNNING], True
    else:
        remaining, at_least = max(max_evals - finished, 0), False
    if remaining == 0:
        return TimeLeft(0, 0.0, at_least)
    seconds = None if pace is None else remaining / pace * 60.0
    return TimeLeft(remaining, seconds, at_least)


def _age(now: datetime, then: datetime) -> float:
    return max((now - then).total_seconds(), 0.0)


def _age_or_none(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else _age(now, then)
