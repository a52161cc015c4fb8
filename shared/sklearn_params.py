"""The scikit-learn model-selection parameters of one trial: typed, checked, plain JSON.

A trial picks one preprocessing step and one classifier. Each is a JSON object whose
``kind`` names it, with that kind's hyperparameters beside it::

    {"preprocessing": {"kind": "normalizer", "norm": "l2"},
     "classifier": {"kind": "extra_trees", "n_estimators": 57, "max_depth": null,
                    "max_features": "all", "min_samples_leaf": 2, "criterion": "gini"}}

Every bound below is the one the search space (``shared.sklearn_space``) samples from.
``ModelParams.from_json`` rejects a missing field, a field another kind owns, a value of
the wrong type or outside its bounds, with a ParamsError naming the field and the fix.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from shared.errors import ParamsError
from shared.json_fields import JsonFields, check_int, check_number
from shared.jsontypes import JsonObject

# Inverse regularisation strengths, log-uniform: 1e-3 regularises nearly everything away,
# 1e3 nearly nothing; the write-up's spaces spanned about this.
SVC_C = (1e-3, 1e3)
SVC_GAMMA = (1e-4, 10.0)
SVC_DEGREE = (2, 5)
LOGISTIC_C = (1e-3, 1e3)
KNN_NEIGHBORS = (1, 30)
KNN_P = (1, 2)  # Manhattan or Euclidean distance
# Trees per ensemble: the small tabular sets this objective is for stop gaining well
# before 300, and every tree costs time on every cross-validation fold.
FOREST_N_ESTIMATORS = (10, 300)
FOREST_MAX_DEPTH = (1, 20)  # or None: grow until the leaves are pure
FOREST_MIN_SAMPLES_LEAF = (1, 10)
BOOSTING_N_ESTIMATORS = (10, 300)
BOOSTING_LEARNING_RATE = (0.01, 1.0)
BOOSTING_MAX_DEPTH = (1, 6)
BOOSTING_SUBSAMPLE = (0.5, 1.0)
# The share of variance PCA keeps; scikit-learn picks the fewest components that reach it.
PCA_VARIANCE = (0.5, 0.99)

PREPROCESSING = "preprocessing"
CLASSIFIER = "classifier"


class Kernel(enum.Enum):
    LINEAR = "linear"
    RBF = "rbf"
    POLY = "poly"


class Weights(enum.Enum):
    """How k-nearest neighbours weigh the neighbours' votes."""

    UNIFORM = "uniform"
    DISTANCE = "distance"


class Norm(enum.Enum):
    L1 = "l1"
    L2 = "l2"
    MAX = "max"


class Criterion(enum.Enum):
    GINI = "gini"
    ENTROPY = "entropy"


class MaxFeatures(enum.Enum):
    """Features a tree considers at each split; ``all`` is scikit-learn's None."""

    SQRT = "sqrt"
    LOG2 = "log2"
    ALL = "all"


E = TypeVar("E", bound=enum.Enum)


# -- preprocessing ------------------------------------------------------------------------


@dataclass(frozen=True)
class NoPreprocessing:
    KIND: ClassVar[str] = "none"


@dataclass(frozen=True)
class StandardScaling:
    KIND: ClassVar[str] = "standard_scaler"


@dataclass(frozen=True)
class MinMaxScaling:
    KIND: ClassVar[str] = "min_max_scaler"


@dataclass(frozen=True)
class Normalizing:
    """Scales each row (not each column) to unit norm."""

    KIND: ClassVar[str] = "normalizer"
    norm: Norm


@dataclass(frozen=True)
class PcaParams:
    KIND: ClassVar[str] = "pca"
    n_components: float  # the share of variance to keep, see PCA_VARIANCE
    whiten: bool

    def __post_init__(self) -> None:
        check_number("preprocessing.n_components", self.n_components, PCA_VARIANCE)
        _check_bool("preprocessing.whiten", self.whiten)


PreprocessingParams = NoPreprocessing | StandardScaling | MinMaxScaling | Normalizing | PcaParams


# -- classifiers --------------------------------------------------------------------------


@dataclass(frozen=True)
class SvcParams:
    """A support-vector classifier. ``gamma`` is for rbf and poly, ``degree`` for poly."""

    KIND: ClassVar[str] = "svc"
    kernel: Kernel
    c: float
    gamma: float | None = None
    degree: int | None = None

    def __post_init__(self) -> None:
        check_number("classifier.C", self.c, SVC_C)
        uses_gamma = self.kernel is not Kernel.LINEAR
        _check_present("classifier.gamma", self.gamma, needed=uses_gamma,
                       why=f"the {self.kernel.value} kernel")
        if self.gamma is not None:
            check_number("classifier.gamma", self.gamma, SVC_GAMMA)
        _check_present("classifier.degree", self.degree, needed=self.kernel is Kernel.POLY,
                       why=f"the {self.kernel.value} kernel")
        if self.degree is not None:
            check_int("classifier.degree", self.degree, SVC_DEGREE)


@dataclass(frozen=True)
class KnnParams:
    KIND: ClassVar[str] = "knn"
    n_neighbors: int
    weights: Weights
    p: int

    def __post_init__(self) -> None:
        check_int("classifier.n_neighbors", self.n_neighbors, KNN_NEIGHBORS)
        check_int("classifier.p", self.p, KNN_P)


@dataclass(frozen=True)
class _ForestParams:
    n_estimators: int
    max_depth: int | None
    max_features: MaxFeatures
    min_samples_leaf: int
    criterion: Criterion

    def __post_init__(self) -> None:
        check_int("classifier.n_estimators", self.n_estimators, FOREST_N_ESTIMATORS)
        if self.max_depth is not None:
            check_int("classifier.max_depth", self.max_depth, FOREST_MAX_DEPTH)
        check_int("classifier.min_samples_leaf", self.min_samples_leaf,
                   FOREST_MIN_SAMPLES_LEAF)


@dataclass(frozen=True)
class RandomForestParams(_ForestParams):
    KIND: ClassVar[str] = "random_forest"


@dataclass(frozen=True)
class ExtraTreesParams(_ForestParams):
    KIND: ClassVar[str] = "extra_trees"


@dataclass(frozen=True)
class LogisticRegressionParams:
    KIND: ClassVar[str] = "logistic_regression"
    c: float

    def __post_init__(self) -> None:
        check_number("classifier.C", self.c, LOGISTIC_C)


@dataclass(frozen=True)
class GradientBoostingParams:
    KIND: ClassVar[str] = "gradient_boosting"
    n_estimators: int
    learning_rate: float
    max_depth: int
    subsample: float

    def __post_init__(self) -> None:
        check_int("classifier.n_estimators", self.n_estimators, BOOSTING_N_ESTIMATORS)
        check_number("classifier.learning_rate", self.learning_rate,
                      BOOSTING_LEARNING_RATE)
        check_int("classifier.max_depth", self.max_depth, BOOSTING_MAX_DEPTH)
        check_number("classifier.subsample", self.subsample, BOOSTING_SUBSAMPLE)


ClassifierParams = (SvcParams | KnnParams | RandomForestParams | ExtraTreesParams
                    | LogisticRegressionParams | GradientBoostingParams)


@dataclass(frozen=True)
class ModelParams:
    """One candidate model: a preprocessing step, then a classifier."""

    preprocessing: PreprocessingParams
    classifier: ClassifierParams

    def to_json(self) -> dict[str, Any]:
        return {PREPROCESSING: _section_json(self.preprocessing),
                CLASSIFIER: _section_json(self.classifier)}

    @classmethod
    def from_json(cls, doc: JsonObject) -> ModelParams:
        """Parse and check plain parameters; raises ParamsError naming what is wrong."""
        top = JsonFields(doc, "")
        top.reject_unknown({PREPROCESSING, CLASSIFIER})
        preprocessing = _parse_section(top.required(PREPROCESSING), PREPROCESSING,
                                       _PREPROCESSING_PARSERS)
        classifier = _parse_section(top.required(CLASSIFIER), CLASSIFIER, _CLASSIFIER_PARSERS)
        return cls(preprocessing, classifier)


# -- plain JSON ---------------------------------------------------------------------------

# The JSON names of fields whose Python names differ (scikit-learn spells it ``C``).
_JSON_NAMES = {"c": "C"}


def _section_json(section: PreprocessingParams | ClassifierParams) -> dict[str, Any]:
    doc: dict[str, Any] = {"kind": section.KIND}
    for name, value in vars(section).items():
        doc[_JSON_NAMES.get(name, name)] = value.value if isinstance(value, enum.Enum) else value
    return doc


T = TypeVar("T")


def _parse_section(doc: object, path: str, parsers: Mapping[str, Callable[[JsonFields], T]]
                   ) -> T:
    fields = JsonFields(doc, path)
    kind = fields.required("kind")
    parser = parsers.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise ParamsError(f"{path}.kind={kind!r} is not one of: {', '.join(parsers)}")
    return parser(fields)


def _parse_pca(fields: JsonFields) -> PcaParams:
    fields.reject_unknown({"kind", "n_components", "whiten"})
    return PcaParams(fields.number("n_components"), fields.boolean("whiten"))


def _parse_svc(fields: JsonFields) -> SvcParams:
    fields.reject_unknown({"kind", "kernel", "C", "gamma", "degree"})
    return SvcParams(fields.choice("kernel", Kernel), fields.number("C"),
                     fields.optional_number("gamma"), fields.optional_integer("degree"))


def _parse_knn(fields: JsonFields) -> KnnParams:
    fields.reject_unknown({"kind", "n_neighbors", "weights", "p"})
    return KnnParams(fields.integer("n_neighbors"), fields.choice("weights", Weights),
                     fields.integer("p"))


def _forest_parser(cls: type[_ForestParams]) -> Callable[[JsonFields], Any]:
    def parse(fields: JsonFields) -> _ForestParams:
        fields.reject_unknown({"kind", "n_estimators", "max_depth", "max_features",
                               "min_samples_leaf", "criterion"})
        fields.required("max_depth", nullable=True)  # null is a value here: no limit
        return cls(fields.integer("n_estimators"), fields.optional_integer("max_depth"),
                   fields.choice("max_features", MaxFeatures),
                   fields.integer("min_samples_leaf"), fields.choice("criterion", Criterion))

    return parse


def _parse_logistic(fields: JsonFields) -> LogisticRegressionParams:
    fields.reject_unknown({"kind", "C"})
    return LogisticRegressionParams(fields.number("C"))


def _parse_boosting(fields: JsonFields) -> GradientBoostingParams:
    fields.reject_unknown({"kind", "n_estimators", "learning_rate", "max_depth", "subsample"})
    return GradientBoostingParams(fields.integer("n_estimators"),
                                  fields.number("learning_rate"),
                                  fields.integer("max_depth"), fields.number("subsample"))


def _no_fields(make: Callable[[], T]) -> Callable[[JsonFields], T]:
    def parse(fields: JsonFields) -> T:
        fields.reject_unknown({"kind"})
        return make()

    return parse


def _parse_normalizer(fields: JsonFields) -> Normalizing:
    fields.reject_unknown({"kind", "norm"})
    return Normalizing(fields.choice("norm", Norm))


_PREPROCESSING_PARSERS: dict[str, Callable[[JsonFields], PreprocessingParams]] = {
    NoPreprocessing.KIND: _no_fields(NoPreprocessing),
    StandardScaling.KIND: _no_fields(StandardScaling),
    MinMaxScaling.KIND: _no_fields(MinMaxScaling),
    Normalizing.KIND: _parse_normalizer,
    PcaParams.KIND: _parse_pca,
}
_CLASSIFIER_PARSERS: dict[str, Callable[[JsonFields], ClassifierParams]] = {
    SvcParams.KIND: _parse_svc,
    KnnParams.KIND: _parse_knn,
    RandomForestParams.KIND: _forest_parser(RandomForestParams),
    ExtraTreesParams.KIND: _forest_parser(ExtraTreesParams),
    LogisticRegressionParams.KIND: _parse_logistic,
    GradientBoostingParams.KIND: _parse_boosting,
}


def _check_bool(name: str, value: bool) -> None:
    if not isinstance(value, bool):
        raise ParamsError(f"{name}={value!r} must be true or false")


def _check_present(name: str, value: object, *, needed: bool, why: str) -> None:
    if needed and value is None:
        raise ParamsError(f"{name} is missing; {why} needs it")
    if not needed and value is not None:
        raise ParamsError(f"{name}={value!r} does not apply to {why}; leave it out")
