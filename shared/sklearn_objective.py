"""The scikit-learn objective: choose a classifier and its preprocessing for a table.

A trial's loss is ``1 - mean accuracy`` of stratified k-fold cross-validation on the
training rows; the held-out rows are never seen by the search, only by
``held_out_accuracy`` when the best trial is reported. The split is the write-up's
(``train_test_split`` with ``test_size`` 0.2 and ``random_state`` 123, not stratified),
so that Iris gives the same 120 training and 30 held-out rows.

The coordinator describes an experiment with ``sklearn_spec``; each worker rebuilds the
objective from that spec with ``SKLEARN_OBJECTIVE.load``, which refuses a table whose
bytes differ from the coordinator's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sklearn

from shared.errors import ConfigError, DatasetError, ObjectiveError, OcrTuneError, ParamsError
from shared.jsontypes import JsonObject
from shared.objective import Objective, ObjectiveKind, check_compatible
from shared.sklearn_data import IRIS, Split, Table, csv_table, iris_table, split_table
from shared.sklearn_models import cross_validate_model, held_out_accuracy_of, pipeline_steps
from shared.sklearn_params import ModelParams
from shared.sklearn_space import SPACE_VERSION, build_space, plain_params
from shared.trials import ObjectiveSpec, TrialResult

logger = logging.getLogger(__name__)

OBJECTIVE_NAME = "sklearn"
# Bump whenever the same parameters could score differently: the loss, the split, the
# folds, the fixed estimator settings in shared.sklearn_models.
OBJECTIVE_VERSION = "sklearn-objective-1"
# The write-up's split and a common fold count.
TEST_SIZE = 0.2
RANDOM_STATE = 123
CV_FOLDS = 5


@dataclass(frozen=True)
class SklearnSettings:
    """The objective's plain settings, as stored in ``ObjectiveSpec.settings``.

    ``dataset`` is ``"iris"`` or a CSV file's name; the file lives in ``data_dir``, kept
    apart so that a worker can find the same file mounted elsewhere.
    """

    dataset: str
    data_dir: Path | None
    target: str | None
    test_size: float
    random_state: int
    cv_folds: int
    sklearn_version: str

    def __post_init__(self) -> None:
        if (self.dataset == IRIS) != (self.data_dir is None and self.target is None):
            raise ConfigError(f"dataset {self.dataset!r}: Iris takes no folder or target "
                              "column, and a CSV file needs both")
        if not 0.0 < self.test_size < 1.0:
            raise ConfigError(f"test_size={self.test_size} must be a fraction between 0 "
                              "and 1 (0.2 holds out a fifth of the rows)")
        if self.cv_folds < 2:
            raise ConfigError(f"cv_folds={self.cv_folds} must be at least 2")
        if self.random_state < 0:
            raise ConfigError(f"random_state={self.random_state} must be 0 or more")

    def to_json(self) -> dict[str, Any]:
        return {"dataset": self.dataset,
                "data_dir": None if self.data_dir is None else str(self.data_dir),
                "target": self.target, "test_size": self.test_size,
                "random_state": self.random_state, "cv_folds": self.cv_folds,
                "sklearn_version": self.sklearn_version}

    @classmethod
    def from_json(cls, doc: JsonObject) -> SklearnSettings:
        """Read stored settings; raises ObjectiveError naming a missing or mistyped one."""
        try:
            data_dir = _setting(doc, "data_dir", str, optional=True)
            return cls(_setting(doc, "dataset", str),
                       None if data_dir is None else Path(data_dir),
                       _setting(doc, "target", str, optional=True),
                       float(_setting(doc, "test_size", float)),
                       _setting(doc, "random_state", int), _setting(doc, "cv_folds", int),
                       _setting(doc, "sklearn_version", str))
        except ConfigError as err:
            raise ObjectiveError(f"the scikit-learn objective's stored settings are not "
                                 f"usable: {err}") from err

    def moved(self, data_dir_override: Path | None = None) -> bool:
        """Whether the CSV file is missing where these settings look for it."""
        if self.dataset == IRIS or self.data_dir is None:
            return False
        return not ((data_dir_override or self.data_dir) / self.dataset).is_file()

    def table(self, data_dir_override: Path | None = None) -> Table:
        """Read the table these settings name; DatasetError if it cannot be used."""
        if self.dataset == IRIS:
            return iris_table()
        assert self.data_dir is not None and self.target is not None  # see __post_init__
        return csv_table((data_dir_override or self.data_dir) / self.dataset, self.target)

    def split(self, table: Table) -> Split:
        return split_table(table, test_size=self.test_size, random_state=self.random_state,
                           cv_folds=self.cv_folds)


def _setting(doc: JsonObject, key: str, kind: type[Any], *, optional: bool = False) -> Any:
    value = doc.get(key)
    if value is None and optional:
        return None
    # An int is a fine float (a stored 1 for 1.0); a bool is no number at all.
    allowed = (int, float) if kind is float else (kind,)
    if isinstance(value, bool) or not isinstance(value, allowed):
        raise ConfigError(f"setting {key!r} is {value!r}, not a {kind.__name__}; recreate "
                          "the experiment with this release's coordinator")
    return value


class SklearnObjective:
    """A loaded scikit-learn objective: the table read and split, ready to score models."""

    def __init__(self, spec: ObjectiveSpec, settings: SklearnSettings, split: Split) -> None:
        self._spec = spec
        self.settings = settings
        self.split = split
        self._closed = False

    @property
    def spec(self) -> ObjectiveSpec:
        return self._spec

    def evaluate(self, params: JsonObject) -> TrialResult:
        """Cross-validate one trial's model; bad parameters or a failed fit give FAIL.

        Raises ObjectiveError only when the objective was closed.
        """
        if self._closed:
            raise ObjectiveError("this scikit-learn objective was closed; load it again")
        started = time.perf_counter()
        try:
            scores = cross_validate_model(
                ModelParams.from_json(params), self.split, cv_folds=self.settings.cv_folds,
                random_state=self.settings.random_state)
        except ParamsError as err:
            return TrialResult.failed(f"bad parameters: {err}", details=self._identity(),
                                      duration_s=time.perf_counter() - started)
        except ObjectiveError as err:
            return TrialResult.failed(str(err), details=self._identity(),
                                      duration_s=time.perf_counter() - started)
        details = {**self._identity(), "cv_accuracy": scores.accuracy,
                   "fold_accuracies": list(scores.fold_accuracies),
                   "fit_seconds": scores.fit_seconds, "warnings": list(scores.warnings)}
        # from_loss turns a NaN accuracy (a fold that scored nothing) into a FAIL.
        return TrialResult.from_loss(1.0 - scores.accuracy, details=details,
                                     duration_s=time.perf_counter() - started)

    def held_out_accuracy(self, params: ModelParams) -> float:
        """Fit on every training row and score the held-out rows; ObjectiveError if unfit."""
        return held_out_accuracy_of(params, self.split,
                                    random_state=self.settings.random_state)

    def _identity(self) -> dict[str, Any]:
        """What scored the trial: recorded with every result, failed ones too."""
        return {"sklearn_version": sklearn.__version__, "fingerprint": self._spec.fingerprint}

    def close(self) -> None:
        self._closed = True


@dataclass(frozen=True)
class SklearnObjectiveKind:
    """The scikit-learn objective as the registry in ``shared.objective`` knows it."""

    name: str = OBJECTIVE_NAME
    version: str = OBJECTIVE_VERSION

    @property
    def space_version(self) -> str:
        return SPACE_VERSION

    def space(self) -> Any:
        return build_space()

    def plain_params(self, sample: Mapping[str, Any]) -> JsonObject:
        return plain_params(sample)

    def load(self, spec: ObjectiveSpec, *, data_dir_override: Path | None = None
             ) -> SklearnObjective:
        """Read and split the spec's table; ObjectiveError if it cannot here.

        ``data_dir_override`` is a folder holding the same CSV file (ignored for Iris);
        the file's fingerprint must match the spec's.
        """
        check_compatible(spec)
        settings = SklearnSettings.from_json(spec.settings)
        if data_dir_override is not None and data_dir_override.is_file():
            raise ObjectiveError(f"--data-dir {data_dir_override} is a file; pass the folder "
                                 f"that holds {settings.dataset}")
        try:
            table = settings.table(data_dir_override)
            split = settings.split(table)
        except OcrTuneError as err:
            hint = ("; if the file is elsewhere on this machine, point --data-dir at the "
                    "folder that holds it" if settings.moved(data_dir_override) else "")
            raise ObjectiveError(f"cannot load the experiment's table here: {err}{hint}"
                                 ) from err
        if table.fingerprint != spec.fingerprint:
            raise ObjectiveError(f"{table.source} has fingerprint {table.fingerprint}, but "
                                 f"the experiment's has {spec.fingerprint}: the data differ. "
                                 "Point this worker at a copy of the experiment's file")
        if settings.sklearn_version != sklearn.__version__:
            # Not refused, as with Tesseract: each result records the version that scored it.
            logger.warning("scikit-learn here is %s but the experiment was set up with %s; "
                           "the same parameters may score slightly differently.",
                           sklearn.__version__, settings.sklearn_version)
        return SklearnObjective(spec, settings, split)


def sklearn_spec(dataset: str, target: str | None = None, *, test_size: float = TEST_SIZE,
                 random_state: int = RANDOM_STATE, cv_folds: int = CV_FOLDS) -> ObjectiveSpec:
    """Describe a model-selection experiment on ``"iris"`` or a CSV file, for the coordinator.

    Reads and splits the table once, to fail now rather than on every worker. Raises
    ConfigError for a missing or needless ``target`` or a setting out of range, and
    DatasetError for a dataset that is neither Iris nor a file, or a table that cannot be
    used.
    """
    if dataset == IRIS:
        if target is not None:
            raise ConfigError(f"Iris has its own class column; drop --target {target!r}")
        data_dir = None
    else:
        if not Path(dataset).is_file():
            what = "is a folder, not a CSV file" if Path(dataset).is_dir() else "is not a file"
            raise DatasetError(f"dataset {dataset} {what}; give {IRIS} (the one built-in "
                               "dataset) or the path of a CSV file")
        if not target:
            raise ConfigError(f"{dataset} needs --target, the name of its class column in "
                              "the header row")
        data_dir = Path(dataset).resolve().parent
        dataset = Path(dataset).name
    settings = SklearnSettings(dataset, data_dir, target, test_size, random_state, cv_folds,
                               sklearn.__version__)
    table = settings.table()
    settings.split(table)
    return ObjectiveSpec(name=OBJECTIVE_NAME, version=OBJECTIVE_VERSION,
                         space_version=SPACE_VERSION, fingerprint=table.fingerprint,
                         settings=settings.to_json())


def held_out_accuracy(spec: ObjectiveSpec, params: JsonObject, *,
                      data_dir_override: Path | None = None) -> float:
    """The held-out accuracy of a trial's model, fitted on all the training rows.

    Raises ParamsError for bad parameters, ObjectiveError when the table cannot be loaded
    or the model cannot be fitted.
    """
    model = ModelParams.from_json(params)
    objective = SKLEARN_OBJECTIVE.load(spec, data_dir_override=data_dir_override)
    return objective.held_out_accuracy(model)


def describe_pipeline(params: JsonObject) -> str:
    """The model in scikit-learn's words, with its searched values.

    ``Normalizer(norm='l2') -> ExtraTreesClassifier(n_estimators=57, ...)``. Raises
    ParamsError for bad parameters.
    """
    steps = pipeline_steps(ModelParams.from_json(params), random_state=RANDOM_STATE)
    return " -> ".join(step.describe() for step in steps)


SKLEARN_OBJECTIVE = SklearnObjectiveKind()

# Checked by mypy: the kind and what it loads satisfy the registry's protocols.
_KIND_CHECK: ObjectiveKind = SKLEARN_OBJECTIVE
_OBJECTIVE_CHECK: type[Objective] = SklearnObjective
