"""The scikit-learn search space and its parameters: every sample valid, every branch used."""

from __future__ import annotations

import copy
import json
import math
from functools import partial
from typing import Any

import numpy as np
import pytest
from hyperopt import STATUS_OK, Trials, fmin, space_eval, tpe
from hyperopt.base import Domain
from hyperopt.pyll import stochastic

from shared.errors import ParamsError
from shared.sklearn_params import (
    FOREST_MAX_DEPTH,
    FOREST_MIN_SAMPLES_LEAF,
    KNN_NEIGHBORS,
    SVC_DEGREE,
    ExtraTreesParams,
    GradientBoostingParams,
    KnnParams,
    LogisticRegressionParams,
    MinMaxScaling,
    ModelParams,
    NoPreprocessing,
    Normalizing,
    PcaParams,
    RandomForestParams,
    StandardScaling,
    SvcParams,
)
from shared.sklearn_space import SPACE_VERSION, build_space, plain_params

SAMPLE_COUNT = 2000
PREPROCESSING_KINDS = {cls.KIND for cls in (NoPreprocessing, StandardScaling, MinMaxScaling,
                                            Normalizing, PcaParams)}
CLASSIFIER_KINDS = {cls.KIND for cls in (SvcParams, KnnParams, RandomForestParams,
                                         ExtraTreesParams, LogisticRegressionParams,
                                         GradientBoostingParams)}
INTEGER_FIELDS = ("n_estimators", "n_neighbors", "p", "min_samples_leaf", "degree")

GOOD: dict[str, Any] = {
    "preprocessing": {"kind": "normalizer", "norm": "l2"},
    "classifier": {"kind": "extra_trees", "n_estimators": 57, "max_depth": None,
                   "max_features": "all", "min_samples_leaf": 2, "criterion": "gini"},
}


@pytest.fixture(scope="module")
def samples() -> list[dict[str, Any]]:
    """Plain parameters of many random samples of the space, from a seeded generator."""
    rng = np.random.default_rng(20240612)
    space = build_space()
    return [plain_params(stochastic.sample(space, rng)) for _ in range(SAMPLE_COUNT)]


def classifiers(samples: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc["classifier"] for doc in samples if doc["classifier"]["kind"] == kind]


def test_every_sample_is_valid_and_survives_a_json_round_trip(
        samples: list[dict[str, Any]]) -> None:
    for doc in samples:
        stored = json.loads(json.dumps(doc))
        assert ModelParams.from_json(stored).to_json() == doc


def test_every_preprocessing_step_and_every_classifier_is_sampled(
        samples: list[dict[str, Any]]) -> None:
    assert {doc["preprocessing"]["kind"] for doc in samples} == PREPROCESSING_KINDS
    assert {doc["classifier"]["kind"] for doc in samples} == CLASSIFIER_KINDS


def test_every_choice_inside_a_branch_is_sampled(samples: list[dict[str, Any]]) -> None:
    norms = {doc["preprocessing"]["norm"] for doc in samples
             if doc["preprocessing"]["kind"] == "normalizer"}
    whiten = {doc["preprocessing"]["whiten"] for doc in samples
              if doc["preprocessing"]["kind"] == "pca"}
    knn = classifiers(samples, "knn")
    trees = classifiers(samples, "random_forest") + classifiers(samples, "extra_trees")

    assert norms == {"l1", "l2", "max"}
    assert whiten == {False, True}
    assert {c["weights"] for c in knn} == {"uniform", "distance"}
    assert {c["p"] for c in knn} == {1, 2}
    assert {c["max_features"] for c in trees} == {"sqrt", "log2", "all"}
    assert {c["criterion"] for c in trees} == {"gini", "entropy"}


def test_svc_samples_gamma_only_for_rbf_and_poly_and_degree_only_for_poly(
        samples: list[dict[str, Any]]) -> None:
    by_kernel: dict[str, list[dict[str, Any]]] = {}
    for svc in classifiers(samples, "svc"):
        by_kernel.setdefault(svc["kernel"], []).append(svc)

    assert set(by_kernel) == {"linear", "rbf", "poly"}
    assert all(s["gamma"] is None and s["degree"] is None for s in by_kernel["linear"])
    assert all(s["gamma"] is not None and s["degree"] is None for s in by_kernel["rbf"])
    assert all(s["gamma"] is not None for s in by_kernel["poly"])
    assert {s["degree"] for s in by_kernel["poly"]} == set(range(SVC_DEGREE[0],
                                                                 SVC_DEGREE[1] + 1))


def test_tree_depth_is_sometimes_unlimited_and_otherwise_within_its_range(
        samples: list[dict[str, Any]]) -> None:
    depths = [c["max_depth"] for c in classifiers(samples, "random_forest")]
    limited = [depth for depth in depths if depth is not None]

    assert None in depths
    assert (min(limited), max(limited)) == FOREST_MAX_DEPTH


@pytest.mark.parametrize(("kind", "field", "bounds"), [
    ("extra_trees", "min_samples_leaf", FOREST_MIN_SAMPLES_LEAF),
    ("knn", "n_neighbors", KNN_NEIGHBORS),
])
def test_integer_ranges_reach_both_ends(samples: list[dict[str, Any]], kind: str,
                                        field: str, bounds: tuple[int, int]) -> None:
    values = [c[field] for c in classifiers(samples, kind)]
    assert (min(values), max(values)) == bounds


def test_integer_hyperparameters_are_python_ints(samples: list[dict[str, Any]]) -> None:
    kinds = {type(doc["classifier"][field]) for doc in samples for field in INTEGER_FIELDS
             if doc["classifier"].get(field) is not None}
    assert kinds == {int}


def test_tpe_suggestions_are_valid_and_rebuild_from_their_stored_values() -> None:
    # given a TPE search whose objective checks each suggestion it is handed
    seen: list[dict[str, Any]] = []

    def objective(sample: dict[str, Any]) -> dict[str, Any]:
        doc = plain_params(sample)
        seen.append(doc)
        # A loss that prefers one classifier, so that TPE's later suggestions follow it.
        return {"loss": 0.0 if doc["classifier"]["kind"] == "knn" else 1.0,
                "status": STATUS_OK}

    # when it runs, with TPE modelling after 5 random trials
    trials = Trials()
    fmin(objective, build_space(), algo=partial(tpe.suggest, n_startup_jobs=5),
         max_evals=30, trials=trials, rstate=np.random.default_rng(0),
         show_progressbar=False)

    # then every stored point rebuilds the parameters the objective was handed
    assert len(seen) == 30
    for trial, doc in zip(trials.trials, seen, strict=True):
        point = {label: values[0] for label, values in trial["misc"]["vals"].items() if values}
        assert plain_params(space_eval(build_space(), point)) == doc


def test_labels_are_plain_mongodb_field_names() -> None:
    labels = Domain(lambda sample: 0.0, build_space()).params
    assert len(labels) > 20
    assert all("." not in label and not label.startswith("$") for label in labels)


def test_space_version_names_the_sklearn_space() -> None:
    assert SPACE_VERSION.startswith("sklearn-space-")


def changed(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """GOOD with the field at ``path`` set to ``value`` (or removed, for ``...``)."""
    doc = copy.deepcopy(GOOD)
    target: dict[str, Any] = doc
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


def test_a_valid_document_parses_and_writes_back_the_same() -> None:
    assert ModelParams.from_json(GOOD).to_json() == GOOD


@pytest.mark.parametrize(("doc", "named"), [
    (changed(("classifier",), ...), "classifier is missing"),
    (changed(("classifier", "kind"), "xgboost"), "classifier.kind='xgboost'"),
    (changed(("classifier", "n_estimators"), 0), "classifier.n_estimators=0"),
    (changed(("classifier", "n_estimators"), 10.5), "classifier.n_estimators=10.5"),
    (changed(("classifier", "n_estimators"), ...), "classifier.n_estimators is missing"),
    (changed(("classifier", "max_depth"), ...), "classifier.max_depth is missing"),
    (changed(("classifier", "max_depth"), 99), "classifier.max_depth=99"),
    (changed(("classifier", "criterion"), "log_loss"), "classifier.criterion='log_loss'"),
    (changed(("classifier", "colour"), "red"), "classifier.colour"),
    (changed(("preprocessing", "norm"), "l3"), "preprocessing.norm='l3'"),
    ({"preprocessing": {"kind": "pca", "n_components": 1.5, "whiten": False},
      "classifier": GOOD["classifier"]}, "preprocessing.n_components=1.5"),
    ({"preprocessing": {"kind": "pca", "n_components": 0.9, "whiten": 1},
      "classifier": GOOD["classifier"]}, "preprocessing.whiten=1"),
    ({"preprocessing": {"kind": "none"},
      "classifier": {"kind": "svc", "kernel": "linear", "C": 1.0, "gamma": 0.1}},
     "classifier.gamma=0.1"),
    ({"preprocessing": {"kind": "none"},
      "classifier": {"kind": "svc", "kernel": "poly", "C": 1.0, "gamma": 0.1}},
     "classifier.degree is missing"),
    ({"preprocessing": {"kind": "none"},
      "classifier": {"kind": "logistic_regression", "C": math.nan}}, "classifier.C=nan"),
    ({"preprocessing": {"kind": "none"},
      "classifier": {"kind": "gradient_boosting", "n_estimators": 50, "learning_rate": True,
                     "max_depth": 3, "subsample": 0.8}}, "classifier.learning_rate=True"),
    ({"preprocessing": {"kind": "none"}, "classifier": {"kind": "knn", "n_neighbors": 5,
                                                        "weights": "uniform", "p": 3}},
     "classifier.p=3"),
    (["not", "an", "object"], "parameters must be a JSON object"),
])
def test_bad_parameters_are_refused_naming_the_field(doc: Any, named: str) -> None:
    with pytest.raises(ParamsError, match=named.replace(".", r"\.").replace("(", r"\(")):
        ModelParams.from_json(doc)


def test_numpy_numbers_in_a_sample_become_python_numbers() -> None:
    # given a sample holding numpy scalars, as hyperopt returns them
    sample = {"preprocessing": {"kind": "pca", "n_components": np.float64(0.9),
                                "whiten": np.bool_(True)},
              "classifier": {"kind": "knn", "n_neighbors": np.int64(7), "weights": "uniform",
                             "p": np.int64(2)}}

    # when it is made plain
    doc = plain_params(sample)

    # then its values are Python's own types
    assert doc["preprocessing"] == {"kind": "pca", "n_components": 0.9, "whiten": True}
    assert type(doc["preprocessing"]["whiten"]) is bool
    assert type(doc["classifier"]["n_neighbors"]) is int
