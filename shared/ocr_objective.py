"""The OCR objective: how well Tesseract reads a dataset after a trial's preprocessing.

A trial's loss is the sum over the dataset's images of ``1 - similarity`` between what
Tesseract read and the true text (0 when every image is read exactly). The result's
details keep every image's scores and text, the engine, the Tesseract version that read,
and the dataset's fingerprint.

The coordinator describes an experiment with ``ocr_spec``; each worker rebuilds the
objective from that spec with ``OCR_OBJECTIVE.load``, which refuses a dataset whose bytes
differ from the coordinator's.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from shared.dataset import Dataset, Sample, load_dataset
from shared.errors import ObjectiveError, OcrTuneError, ParamsError
from shared.jsontypes import JsonObject
from shared.objective import Objective, ObjectiveKind, check_compatible
from shared.ocr import DEFAULT_ENGINE, DEFAULT_LANG, OcrEngine, make_engine
from shared.params import SPACE_VERSION, PipelineParams
from shared.pipeline import apply_pipeline
from shared.scoring import ImageScore
from shared.trials import ObjectiveSpec, TrialResult

logger = logging.getLogger(__name__)

OBJECTIVE_NAME = "ocr"
# Bump whenever the same parameters could score differently: the loss formula, the
# scoring, the page segmentation mode, how images are read or converted to gray.
OBJECTIVE_VERSION = "ocr-objective-1"


@dataclass(frozen=True)
class OcrSettings:
    """The OCR objective's plain settings, as stored in ``ObjectiveSpec.settings``."""

    data_dir: Path
    engine: str
    lang: str
    tesseract_version: str

    def to_json(self) -> dict[str, str]:
        return {"data_dir": str(self.data_dir), "engine": self.engine, "lang": self.lang,
                "tesseract_version": self.tesseract_version}

    @classmethod
    def from_json(cls, doc: JsonObject) -> OcrSettings:
        """Read stored settings; raises ObjectiveError naming a missing or mistyped one."""
        values = {}
        for key in ("data_dir", "engine", "lang", "tesseract_version"):
            value = doc.get(key)
            if not isinstance(value, str) or not value:
                raise ObjectiveError(f"the OCR objective's setting {key!r} is {value!r}, not "
                                     "a non-empty string; recreate the experiment with "
                                     "this release's coordinator")
            values[key] = value
        return cls(Path(values["data_dir"]), values["engine"], values["lang"],
                   values["tesseract_version"])


def score_image(sample: Sample, engine: OcrEngine, params: PipelineParams | None
                ) -> ImageScore:
    """Preprocess one image (None: use it as it is, in gray), read it and score the text.

    Raises the pipeline's or the engine's errors (OcrTuneError subclasses).
    """
    image = sample.image if params is None else apply_pipeline(sample.image, params)
    started = time.perf_counter()
    text = engine.read(image)
    return ImageScore.measure(sample.name, text, sample.text,
                              ocr_seconds=time.perf_counter() - started)


def score_images(dataset: Dataset, engine: OcrEngine, params: PipelineParams | None
                 ) -> tuple[ImageScore, ...]:
    """Score every image in dataset order; raises ObjectiveError naming the image that failed.

    ``params=None`` scores the images with no preprocessing, the baseline of a before/after
    comparison.
    """
    scores = []
    for sample in dataset.samples:
        try:
            scores.append(score_image(sample, engine, params))
        except (OcrTuneError, cv2.error) as err:
            raise ObjectiveError(f"image {sample.name!r} of {dataset.folder} failed: "
                                 f"{err}") from err
    return tuple(scores)


def total_loss(scores: tuple[ImageScore, ...]) -> float:
    """The trial's loss: the sum of ``1 - similarity`` over the images."""
    return math.fsum(1.0 - score.similarity for score in scores)


class OcrObjective:
    """A loaded OCR objective: the dataset in memory and one running engine."""

    def __init__(self, spec: ObjectiveSpec, dataset: Dataset, engine: OcrEngine) -> None:
        self._spec = spec
        self.dataset = dataset
        self.engine = engine
        self._closed = False

    @property
    def spec(self) -> ObjectiveSpec:
        return self._spec

    def evaluate(self, params: JsonObject) -> TrialResult:
        """Score one trial; bad parameters or an image that fails give a FAIL result.

        Raises ObjectiveError only when the objective was closed.
        """
        if self._closed:
            raise ObjectiveError("this OCR objective was closed; load it again to evaluate")
        started = time.perf_counter()
        try:
            scores = score_images(self.dataset, self.engine, PipelineParams.from_json(params))
        except ParamsError as err:
            return TrialResult.failed(f"bad parameters: {err}", details=self._identity(),
                                      duration_s=time.perf_counter() - started)
        except ObjectiveError as err:
            return TrialResult.failed(str(err), details=self._identity(),
                                      duration_s=time.perf_counter() - started)
        details = {**self._identity(), "images": [score.to_json() for score in scores]}
        return TrialResult.from_loss(total_loss(scores), details=details,
                                     duration_s=time.perf_counter() - started)

    def _identity(self) -> dict[str, Any]:
        """What read the images: recorded with every result, failed ones too."""
        return {"engine": self.engine.name,
                "tesseract_version": self.engine.tesseract_version,
                "fingerprint": self.dataset.fingerprint}

    def close(self) -> None:
        self._closed = True
        self.engine.close()


@dataclass(frozen=True)
class OcrObjectiveKind:
    """The OCR objective as the registry in ``shared.objective`` knows it."""

    name: str = OBJECTIVE_NAME
    version: str = OBJECTIVE_VERSION

    @property
    def space_version(self) -> str:
        return SPACE_VERSION

    # The space needs hyperopt (about 90 MB resident with what it imports); only the
    # coordinator uses it, so workers never load it.
    def space(self) -> Any:
        from shared.space import build_space  # noqa: PLC0415

        return build_space()

    def plain_params(self, sample: Mapping[str, Any]) -> JsonObject:
        from shared.space import plain_params  # noqa: PLC0415

        return plain_params(sample)

    def load(self, spec: ObjectiveSpec, *, data_dir_override: Path | None = None
             ) -> OcrObjective:
        """Read the spec's dataset and start its engine; ObjectiveError if it cannot here.

        ``data_dir_override`` is the same dataset mounted elsewhere; its fingerprint must
        match the spec's.
        """
        check_compatible(spec)
        settings = OcrSettings.from_json(spec.settings)
        # OpenCV's threads are the evaluation process's to set (worker.evaluator): loading
        # here, in `coordinator best` or a benchmark, leaves them as the process has them.
        dataset = _matching_dataset(data_dir_override or settings.data_dir, spec.fingerprint,
                                    overridden=data_dir_override is not None)
        try:
            engine = make_engine(settings.engine, settings.lang)
        except OcrTuneError as err:
            raise ObjectiveError(f"cannot start the OCR engine here: {err}") from err
        if engine.tesseract_version != settings.tesseract_version:
            # Not refused: a fleet rarely has one Tesseract build everywhere. Each result
            # records the version that read it, so mixed runs can be told apart.
            logger.warning("Tesseract here is %s but the experiment was set up with %s; "
                           "the same parameters may score slightly differently.",
                           engine.tesseract_version, settings.tesseract_version)
        return OcrObjective(spec, dataset, engine)


def _matching_dataset(folder: Path, fingerprint: str, *, overridden: bool) -> Dataset:
    try:
        dataset = load_dataset(folder)
    except OcrTuneError as err:
        hint = ("" if overridden or folder.is_dir() else
                "; if the dataset is elsewhere on this machine, point --data-dir at it")
        raise ObjectiveError(f"cannot load the experiment's dataset here: {err}{hint}"
                             ) from err
    if dataset.fingerprint != fingerprint:
        raise ObjectiveError(f"the dataset in {dataset.folder} has fingerprint "
                             f"{dataset.fingerprint}, but the experiment's has {fingerprint}: "
                             "its files differ. Point this worker at a copy of the "
                             "experiment's dataset, or start a new experiment for this one")
    return dataset


def ocr_spec(data_dir: Path, engine: str = DEFAULT_ENGINE, lang: str = DEFAULT_LANG
             ) -> ObjectiveSpec:
    """Describe an OCR experiment on the dataset in ``data_dir``, for the coordinator.

    Reads the dataset (for its fingerprint) and starts the engine once (for its Tesseract
    version, and to fail now rather than on every worker). Raises DatasetError,
    OcrEngineError or ConfigError.
    """
    dataset = load_dataset(data_dir)
    with make_engine(engine, lang) as ocr:
        version = ocr.tesseract_version
    settings = OcrSettings(dataset.folder, engine, lang, version)
    return ObjectiveSpec(name=OBJECTIVE_NAME, version=OBJECTIVE_VERSION,
                         space_version=SPACE_VERSION, fingerprint=dataset.fingerprint,
                         settings=settings.to_json())


OCR_OBJECTIVE = OcrObjectiveKind()

# Checked by mypy: the kind and what it loads satisfy the registry's protocols.
_KIND_CHECK: ObjectiveKind = OCR_OBJECTIVE
_OBJECTIVE_CHECK: type[Objective] = OcrObjective
