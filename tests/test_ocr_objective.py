"""The OCR objective: specs, loading on a worker, and evaluating trials on real Tesseract."""

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import cv2
import Levenshtein
import numpy as np
import pytest
from hyperopt.pyll import stochastic
from numpy.typing import NDArray

from shared.errors import ObjectiveError, OcrEngineError
from shared.jsontypes import JsonObject
from shared.objective import objective_kind
from shared.ocr import OcrEngine, find_tessdata
from shared.ocr_objective import (
    OBJECTIVE_VERSION,
    OCR_OBJECTIVE,
    OcrObjective,
    ocr_spec,
    score_images,
    total_loss,
)
from shared.scoring import ImageScore
from shared.space import SPACE_VERSION
from shared.trials import ResultStatus
from tests.fakes.quadratic import quadratic_spec
from tests.fakes.quadratic import register as register_quadratic
from worker.evaluator import ProcessEvaluator

MakeDataset = Callable[[Mapping[str, str]], Path]

_TEXTS = {"first": "The quick brown fox", "second": "jumps over\nthe lazy dog"}

# Plain parameters that keep a clean rendered page readable: resize to a comfortable glyph
# height and binarise; no denoising or morphology.
_GOOD_PARAMS: JsonObject = {
    "resize": {"glyph_height_px": 24},
    "binarise": {"method": "gaussian", "block_size": 21, "c": 11},
    "denoise": None,
    "erode_kernel": None,
    "dilate_kernel": None,
}


@pytest.fixture
def objective(make_dataset: MakeDataset) -> Iterator[OcrObjective]:
    spec = ocr_spec(make_dataset(_TEXTS))
    loaded = OCR_OBJECTIVE.load(spec)
    yield loaded
    loaded.close()


def test_the_registry_finds_the_ocr_objective_with_its_versions() -> None:
    kind = objective_kind("ocr")

    assert kind is OCR_OBJECTIVE
    assert kind.version == OBJECTIVE_VERSION
    assert kind.space_version == SPACE_VERSION


def test_a_spec_records_the_resolved_folder_engine_language_and_tesseract(
        make_dataset: MakeDataset) -> None:
    # given a dataset
    folder = make_dataset(_TEXTS)

    # when the coordinator describes an experiment on it
    spec = ocr_spec(folder, engine="pytesseract", lang="eng")

    # then the spec names the objective and records what reads
    assert (spec.name, spec.version, spec.space_version) == ("ocr", OBJECTIVE_VERSION,
                                                             SPACE_VERSION)
    assert len(spec.fingerprint) == 64
    assert spec.settings["data_dir"] == str(folder.resolve())
    assert spec.settings["engine"] == "pytesseract"
    assert spec.settings["lang"] == "eng"
    assert str(spec.settings["tesseract_version"]).startswith(("4.", "5."))


@pytest.mark.slow
def test_a_trial_gets_a_finite_loss_summed_over_its_images(objective: OcrObjective) -> None:
    # when a trial with sensible parameters is evaluated
    result = objective.evaluate(_GOOD_PARAMS)

    # then it is OK, its loss is the sum of 1 - similarity, and each image is recorded
    assert result.is_ok
    assert result.loss is not None
    assert math.isfinite(result.loss)
    docs = result.details["images"]
    assert isinstance(docs, list)
    images = [ImageScore.from_json(doc) for doc in docs]
    assert [image.name for image in images] == ["first", "second"]
    assert result.loss == pytest.approx(sum(1 - image.similarity for image in images))
    assert all(image.similarity > 0.8 for image in images)
    assert result.details["engine"] == "tesserocr"
    assert result.details["fingerprint"] == objective.dataset.fingerprint
    assert result.details["tesseract_version"] == objective.engine.tesseract_version


@pytest.mark.slow
def test_a_trial_sampled_from_the_search_space_is_evaluated(objective: OcrObjective) -> None:
    # given a random point of the search space, made plain
    sample = stochastic.sample(OCR_OBJECTIVE.space(), rng=np.random.default_rng(3))
    params = OCR_OBJECTIVE.plain_params(sample)

    # when it is evaluated / then it gets a finite loss
    result = objective.evaluate(params)
    assert result.is_ok, result.error


@pytest.mark.parametrize("params, named", [
    ({"resize": {"glyph_height_px": 200}}, "resize.glyph_height_px"),
    ({}, "resize"),
    ({**_GOOD_PARAMS, "sharpen": 1}, "sharpen"),
])
def test_bad_parameters_give_a_failed_trial_saying_why(
        objective: OcrObjective, params: JsonObject, named: str) -> None:
    # when a trial's parameters are out of range, missing or unknown
    result = objective.evaluate(params)

    # then the trial failed, the reason names the field, and no loss was made up
    assert result.status is ResultStatus.FAIL
    assert result.loss is None
    assert result.error is not None
    assert "bad parameters" in result.error
    assert named in result.error
    assert result.details["fingerprint"] == objective.dataset.fingerprint


class _EngineFailingOnRead(OcrEngine):
    """Reads nothing, and fails on its n-th read (counting from 1), as Tesseract can."""

    name = "failing"

    def __init__(self, failing_read: int) -> None:
        self.lang = "eng"
        self.tesseract_version = "0"
        self._failing_read = failing_read
        self._reads = 0

    def read(self, gray: NDArray[np.uint8]) -> str:
        self._reads += 1
        if self._reads == self._failing_read:
            raise OcrEngineError("recognition failed")
        return ""

    def close(self) -> None:
        pass


def test_an_image_that_fails_to_read_fails_the_trial_naming_it(
        objective: OcrObjective) -> None:
    # given an objective whose engine fails on the second image
    failing = OcrObjective(objective.spec, objective.dataset, _EngineFailingOnRead(2))

    # when a trial is evaluated / then it failed, naming the image and the cause
    result = failing.evaluate(_GOOD_PARAMS)
    assert result.status is ResultStatus.FAIL
    assert "'second'" in str(result.error)
    assert "recognition failed" in str(result.error)


@pytest.mark.slow
def test_the_baseline_scores_every_image_without_preprocessing(
        objective: OcrObjective) -> None:
    scores = score_images(objective.dataset, objective.engine, None)

    assert [score.name for score in scores] == ["first", "second"]
    assert total_loss(scores) == pytest.approx(sum(1 - s.similarity for s in scores))


def test_an_evaluation_process_keeps_opencv_to_one_thread() -> None:
    # Given an objective that reports how many threads OpenCV may use where it runs
    register_quadratic()

    # When an evaluation process evaluates a trial of it
    with ProcessEvaluator() as evaluator:
        result = evaluator.evaluate(quadratic_spec(report_opencv_threads=True),
                                    {"x": 1.0, "shade": "dark"})

    # Then its preprocessing would run on one core, like its Tesseract, whatever the
    # machine's cores
    assert result is not None and result.is_ok, result
    assert result.details["opencv_threads"] == 1


def test_loading_the_objective_in_process_leaves_opencv_threads_as_they_were(
        make_dataset: MakeDataset) -> None:
    # Given OpenCV free to use two threads in this process (as in `coordinator best`)
    cv2.setNumThreads(2)
    try:
        # When the process loads the objective and evaluates with it
        objective = OCR_OBJECTIVE.load(ocr_spec(make_dataset(_TEXTS)))
        objective.evaluate(_GOOD_PARAMS)
        objective.close()

        # Then OpenCV may still use both: only evaluation processes are held to one
        assert cv2.getNumThreads() == 2
    finally:
        cv2.setNumThreads(-1)


def test_a_closed_objective_refuses_to_evaluate(objective: OcrObjective) -> None:
    objective.close()

    with pytest.raises(ObjectiveError, match="closed"):
        objective.evaluate(_GOOD_PARAMS)


def test_a_worker_with_a_copy_of_the_dataset_elsewhere_loads_it(
        make_dataset: MakeDataset, tmp_path: Path) -> None:
    # given an experiment's spec and a byte-identical copy of its dataset
    folder = make_dataset(_TEXTS)
    spec = ocr_spec(folder)
    copy = tmp_path / "mounted"
    for path in sorted(folder.rglob("*")):
        target = copy / path.relative_to(folder)
        if path.is_dir():
            target.mkdir(parents=True)
        else:
            target.write_bytes(path.read_bytes())

    # when a worker loads the spec from the copy / then it uses the copy
    with_copy = OCR_OBJECTIVE.load(spec, data_dir_override=copy)
    assert with_copy.dataset.folder == copy.resolve()
    with_copy.close()


def test_a_worker_that_does_not_find_the_dataset_is_told_to_point_data_dir_at_it(
        make_dataset: MakeDataset, tmp_path: Path) -> None:
    # given an experiment's spec whose dataset has moved away
    folder = make_dataset(_TEXTS)
    spec = ocr_spec(folder)
    folder.rename(tmp_path / "elsewhere")

    # when a worker loads the spec / then the refusal names the folder and --data-dir
    with pytest.raises(ObjectiveError) as caught:
        OCR_OBJECTIVE.load(spec)
    assert str(caught.value) == (
        f"cannot load the experiment's dataset here: dataset folder {folder} does not "
        "exist; pass the folder that holds images/ and texts/; if the dataset is elsewhere "
        "on this machine, point --data-dir at it")


def test_a_dataset_with_another_fingerprint_is_refused_naming_both(
        make_dataset: MakeDataset) -> None:
    # given an experiment's spec, then one of its texts is edited
    folder = make_dataset(_TEXTS)
    spec = ocr_spec(folder)
    (folder / "texts" / "first.txt").write_text("edited\n", encoding="utf-8")

    # when a worker loads the spec / then both fingerprints and the folder are named
    with pytest.raises(ObjectiveError) as caught:
        OCR_OBJECTIVE.load(spec)
    message = str(caught.value)
    assert spec.fingerprint in message
    assert str(folder.resolve()) in message
    assert "fingerprint" in message


def test_a_spec_from_another_objective_version_is_refused(make_dataset: MakeDataset) -> None:
    spec = dataclasses.replace(ocr_spec(make_dataset(_TEXTS)), version="ocr-objective-0")

    with pytest.raises(ObjectiveError, match="ocr-objective-0"):
        OCR_OBJECTIVE.load(spec)


def test_a_spec_missing_a_setting_is_refused_naming_it(make_dataset: MakeDataset) -> None:
    spec = ocr_spec(make_dataset(_TEXTS))
    settings = {key: value for key, value in spec.settings.items() if key != "lang"}

    with pytest.raises(ObjectiveError, match="'lang'"):
        OCR_OBJECTIVE.load(dataclasses.replace(spec, settings=settings))


def test_a_spec_whose_dataset_is_gone_is_refused(make_dataset: MakeDataset,
                                                 tmp_path: Path) -> None:
    spec = ocr_spec(make_dataset(_TEXTS))

    with pytest.raises(ObjectiveError, match="does not exist"):
        OCR_OBJECTIVE.load(spec, data_dir_override=tmp_path / "elsewhere")


def _read_with_pytesseract(gray: NDArray[np.uint8]) -> str:
    import pytesseract

    return str(pytesseract.image_to_string(gray, lang="eng", config="--psm 6"))


def _read_with_tesserocr(gray: NDArray[np.uint8]) -> str:
    import tesserocr

    with tesserocr.PyTessBaseAPI(path=str(find_tessdata("eng")), lang="eng", psm=6) as api:
        api.SetImageBytes(gray.tobytes(), gray.shape[1], gray.shape[0], 1, gray.shape[1])
        return str(api.GetUTF8Text())


@pytest.mark.slow
@pytest.mark.parametrize("engine_name, read", [("pytesseract", _read_with_pytesseract),
                                               ("tesserocr", _read_with_tesserocr)])
def test_on_the_photos_the_baseline_loss_is_the_sum_of_one_minus_ratio(
        photos_dir: Path, engine_name: str, read: Callable[[NDArray[np.uint8]], str]) -> None:
    # given the real photos, each read straight from its file into gray and OCRed without
    # this project's engines or scoring, as the write-up did
    direct = 0.0
    for image_path in sorted((photos_dir / "images").iterdir()):
        colour = cv2.imread(str(image_path))
        assert colour is not None, image_path
        gray = np.ascontiguousarray(cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
        truth = (photos_dir / "texts" / f"{image_path.stem}.txt").read_text("utf-8")
        direct += 1 - Levenshtein.ratio(" ".join(read(gray).split()), " ".join(truth.split()))

    # when the objective scores them without preprocessing
    objective = OCR_OBJECTIVE.load(ocr_spec(photos_dir, engine=engine_name))
    loss = total_loss(score_images(objective.dataset, objective.engine, None))
    objective.close()

    # then its loss is the same sum
    assert loss == pytest.approx(direct, abs=1e-9)
