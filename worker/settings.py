"""A worker's settings, read once at start-up into a frozen value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.errors import ConfigError

# How often an idle worker asks for a trial. hyperopt's worker polled once a second and its
# coordinator kept one trial queued, which capped a whole cluster near one trial a second.
POLL_INTERVAL_S = 0.2
# Beats per lease: four, so that a late beat or two does not lose the lease. The lease is
# the experiment's (``Experiment.lease_timeout_s``, set by ``coordinator run
# --lease-timeout``), never the worker's own, so that no worker beats slower than the
# coordinator requeues.
HEARTBEATS_PER_LEASE = 4
# How often a worker announces itself, idle or busy, whatever the lease: four times within
# the coordinator's live window (coordinator.settings.WORKER_SEEN_WITHIN_S, 60 s), so that
# a late announcement or two does not make a working worker look gone.
ANNOUNCE_INTERVAL_S = 15.0
# The write-up's scikit-learn example limited each trial to 60 s; OCR over a folder of
# photos takes longer, and a trial that hangs should still free its worker.
TRIAL_TIMEOUT_S = 600.0
# After SIGTERM, how long the current trial may still run before it is handed back.
GRACE_PERIOD_S = 30.0
MAX_CONSECUTIVE_FAILURES = 5
# How often a worker re-reads the list of experiments it can serve while it is busy, and
# while it is idle: an experiment created meanwhile then gets its workers within a second.
# One small read a second per idle worker costs the database nothing.
EXPERIMENTS_REFRESH_S = 10.0
IDLE_EXPERIMENTS_REFRESH_S = 1.0
# How long a worker leaves an experiment alone after a failure to load its objective that
# may pass (the evaluation process did not start, the dataset could not be read, the OCR
# engine did not start) before it tries again: long enough not to spin, short enough that
# a volume mounted late or a package installed meanwhile is picked up within a minute.
OBJECTIVE_RETRY_S = 60.0
# How many such retries in a row may fail before the experiment is refused for good: no
# limit, since a cluster worker has time for a volume to be mounted or a fix deployed (a
# local run, with no other worker to leave the trials to, allows one).
OBJECTIVE_RETRIES: int | None = None


@dataclass(frozen=True)
class WorkerSettings:
    exp_key: str | None = None
    poll_interval_s: float = POLL_INTERVAL_S
    reserve_timeout_s: float | None = None
    max_consecutive_failures: int = MAX_CONSECUTIVE_FAILURES
    max_jobs: int | None = None
    trial_timeout_s: float | None = TRIAL_TIMEOUT_S
    grace_period_s: float = GRACE_PERIOD_S
    data_dir: Path | None = None
    experiments_refresh_s: float = EXPERIMENTS_REFRESH_S
    idle_experiments_refresh_s: float = IDLE_EXPERIMENTS_REFRESH_S
    objective_retry_s: float = OBJECTIVE_RETRY_S
    objective_retries: int | None = OBJECTIVE_RETRIES
    announce_interval_s: float = ANNOUNCE_INTERVAL_S

    def __post_init__(self) -> None:
        _positive("--poll-interval", self.poll_interval_s)
        # Not options of `python -m worker`: named as the settings they are. Zero would make
        # the heartbeat thread announce, or the loop retry, without pause.
        _positive("announce_interval_s", self.announce_interval_s)
        _positive("objective_retry_s", self.objective_retry_s)
        _positive("experiments_refresh_s", self.experiments_refresh_s, allow_zero=True)
        _positive("idle_experiments_refresh_s", self.idle_experiments_refresh_s,
                  allow_zero=True)
        if self.objective_retries is not None and self.objective_retries < 1:
            raise ConfigError(f"objective_retries={self.objective_retries} must be at least "
                              "1, or None to retry without limit")
        _positive("--grace-period", self.grace_period_s, allow_zero=True)
        if self.reserve_timeout_s is not None:
            _positive("--reserve-timeout", self.reserve_timeout_s, allow_zero=True)
        if self.trial_timeout_s is not None:
            _positive("--trial-timeout", self.trial_timeout_s)
        if self.max_consecutive_failures < 1:
            raise ConfigError(f"--max-consecutive-failures={self.max_consecutive_failures} "
                              "must be at least 1")
        if self.max_jobs is not None and self.max_jobs < 1:
            raise ConfigError(f"--max-jobs={self.max_jobs} must be at least 1; omit it to "
                              "run until stopped")
        if self.data_dir is not None and not self.data_dir.is_dir():
            raise ConfigError(f"--data-dir {self.data_dir} is not a folder; point it at the "
                              "folder holding images/ and texts/")


def _positive(option: str, value: float, *, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{option}={value} must be {bound} seconds")


def heartbeat_interval_s(lease_timeout_s: float) -> float:
    """Seconds between heartbeats for a trial of an experiment with this lease."""
    return lease_timeout_s / HEARTBEATS_PER_LEASE
