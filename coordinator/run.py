"""``coordinator run`` as a library function: create or resume an experiment and search."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from coordinator.history_lock import history_locked
from coordinator.local import LOCAL_OBJECTIVE_RETRY_S, run_local
from coordinator.search import Search, SearchOutcome, SearchSnapshot
from coordinator.settings import SearchSettings
from shared.errors import ConfigError
from shared.objective import objective_kind
from shared.ocr_objective import OBJECTIVE_NAME as OCR_NAME
from shared.ocr_objective import ocr_spec
from shared.retry import retry_unavailable
from shared.sklearn_data import IRIS
from shared.sklearn_objective import OBJECTIVE_NAME as SKLEARN_NAME
from shared.sklearn_objective import sklearn_spec
from shared.store.base import TrialStore
from shared.store.factory import DEFAULT_HISTORY, describe_store, open_store
from shared.store.uri import redact_uri
from shared.trials import Experiment, ObjectiveSpec
from worker import WorkerSettings
from worker.settings import MAX_CONSECUTIVE_FAILURES

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRequest:
    """What to search: the objective and its data, where trials live, who evaluates."""

    data_dir: Path | None = None
    exp_key: str | None = None
    objective: str = "ocr"
    dataset: str | None = None  # scikit-learn objective: "iris" or a CSV file
    target: str | None = None  # scikit-learn objective: the CSV's class column
    algo: str = "tpe"
    seed: int = 0
    engine: str = "tesserocr"
    lang: str = "eng"
    mongo: str | None = None
    history: Path = DEFAULT_HISTORY
    workers: int = 1
    trial_timeout_s: float | None = None
    max_consecutive_failures: int = MAX_CONSECUTIVE_FAILURES
    # Whether the caller chose the search settings' lease (--lease-timeout): only then does
    # resuming an experiment created with another lease deserve a warning.
    lease_timeout_given: bool = False

    @property
    def key(self) -> str:
        """The experiment key: given, or the objective and its data's name."""
        if self.exp_key:
            return self.exp_key
        if self.objective == OCR_NAME and self.data_dir is not None:
            return f"{self.objective}-{self.data_dir.resolve().name}"
        if self.dataset is None or self.dataset == IRIS:
            return f"{self.objective}-{self.dataset or 'data'}"
        # A CSV file is known by its name without ".csv", unless that is a built-in
        # dataset's name: iris.csv must not resume the built-in Iris's experiment.
        stem = Path(self.dataset).stem
        return f"{self.objective}-{Path(self.dataset).name if stem == IRIS else stem}"


@dataclass(frozen=True)
class RunResult:
    experiment: Experiment
    outcome: SearchOutcome
    # Where this run read the experiment's data (None for a built-in dataset): where the
    # best is scored again, even if the experiment first found the data elsewhere.
    data_dir: Path | None = None


def objective_spec(request: RunRequest) -> ObjectiveSpec:
    """The spec of the experiment the request describes (reads the dataset once)."""
    kind = objective_kind(request.objective)
    if kind.name == OCR_NAME:
        if request.data_dir is None:
            raise ConfigError("the OCR objective needs --data DIR, a folder of images/ and "
                              "texts/")
        return ocr_spec(request.data_dir, engine=request.engine, lang=request.lang)
    if kind.name == SKLEARN_NAME:
        if request.dataset is None:
            raise ConfigError("the sklearn objective needs --dataset: iris, or a CSV file "
                              "with --target naming its class column")
        return sklearn_spec(request.dataset, request.target)
    raise ConfigError(f"objective {kind.name!r} cannot be started from the command line")


def run_experiment(request: RunRequest, settings: SearchSettings, *,
                   stop: threading.Event | None = None,
                   on_progress: Callable[[SearchSnapshot], None] | None = None) -> RunResult:
    """Create the experiment or resume it, then search until ``max_evals`` are finished."""
    stop = stop or threading.Event()
    wanted = Experiment(exp_key=request.key, objective=objective_spec(request),
                        algo=request.algo, seed=request.seed,
                        lease_timeout_s=settings.lease_timeout_s)
    where = describe_store(mongo=request.mongo, history=request.history)
    with contextlib.ExitStack() as held:
        if not request.mongo:
            held.enter_context(history_locked(request.history))
        # The database may come up after the coordinator (a cluster starts pods in any
        # order).
        store = held.enter_context(retry_unavailable(
            lambda: open_store(mongo=request.mongo, history=request.history),
            what="connecting", stop=stop))
        experiment = retry_unavailable(lambda: store.ensure_experiment(wanted),
                                       what="creating the experiment", stop=stop)
        _warn_if_settings_differ(experiment, wanted,
                                 lease_timeout_given=request.lease_timeout_given)
        logger.info("Experiment %r in %s.", experiment.exp_key, where)
        # The reaper keeps to the stored lease: the experiment's workers beat within it.
        stored_lease = replace(settings, lease_timeout_s=experiment.lease_timeout_s)
        outcome = _search(store, experiment, request, stored_lease, stop=stop,
                          on_progress=on_progress)
    return RunResult(experiment, outcome, data_dir=_data_folder(request))


def _requeue_left_running(store: TrialStore, exp_key: str, max_attempts: int) -> None:
    """Send the trials a killed local run left RUNNING back to the queue, now.

    This run holds the history's lock (``history_locked``) and only local workers evaluate
    a history file, so no live process holds those leases: waiting for them to lapse would
    leave this run idle for a lease timeout. Their attempts stand, so a trial that kills
    its run each time is failed after ``max_attempts``.
    """
    report = store.requeue_stale(exp_key, older_than=store.now() + timedelta(seconds=1),
                                 max_attempts=max_attempts)
    if report.requeued:
        logger.warning("Trials %s of %r were left running by a run that ended without "
                       "handing them back; they go back to the queue.",
                       ", ".join(map(str, report.requeued)), exp_key)
    if report.failed:
        logger.error("Trials %s of %r were left running by a run that ended without handing "
                     "them back, on their last attempt (--max-attempts %d); they are failed.",
                     ", ".join(map(str, report.failed)), exp_key, max_attempts)


def _search(store: TrialStore, experiment: Experiment, request: RunRequest,
            settings: SearchSettings, *, stop: threading.Event,
            on_progress: Callable[[SearchSnapshot], None] | None) -> SearchOutcome:
    objective = objective_kind(experiment.objective.name)
    if request.mongo:
        hint = (f"start one with: python -m worker --mongo {redact_uri(request.mongo)} "
                f"--exp-key {experiment.exp_key}")
        return Search(store, experiment, objective, settings, stop=stop,
                      on_progress=on_progress, no_worker_hint=hint).run()
    _requeue_left_running(store, experiment.exp_key, settings.max_attempts)
    worker_settings = WorkerSettings(exp_key=experiment.exp_key,
                                     data_dir=_data_folder(request),
                                     trial_timeout_s=request.trial_timeout_s,
                                     max_consecutive_failures=request.max_consecutive_failures,
                                     poll_interval_s=settings.poll_interval_s,
                                     grace_period_s=0.0,
                                     objective_retry_s=LOCAL_OBJECTIVE_RETRY_S)
    return run_local(store, experiment, objective, settings, workers=request.workers,
                     worker_settings=worker_settings, stop=stop, on_progress=on_progress)


def _data_folder(request: RunRequest) -> Path | None:
    """Where this run read its data, for its local workers to read it there too.

    The experiment's fingerprint matched what this run read, so a dataset moved since the
    experiment was created is found where the user now points (``--data``, ``--dataset``)
    instead of where the experiment first found it.
    """
    if request.objective == OCR_NAME:
        return request.data_dir
    if request.dataset is not None and request.dataset != IRIS:
        return Path(request.dataset).resolve().parent
    return None


def _warn_if_settings_differ(stored: Experiment, wanted: Experiment, *,
                             lease_timeout_given: bool) -> None:
    if (stored.algo, stored.seed) != (wanted.algo, wanted.seed):
        logger.warning("Experiment %r was created with --algo %s --seed %d; it goes on with "
                       "those (a new --exp-key starts a search with other ones).",
                       stored.exp_key, stored.algo, stored.seed)
    if lease_timeout_given and stored.lease_timeout_s != wanted.lease_timeout_s:
        logger.warning("Experiment %r was created with --lease-timeout %g; it goes on with "
                       "that lease, which its workers beat within, instead of %g (a new "
                       "--exp-key starts a search with another one).", stored.exp_key,
                       stored.lease_timeout_s, wanted.lease_timeout_s)
