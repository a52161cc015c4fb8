"""The coordinator's settings for one search, read once at start-up into a frozen value."""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import ConfigError
from shared.trials import LEASE_TIMEOUT_S as DEFAULT_LEASE_TIMEOUT_S

# hyperopt's suggestion algorithms the coordinator offers (coordinator.suggest maps them).
ALGORITHM_NAMES = ("anneal", "rand", "tpe")
# Suggestions kept queued per live worker: one waiting while the worker evaluates, so a
# worker that finishes reserves at once. More would make TPE suggest from older history.
QUEUE_PER_WORKER = 1
# How often the coordinator looks for finished trials and tops the queue up. hyperopt's
# fmin slept a second between looks, which capped its MongoDB mode near a trial a second.
POLL_INTERVAL_S = 0.05
# The lease of an experiment this coordinator creates; an experiment keeps the lease it was
# created with, and its workers beat four times within it.
LEASE_TIMEOUT_S = DEFAULT_LEASE_TIMEOUT_S
# Reservations a trial may use before it is failed for good (a trial that kills workers).
MAX_ATTEMPTS = 3
# A worker counts as live if it announced itself within this many seconds: four of its
# announcements (worker.settings.ANNOUNCE_INTERVAL_S, whatever the lease).
WORKER_SEEN_WITHIN_S = 60.0
# How long trials may wait with no live worker before the coordinator says so.
NO_WORKER_WARNING_S = 30.0


@dataclass(frozen=True)
class SearchSettings:
    max_evals: int
    queue_per_worker: int = QUEUE_PER_WORKER
    poll_interval_s: float = POLL_INTERVAL_S
    lease_timeout_s: float = LEASE_TIMEOUT_S
    max_attempts: int = MAX_ATTEMPTS
    worker_seen_within_s: float = WORKER_SEEN_WITHIN_S
    no_worker_warning_s: float = NO_WORKER_WARNING_S

    def __post_init__(self) -> None:
        if self.max_evals < 1:
            raise ConfigError(f"--max-evals={self.max_evals} must be at least 1")
        if self.queue_per_worker < 1:
            raise ConfigError(f"--queue-per-worker={self.queue_per_worker} must be at "
                              "least 1")
        if self.lease_timeout_s <= 0:
            raise ConfigError(f"--lease-timeout={self.lease_timeout_s} must be > 0 seconds")
        if self.max_attempts < 1:
            raise ConfigError(f"--max-attempts={self.max_attempts} must be at least 1")
