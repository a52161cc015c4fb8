"""The search space: every sample, random or from TPE, is a valid, plain pipeline."""

from __future__ import annotations

from functools import partial
from typing import Any

import cv2
import numpy as np
import pytest
from hyperopt import STATUS_OK, Trials, fmin, space_eval, tpe
from hyperopt.base import Domain
from hyperopt.pyll import stochastic

from shared.errors import ParamsError
from shared.params import (
    BLOCK_SIZE_PX,
    DENOISE_H,
    GLYPH_HEIGHT_PX,
    SEARCH_WINDOW_PX,
    TEMPLATE_WINDOW_PX,
    THRESHOLD_C,
    PipelineParams,
)
from shared.pipeline import apply_pipeline
from shared.space import SPACE_VERSION, build_space, plain_params

SAMPLE_COUNT = 5000
APPLIED_COUNT = 200

# (section, field) -> every value the space may give it.
ODD_FIELDS = {
    ("binarise", "block_size"): BLOCK_SIZE_PX,
    ("denoise", "h"): DENOISE_H,
    ("denoise", "template_window"): TEMPLATE_WINDOW_PX,
    ("denoise", "search_window"): SEARCH_WINDOW_PX,
}


@pytest.fixture(scope="module")
def samples() -> list[dict[str, Any]]:
    """Plain parameters of many random samples of the space, from a seeded generator."""
    rng = np.random.default_rng(20240611)
    space = build_space()
    return [plain_params(stochastic.sample(space, rng)) for _ in range(SAMPLE_COUNT)]


def int_leaves(doc: dict[str, Any]) -> list[Any]:
    """Every number in a plain parameter document."""
    leaves: list[Any] = []
    for value in doc.values():
        if isinstance(value, dict):
            leaves.extend(int_leaves(value))
        elif value is not None and not isinstance(value, str):
            leaves.append(value)
    return leaves


def test_every_sample_is_valid_and_survives_a_json_round_trip(
        samples: list[dict[str, Any]]) -> None:
    for doc in samples:
        assert PipelineParams.from_json(doc).to_json() == doc


def test_every_number_in_a_sample_is_a_python_int(samples: list[dict[str, Any]]) -> None:
    kinds = {type(leaf) for doc in samples for leaf in int_leaves(doc)}
    assert kinds == {int}


@pytest.mark.parametrize(("section", "field"), list(ODD_FIELDS))
def test_odd_fields_take_every_odd_value_in_their_range_and_nothing_else(
        samples: list[dict[str, Any]], section: str, field: str) -> None:
    # given many samples, when the values of one odd field are collected
    seen = {doc[section][field] for doc in samples if doc[section] is not None}

    # then they are exactly the odd numbers of its range
    low, high = ODD_FIELDS[section, field]
    assert seen == set(range(low, high + 1, 2))


@pytest.mark.parametrize(("section", "field", "bounds"), [
    ("resize", "glyph_height_px", GLYPH_HEIGHT_PX),
    ("binarise", "c", THRESHOLD_C),
])
def test_integer_fields_reach_both_ends_of_their_range(
        samples: list[dict[str, Any]], section: str, field: str,
        bounds: tuple[int, int]) -> None:
    seen = {doc[section][field] for doc in samples if doc[section] is not None}
    assert (min(seen), max(seen)) == bounds


@pytest.mark.parametrize("field", ["binarise", "denoise", "erode_kernel", "dilate_kernel"])
def test_every_optional_step_is_sometimes_taken_and_sometimes_skipped(
        samples: list[dict[str, Any]], field: str) -> None:
    taken = sum(doc[field] is not None for doc in samples)
    assert 0 < taken < len(samples)


def test_both_morphology_kernels_and_both_threshold_methods_are_sampled(
        samples: list[dict[str, Any]]) -> None:
    assert {doc["erode_kernel"] for doc in samples} == {None, 1, 3}
    assert {doc["dilate_kernel"] for doc in samples} == {None, 1, 3}
    methods = {doc["binarise"]["method"] for doc in samples if doc["binarise"]}
    assert methods == {"gaussian", "mean"}


def test_erosion_and_dilation_are_only_sampled_with_binarisation(
        samples: list[dict[str, Any]]) -> None:
    morphology_alone = [doc for doc in samples if doc["binarise"] is None
                        and (doc["erode_kernel"] is not None or doc["dilate_kernel"] is not None)]
    assert morphology_alone == []


def test_sampled_pipelines_run_on_a_small_page(samples: list[dict[str, Any]]) -> None:
    # given a small page of text
    page = np.full((40, 150), 250, np.uint8)
    cv2.putText(page, "Dress, clean", (4, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 20, 1)

    for doc in samples[:APPLIED_COUNT]:
        # when a sampled pipeline runs on it
        result = apply_pipeline(page, PipelineParams.from_json(doc))

        # then it gives a non-empty grayscale image
        assert result.ndim == 2
        assert result.size > 0
        assert result.dtype == np.uint8


def test_tpe_suggestions_are_valid_and_rebuild_from_their_stored_values() -> None:
    # given a TPE search whose objective checks each suggestion it is handed
    seen: list[dict[str, Any]] = []

    def objective(sample: dict[str, Any]) -> dict[str, Any]:
        doc = plain_params(sample)
        assert PipelineParams.from_json(doc).to_json() == doc
        seen.append(doc)
        # A loss with a clear optimum, so that TPE's later suggestions follow its model.
        return {"loss": abs(doc["resize"]["glyph_height_px"] - 20), "status": STATUS_OK}

    # when it runs, with TPE modelling after 5 random trials
    trials = Trials()
    fmin(objective, build_space(), algo=partial(tpe.suggest, n_startup_jobs=5),
         max_evals=30, trials=trials, rstate=np.random.default_rng(0),
         show_progressbar=False)

    # then every trial was valid, and its stored values rebuild the same parameters
    assert len(seen) == 30
    for trial, doc in zip(trials.trials, seen, strict=True):
        point = {label: values[0] for label, values in trial["misc"]["vals"].items() if values}
        assert plain_params(space_eval(build_space(), point)) == doc


def test_labels_are_plain_mongodb_field_names() -> None:
    labels = Domain(lambda sample: 0.0, build_space()).params
    assert labels
    assert all("." not in label and not label.startswith("$") for label in labels)


def test_space_version_is_a_non_empty_name() -> None:
    assert isinstance(SPACE_VERSION, str)
    assert SPACE_VERSION.strip()


def test_numpy_numbers_and_whole_floats_become_python_ints() -> None:
    # given a sample holding numpy scalars and whole floats, as hyperopt may return them
    sample = {
        "resize": {"glyph_height_px": np.int64(20)},
        "binarise": {"method": "mean", "block_size": np.float64(15.0), "c": 9.0,
                     "erode_kernel": np.int32(3), "dilate_kernel": None},
        "denoise": None,
    }

    # when it is made plain
    doc = plain_params(sample)

    # then its numbers are Python ints, and erosion moved to the top level
    assert doc["binarise"] == {"method": "mean", "block_size": 15, "c": 9}
    assert doc["erode_kernel"] == 3
    assert {type(leaf) for leaf in int_leaves(doc)} == {int}


@pytest.mark.parametrize(("sample", "shown"), [
    ({"resize": {"glyph_height_px": 20}, "colour": 1}, "colour"),
    ({"resize": {"glyph_height_px": 20.5}}, "20.5"),
    ({"resize": {"glyph_height_px": 99}}, "99"),
    ({"resize": {"glyph_height_px": 20},
      "binarise": {"method": 0, "block_size": 15, "c": 9}}, "binarise.method"),
    ({"binarise": None}, "resize"),
    (["resize"], "mapping"),
])
def test_a_sample_outside_the_space_is_refused_naming_the_field(sample: Any, shown: str
                                                                  ) -> None:
    with pytest.raises(ParamsError, match=shown):
        plain_params(sample)
