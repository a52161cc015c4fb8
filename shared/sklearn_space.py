"""The hyperopt search space over scikit-learn models, and its plain-JSON form.

Two choices, each conditional: the preprocessing step (none, standard scaling, min-max
scaling, a row normaliser, PCA) and the classifier (SVC, k-nearest neighbours, random
forest, extra trees, logistic regression, gradient boosting). A hyperparameter is sampled
only when its step or classifier is chosen; the SVC's ``gamma`` only for the rbf and poly
kernels, its ``degree`` only for poly. Bounds are those of ``shared.sklearn_params``.

hyperopt labels are ``preprocessing`` and ``classifier`` (indices into the lists below),
then one label per hyperparameter, prefixed with its owner (``svc_rbf_gamma``,
``extra_trees_max_depth``) because hyperopt needs every label unique; none has a dot, so
MongoDB stores them as plain field names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hyperopt import hp
from hyperopt.pyll import scope

from shared.errors import ParamsError
from shared.jsontypes import to_plain
from shared.sklearn_params import (
    BOOSTING_LEARNING_RATE,
    BOOSTING_MAX_DEPTH,
    BOOSTING_N_ESTIMATORS,
    BOOSTING_SUBSAMPLE,
    FOREST_MAX_DEPTH,
    FOREST_MIN_SAMPLES_LEAF,
    FOREST_N_ESTIMATORS,
    KNN_NEIGHBORS,
    KNN_P,
    LOGISTIC_C,
    PCA_VARIANCE,
    SVC_C,
    SVC_DEGREE,
    SVC_GAMMA,
    Criterion,
    ExtraTreesParams,
    GradientBoostingParams,
    Kernel,
    KnnParams,
    LogisticRegressionParams,
    MaxFeatures,
    MinMaxScaling,
    ModelParams,
    NoPreprocessing,
    Norm,
    Normalizing,
    PcaParams,
    RandomForestParams,
    StandardScaling,
    SvcParams,
    Weights,
)

# Changes whenever the space's labels, bounds or the meaning of a sample change: trials
# recorded under another version cannot seed hyperopt's history for this one.
SPACE_VERSION = "sklearn-space-1"


def build_space() -> Any:
    """A new hyperopt space; ``space_eval`` turns a point of it into input of plain_params."""
    return {
        "preprocessing": hp.choice("preprocessing", [
            {"kind": NoPreprocessing.KIND},
            {"kind": StandardScaling.KIND},
            {"kind": MinMaxScaling.KIND},
            {"kind": Normalizing.KIND, "norm": _enum_choice("normalizer_norm", Norm)},
            {"kind": PcaParams.KIND,
             "n_components": hp.uniform("pca_n_components", *PCA_VARIANCE),
             "whiten": hp.choice("pca_whiten", [False, True])},
        ]),
        "classifier": hp.choice("classifier", [
            _svc(),
            _knn(),
            _forest(RandomForestParams.KIND),
            _forest(ExtraTreesParams.KIND),
            {"kind": LogisticRegressionParams.KIND,
             "C": _log_uniform("logistic_regression_C", LOGISTIC_C)},
            _boosting(),
        ]),
    }


def _svc() -> Any:
    return hp.choice("svc_kernel", [
        {"kind": SvcParams.KIND, "kernel": Kernel.LINEAR.value,
         "C": _log_uniform("svc_linear_C", SVC_C)},
        {"kind": SvcParams.KIND, "kernel": Kernel.RBF.value,
         "C": _log_uniform("svc_rbf_C", SVC_C),
         "gamma": _log_uniform("svc_rbf_gamma", SVC_GAMMA)},
        {"kind": SvcParams.KIND, "kernel": Kernel.POLY.value,
         "C": _log_uniform("svc_poly_C", SVC_C),
         "gamma": _log_uniform("svc_poly_gamma", SVC_GAMMA),
         "degree": hp.uniformint("svc_poly_degree", *SVC_DEGREE)},
    ])


def _knn() -> Any:
    return {"kind": KnnParams.KIND,
            "n_neighbors": hp.uniformint("knn_n_neighbors", *KNN_NEIGHBORS),
            "weights": _enum_choice("knn_weights", Weights),
            "p": hp.choice("knn_p", list(range(KNN_P[0], KNN_P[1] + 1)))}


def _forest(kind: str) -> Any:
    return {"kind": kind,
            "n_estimators": _log_int(f"{kind}_n_estimators", FOREST_N_ESTIMATORS),
            "max_depth": hp.choice(f"{kind}_max_depth_limited", [
                None, hp.uniformint(f"{kind}_max_depth", *FOREST_MAX_DEPTH)]),
            "max_features": _enum_choice(f"{kind}_max_features", MaxFeatures),
            "min_samples_leaf": hp.uniformint(f"{kind}_min_samples_leaf",
                                              *FOREST_MIN_SAMPLES_LEAF),
            "criterion": _enum_choice(f"{kind}_criterion", Criterion)}


def _boosting() -> Any:
    kind = GradientBoostingParams.KIND
    return {"kind": kind,
            "n_estimators": _log_int(f"{kind}_n_estimators", BOOSTING_N_ESTIMATORS),
            "learning_rate": _log_uniform(f"{kind}_learning_rate", BOOSTING_LEARNING_RATE),
            "max_depth": hp.uniformint(f"{kind}_max_depth", *BOOSTING_MAX_DEPTH),
            "subsample": hp.uniform(f"{kind}_subsample", *BOOSTING_SUBSAMPLE)}


def _log_uniform(label: str, bounds: tuple[float, float]) -> Any:
    # Strengths, rates and kernel widths matter by their order of magnitude.
    low, high = bounds
    return hp.loguniform(label, math.log(low), math.log(high))


def _log_int(label: str, bounds: tuple[int, int]) -> Any:
    # Log-uniform, because 10 -> 20 trees changes a model far more than 200 -> 210.
    # Rounding keeps the ends of the range inside it.
    low, high = bounds
    return scope.int(hp.qloguniform(label, math.log(low), math.log(high), 1))


def _enum_choice(label: str, values: type[Criterion | MaxFeatures | Norm | Weights]) -> Any:
    return hp.choice(label, [member.value for member in values])


def plain_params(sample: Mapping[str, Any]) -> dict[str, Any]:
    """The plain JSON of ``ModelParams`` for a sample of ``build_space()``, checked.

    ``sample`` is what ``hyperopt.space_eval`` or ``hyperopt.pyll.stochastic.sample``
    returns. numpy numbers come out as Python numbers, absent hyperparameters as null;
    anything outside the space raises ParamsError naming the field.
    """
    if not isinstance(sample, Mapping):
        raise ParamsError(f"a search-space sample must be a mapping, got {sample!r}")
    return ModelParams.from_json(to_plain(sample)).to_json()
