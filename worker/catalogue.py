"""Which experiments a worker can serve, re-read from the store now and then."""

from __future__ import annotations

import logging
import time

from shared.errors import ObjectiveError, UnknownExperimentError
from shared.objective import check_compatible
from shared.store.base import TrialStore
from shared.trials import Experiment

logger = logging.getLogger(__name__)


class ExperimentCatalogue:
    """The experiments whose objective this worker has, at the same versions.

    An experiment this installation cannot evaluate (another objective, another version,
    a dataset that differs here) is refused once, with the reason logged, and its trials
    are left for workers that can; the worker keeps serving the others. One it cannot
    evaluate for now (see ``defer``) is left alone for ``retry_after_s``, then tried again;
    after ``retries`` such retries in a row that failed too (None: no limit) it is refused.
    """

    def __init__(self, store: TrialStore, *, exp_key: str | None, refresh_s: float,
                 retry_after_s: float, retries: int | None = None) -> None:
        self._store = store
        self._exp_key = exp_key
        self._refresh_s = refresh_s
        self._retry_after_s = retry_after_s
        self._retries = retries
        self._experiments: dict[str, Experiment] = {}
        self._refused: dict[str, str] = {}
        self._deferred_until: dict[str, float] = {}
        self._failed_loads: dict[str, int] = {}
        self._read_at: float | None = None

    def servable(self, *, max_age_s: float | None = None) -> list[str]:
        """Keys of the experiments to reserve trials from; re-read when due, or when the
        list is older than ``max_age_s``."""
        now = time.monotonic()
        age_limit = self._refresh_s if max_age_s is None else min(max_age_s, self._refresh_s)
        if self._read_at is None or now - self._read_at >= age_limit:
            self._read()
            self._read_at = now
        return sorted(key for key in self._experiments if key not in self._refused
                      and self._deferred_until.get(key, now) <= now)

    def get(self, exp_key: str) -> Experiment:
        experiment = self._experiments.get(exp_key)
        if experiment is None:
            experiment = self._store.get_experiment(exp_key)
            self._experiments[exp_key] = experiment
        return experiment

    def refuse(self, exp_key: str, reason: str) -> None:
        if exp_key not in self._refused:
            then = ("This worker serves only it (--exp-key), so it stops."
                    if exp_key == self._exp_key else "Other experiments are still served.")
            logger.error("Refusing the trials of experiment %r: %s. %s", exp_key, reason, then)
        self._refused[exp_key] = reason

    def defer(self, exp_key: str, reason: str) -> None:
        """Leave an experiment alone for a while after a failure that may pass; refuse it
        once that failure outlasted the retries allowed."""
        failed = self._failed_loads.get(exp_key, 0) + 1
        self._failed_loads[exp_key] = failed
        if self._retries is not None and failed > self._retries:
            tries = "retry" if self._retries == 1 else "retries"
            self.refuse(exp_key, f"{reason} (still so after {self._retries} {tries}, "
                                 f"{self._retry_after_s:g} s apart)")
            return
        self._deferred_until[exp_key] = time.monotonic() + self._retry_after_s
        logger.warning("Cannot evaluate experiment %r here for now: %s. Its trials are left "
                       "to other workers; this one tries it again in %g s.", exp_key,
                       reason, self._retry_after_s)

    def loaded(self, exp_key: str) -> None:
        """The experiment's objective loaded: earlier failures to load no longer count."""
        self._failed_loads.pop(exp_key, None)

    def refusal(self, exp_key: str) -> str | None:
        """Why the experiment is refused for good, or None while it is served."""
        return self._refused.get(exp_key)

    def _read(self) -> None:
        if self._exp_key is None:
            experiments = self._store.list_experiments()
        else:
            try:
                experiments = [self._store.get_experiment(self._exp_key)]
            except UnknownExperimentError:
                if self._read_at is None:
                    logger.info("Experiment %r does not exist yet; waiting for a coordinator "
                                "to create it.", self._exp_key)
                experiments = []
        for experiment in experiments:
            if experiment.exp_key not in self._experiments:
                self._check(experiment)
            self._experiments[experiment.exp_key] = experiment

    def _check(self, experiment: Experiment) -> None:
        try:
            check_compatible(experiment.objective)
        except ObjectiveError as err:
            self.refuse(experiment.exp_key, str(err))
