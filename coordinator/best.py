"""The best trial of an experiment, and its per-image comparison with no preprocessing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from coordinator.comparison import ImageComparison, compare_images
from shared.dataset import Dataset, load_dataset
from shared.errors import DatasetError, ObjectiveError, SuggestingError
from shared.ocr_objective import OBJECTIVE_NAME, OcrSettings
from shared.trials import Experiment, Trial, TrialState


class NoResultError(SuggestingError):
    """Raised when an experiment has no successful trial: none yet, or every one failed."""


def best_trial(exp_key: str, trials: list[Trial]) -> Trial:
    """The trial with the lowest loss (the lowest tid among equals).

    Raises NoResultError saying why there is none: an empty history, trials that are all
    still pending, or trials that all failed.
    """
    scored = [trial for trial in trials if trial.loss is not None]
    if scored:
        return min(scored, key=lambda trial: (trial.loss, trial.tid))
    raise _no_result(exp_key, trials)


def _no_result(exp_key: str, trials: list[Trial]) -> NoResultError:
    if not trials:
        return NoResultError(f"experiment {exp_key!r} has no trials yet; start the search "
                             "with `python -m coordinator run`")
    counts = Counter(trial.state for trial in trials)
    failed = counts[TrialState.ERROR]
    if failed == len(trials):
        return NoResultError(
            f"every one of the {failed} trials of experiment {exp_key!r} failed, so there "
            "is no best result; see why with ",
            ["history", "--exp-key", exp_key, "--state", "error"])
    pending = counts[TrialState.NEW] + counts[TrialState.RUNNING]
    waiting = (f"experiment {exp_key!r} has no finished successful trial yet ({pending} "
               f"pending, {failed} failed)")
    if failed:
        # Failures are often why no worker is left to finish the rest (a local run stops
        # after too many in a row): say where to read them.
        return NoResultError(f"{waiting}; see why trials failed with ",
                             ["history", "--exp-key", exp_key, "--state", "error"],
                             ", and wait for the workers if any are still running")
    return NoResultError(f"{waiting}; wait for the workers, or check them with ",
                         ["status", "--exp-key", exp_key])


def experiment_dataset(experiment: Experiment, *, data_dir: Path | None = None) -> Dataset:
    """The OCR experiment's dataset, from where it was searched or from ``data_dir``.

    Raises ObjectiveError for an experiment of another objective, and DatasetError when
    the folder's bytes differ from the experiment's: its scores would not be the search's.
    """
    spec = experiment.objective
    if spec.name != OBJECTIVE_NAME:
        raise ObjectiveError(f"experiment {experiment.exp_key!r} evaluates {spec.name!r}; "
                             "only OCR experiments have images to compare")
    folder = data_dir or OcrSettings.from_json(spec.settings).data_dir
    try:
        dataset = load_dataset(folder)
    except DatasetError as err:
        if data_dir is not None:
            raise
        raise DatasetError(f"{err}. Experiment {experiment.exp_key!r} was searched on "
                           f"{folder}; if its dataset is elsewhere on this machine, pass "
                           "--data-dir") from err
    if dataset.fingerprint != spec.fingerprint:
        raise DatasetError(f"the dataset in {folder} differs from experiment "
                           f"{experiment.exp_key!r}'s (fingerprint {dataset.fingerprint[:12]} "
                           f"!= {spec.fingerprint[:12]}); pass --data-dir with a copy of the "
                           "dataset the experiment was searched on")
    return dataset


def compare_best(experiment: Experiment, trial: Trial, *, data_dir: Path | None = None
                 ) -> list[ImageComparison]:
    """Read the experiment's images raw and with ``trial``'s parameters, and score both."""
    dataset = experiment_dataset(experiment, data_dir=data_dir)
    return compare_images(experiment.objective, trial.params, data_dir=dataset.folder)
