"""``coordinator apply`` and ``read_image``: tuned parameters put to use on any image."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from coordinator.apply import load_gray, preprocess, read_image
from coordinator.params_file import TunedParams, params_text, save_params, tuned_from_trial
from shared.dataset import load_dataset
from shared.errors import DatasetError
from shared.jsontypes import JsonObject
from shared.pipeline import apply_pipeline
from shared.scoring import ImageScore, similarity
from shared.store.sqlite import SqliteTrialStore
from tests.real_history import (
    BEST_TID,
    DATA_DIR,
    EVALUATED,
    EXP_KEY,
    RealHistory,
    invoke,
    real_history,
)

ALICE = DATA_DIR / "images" / "carroll_alice.jpg"
AUSTEN = DATA_DIR / "images" / "austen_pride_and_prejudice.jpg"


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory) -> RealHistory:
    return real_history(tmp_path_factory)


@pytest.fixture(scope="module")
def best_file(real: RealHistory, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The best parameters of the real history, saved as ``best --save`` saves them."""
    with SqliteTrialStore(real.path) as store:
        experiment = store.get_experiment(EXP_KEY)
        trial = store.trials(EXP_KEY, tids=[BEST_TID])[0]
    path = tmp_path_factory.mktemp("params") / "best.json"
    save_params(tuned_from_trial(experiment, trial), path)
    return path


def search_read(real: RealHistory, name: str) -> str:
    """The text the search's best trial read from the sample image ``name``."""
    result = real.results[BEST_TID]
    images = result.details["images"]
    assert isinstance(images, list)
    scores = [ImageScore.from_json(doc) for doc in images]
    return next(score.text for score in scores if score.name == name)


@pytest.mark.slow
def test_read_image_reads_what_the_search_read_with_the_same_parameters(
        real: RealHistory) -> None:
    # Given the best trial's parameters, as a user's program would load them
    tuned = TunedParams.from_json(dict(EVALUATED[BEST_TID]))

    # When an image of the dataset is read with them
    text = read_image(ALICE, tuned)

    # Then the text is exactly what the search's trial read from it
    assert text == search_read(real, "carroll_alice")


def test_preprocess_converts_to_grey_like_the_dataset_then_applies_the_pipeline() -> None:
    tuned = TunedParams.from_json(dict(EVALUATED[BEST_TID]))
    sample = next(s for s in load_dataset(DATA_DIR).samples if s.name == "carroll_alice")

    processed = preprocess(ALICE, tuned)

    assert np.array_equal(load_gray(ALICE), sample.image)
    assert np.array_equal(processed, apply_pipeline(sample.image, tuned.pipeline()))


def test_a_file_that_is_not_an_image_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("not a picture")

    with pytest.raises(DatasetError, match=r"cannot decode .*notes\.png"):
        load_gray(path)


# -- the command --------------------------------------------------------------------------


@pytest.mark.slow
def test_apply_prints_the_text_read_with_the_saved_parameters(
        real: RealHistory, best_file: Path) -> None:
    result = invoke("apply", "--params", best_file, ALICE)

    assert result.exit_code == 0, result.output
    assert result.stdout == search_read(real, "carroll_alice").rstrip("\n") + "\n"


@pytest.mark.slow
def test_apply_reads_several_images_each_under_its_name_and_saves_the_preprocessed(
        best_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "pre"

    result = invoke("apply", "--params", best_file, ALICE, AUSTEN,
                    "--save-preprocessed", out)

    assert result.exit_code == 0, result.output
    headers = [line for line in result.stdout.splitlines() if line.startswith("==> ")]
    assert headers == [f"==> {ALICE} <==", f"==> {AUSTEN} <=="]
    tuned = TunedParams.from_json(dict(EVALUATED[BEST_TID]))
    saved = cv2.imread(str(out / "carroll_alice.png"), cv2.IMREAD_UNCHANGED)
    assert saved is not None
    assert np.array_equal(saved, preprocess(ALICE, tuned))
    assert (out / "austen_pride_and_prejudice.png").is_file()


@pytest.mark.slow
def test_apply_accepts_a_bare_parameters_object_and_another_engine(tmp_path: Path) -> None:
    # Given the parameters alone, as a user might write them by hand
    params = tmp_path / "params.json"
    params.write_text(json.dumps(EVALUATED[BEST_TID]))

    # When the tesseract command reads with them instead of the in-process engine
    result = invoke("apply", "--params", params, "--engine", "pytesseract", ALICE)

    # Then it reads the page about as well as the search did
    assert result.exit_code == 0, result.output
    truth = (DATA_DIR / "texts" / "carroll_alice.txt").read_text(encoding="utf-8")
    assert similarity(result.stdout, truth) > 0.85


def test_apply_with_parameters_out_of_range_names_the_file_and_the_field(
        tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    params.write_text(json.dumps(EVALUATED[2]))

    result = invoke("apply", "--params", params, ALICE)

    assert result.exit_code == 1
    assert str(params) in result.output and "glyph_height_px=99" in result.output


def test_apply_without_the_parameters_file_says_how_to_make_one(tmp_path: Path) -> None:
    result = invoke("apply", "--params", tmp_path / "none.json", ALICE)

    assert result.exit_code == 1
    assert "coordinator best --save" in result.output


def test_a_parameters_file_of_another_shape_says_what_it_should_hold(tmp_path: Path) -> None:
    # Given a JSON file that is not a parameters file
    params = tmp_path / "other.json"
    params.write_text('{"a": 1}', encoding="utf-8")

    # When it is applied
    result = invoke("apply", "--params", params, ALICE)

    # Then the refusal names the file, what is missing and what would do
    assert result.exit_code == 1
    assert f"the parameters file {params}: resize is missing" in result.output
    assert "coordinator best --save FILE" in result.output


def test_parameters_saved_from_a_scikit_learn_experiment_are_refused_saying_so(
        tmp_path: Path) -> None:
    # Given the best parameters of a scikit-learn search, saved by `best --save`
    history, saved = tmp_path / "h.sqlite", tmp_path / "best.json"
    assert invoke("run", "--objective", "sklearn", "--dataset", "iris", "--max-evals", "2",
                  "--history", history).exit_code == 0
    assert invoke("best", "--history", history, "--save", saved).exit_code == 0

    # When they are applied to an image
    result = invoke("apply", "--params", saved, ALICE)

    # Then the refusal names the file and the experiment, and says which parameters would do
    assert result.exit_code == 1
    assert (f"the parameters file {saved} holds the parameters of a scikit-learn experiment "
            "('sklearn-iris'), not preprocessing parameters") in result.output
    assert "coordinator best --exp-key <an OCR experiment> --save FILE" in result.output
    assert "resize is missing" not in result.output


@pytest.mark.slow
def test_apply_to_a_missing_image_names_it(best_file: Path, tmp_path: Path) -> None:
    missing = tmp_path / "gone.jpg"

    result = invoke("apply", "--params", best_file, missing)

    assert result.exit_code == 1
    assert f"cannot read the image {missing}" in result.output


def test_printed_parameters_are_json_with_one_pipeline_step_per_line() -> None:
    # Given plain pipeline parameters
    params: JsonObject = {"resize": {"glyph_height_px": 17},
              "binarise": {"method": "mean", "block_size": 29, "c": 10},
              "denoise": None, "erode_kernel": None, "dilate_kernel": 3}

    # When they are printed for people to read
    text = params_text(params)

    # Then the text reads back as the same parameters, one step on each inner line
    assert json.loads(text) == params
    assert text.splitlines()[1:-1] == [
        '  "resize": {"glyph_height_px": 17},',
        '  "binarise": {"method": "mean", "block_size": 29, "c": 10},',
        '  "denoise": null,', '  "erode_kernel": null,', '  "dilate_kernel": 3']
