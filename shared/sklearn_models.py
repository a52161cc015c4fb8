"""What a trial's parameters build in scikit-learn, and how the result is scored.

A trial's model is a scikit-learn ``Pipeline``: its preprocessing step (if any) then its
classifier, so that cross-validation fits the preprocessing on each fold's training rows
only. Every model runs on one core (``n_jobs=1``, BLAS limited to one thread): a worker
is one core's worth of evaluation, and two workers on two cores must not fight.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, Normalizer, StandardScaler
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

from shared.errors import ObjectiveError
from shared.sklearn_data import Split
from shared.sklearn_params import (
    ClassifierParams,
    ExtraTreesParams,
    GradientBoostingParams,
    KnnParams,
    LogisticRegressionParams,
    MaxFeatures,
    MinMaxScaling,
    ModelParams,
    NoPreprocessing,
    Normalizing,
    PcaParams,
    PreprocessingParams,
    RandomForestParams,
    StandardScaling,
    SvcParams,
)

logger = logging.getLogger(__name__)

# lbfgs stops at 100 iterations by default, short of convergence on unscaled features
# with a large C; 10,000 converges on any small table while still ending.
LOGISTIC_MAX_ITER = 10_000
# libsvm's own iteration cap (unlimited by default): a poly kernel with a large C on
# unscaled features can otherwise run for minutes. Hitting it warns and is recorded.
SVC_MAX_ITER = 1_000_000
# Recorded warnings per trial, and characters per warning: enough to see what went wrong
# without a trial document growing with every fold.
MAX_WARNINGS = 5
MAX_WARNING_CHARS = 300


@dataclass(frozen=True)
class Step:
    """One estimator of a pipeline: its class, the searched values, and the fixed ones."""

    estimator: type[Any]
    tuned: dict[str, Any]
    fixed: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Any:
        return self.estimator(**self.tuned, **self.fixed)

    def describe(self) -> str:
        """``Name(arg=value, ...)`` with the searched values only, floats to 4 digits."""
        args = ", ".join(f"{name}={_show(value)}" for name, value in self.tuned.items())
        return f"{self.estimator.__name__}({args})"


def _show(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else repr(value)


def preprocessing_step(params: PreprocessingParams) -> Step | None:
    """The preprocessing estimator, or None when the trial uses the features as they are."""
    match params:
        case NoPreprocessing():
            return None
        case StandardScaling():
            return Step(StandardScaler, {})
        case MinMaxScaling():
            return Step(MinMaxScaler, {})
        case Normalizing():
            return Step(Normalizer, {"norm": params.norm.value})
        case PcaParams():
            return Step(PCA, {"n_components": params.n_components, "whiten": params.whiten})
    raise AssertionError(f"unhandled preprocessing {params!r}")


def classifier_step(params: ClassifierParams, *, random_state: int) -> Step:
    match params:
        case SvcParams():
            tuned: dict[str, Any] = {"kernel": params.kernel.value, "C": params.c}
            if params.gamma is not None:
                tuned["gamma"] = params.gamma
            if params.degree is not None:
                tuned["degree"] = params.degree
            return Step(SVC, tuned, {"max_iter": SVC_MAX_ITER})
        case KnnParams():
            return Step(KNeighborsClassifier, {
                "n_neighbors": params.n_neighbors, "weights": params.weights.value,
                "p": params.p}, {"n_jobs": 1})
        case RandomForestParams() | ExtraTreesParams():
            return _forest_step(params, random_state=random_state)
        case LogisticRegressionParams():
            return Step(LogisticRegression, {"C": params.c}, {"max_iter": LOGISTIC_MAX_ITER})
        case GradientBoostingParams():
            return Step(GradientBoostingClassifier, {
                "n_estimators": params.n_estimators, "learning_rate": params.learning_rate,
                "max_depth": params.max_depth, "subsample": params.subsample},
                {"random_state": random_state})
    raise AssertionError(f"unhandled classifier {params!r}")


def _forest_step(params: RandomForestParams | ExtraTreesParams, *, random_state: int) -> Step:
    estimator = (RandomForestClassifier if isinstance(params, RandomForestParams)
                 else ExtraTreesClassifier)
    max_features = None if params.max_features is MaxFeatures.ALL else params.max_features.value
    return Step(estimator, {
        "n_estimators": params.n_estimators, "max_depth": params.max_depth,
        "max_features": max_features, "min_samples_leaf": params.min_samples_leaf,
        "criterion": params.criterion.value}, {"n_jobs": 1, "random_state": random_state})


def pipeline_steps(params: ModelParams, *, random_state: int) -> list[Step]:
    first = preprocessing_step(params.preprocessing)
    last = classifier_step(params.classifier, random_state=random_state)
    return [last] if first is None else [first, last]


def build_pipeline(params: ModelParams, *, random_state: int) -> Pipeline:
    steps = pipeline_steps(params, random_state=random_state)
    return Pipeline([(step.estimator.__name__.lower(), step.build()) for step in steps])


@dataclass(frozen=True)
class CvScores:
    """Cross-validated accuracy of one model on the training rows."""

    fold_accuracies: tuple[float, ...]
    fit_seconds: float
    warnings: tuple[str, ...]

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.fold_accuracies))


def cross_validate_model(params: ModelParams, split: Split, *, cv_folds: int,
                         random_state: int) -> CvScores:
    """Score the model by stratified, shuffled k-fold accuracy; the same folds every call.

    Raises ObjectiveError when scikit-learn refuses to fit it (too many neighbours for a
    fold, a degenerate PCA), naming the model.
    """
    folds = StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=random_state)
    pipeline = build_pipeline(params, random_state=random_state)
    with _one_thread(), _recorded_warnings() as caught:
        try:
            result = cross_validate(pipeline, split.x_train, split.y_train, cv=folds,
                                    scoring="accuracy", error_score="raise", n_jobs=1)
        except (ValueError, ArithmeticError) as err:
            raise _fit_failed(params, err) from err
    return CvScores(tuple(float(score) for score in result["test_score"]),
                    float(np.sum(result["fit_time"])), _texts(caught))


def held_out_accuracy_of(params: ModelParams, split: Split, *, random_state: int) -> float:
    """Fit on all training rows, then the accuracy on the held-out rows."""
    pipeline = build_pipeline(params, random_state=random_state)
    with _one_thread(), _recorded_warnings():
        try:
            pipeline.fit(split.x_train, split.y_train)
            predicted: NDArray[Any] = pipeline.predict(split.x_test)
        except (ValueError, ArithmeticError) as err:
            raise _fit_failed(params, err) from err
    return float(np.mean(predicted == split.y_test))


def _fit_failed(params: ModelParams, err: Exception) -> ObjectiveError:
    # Descriptions show searched values only, so the random state does not matter here.
    steps = " -> ".join(step.describe() for step in pipeline_steps(params, random_state=0))
    return ObjectiveError(f"scikit-learn could not fit {steps}: {err}")


@contextmanager
def _one_thread() -> Iterator[None]:
    with threadpool_limits(limits=1):
        yield


@contextmanager
def _recorded_warnings() -> Iterator[list[warnings.WarningMessage]]:
    # Convergence and similar warnings describe the trial, not the worker: they are kept
    # with the result instead of going to stderr once per process.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
    for item in caught:
        logger.debug("scikit-learn warned: %s", item.message)


def _texts(caught: list[warnings.WarningMessage]) -> tuple[str, ...]:
    texts = dict.fromkeys(f"{item.category.__name__}: {item.message}"[:MAX_WARNING_CHARS]
                          for item in caught)
    return tuple(texts)[:MAX_WARNINGS]
