"""Reading any image with tuned parameters: the search's result, put to use.

    from coordinator.apply import read_image
    from coordinator.params_file import load_params

    text = read_image(Path("receipt.jpg"), load_params(Path("best.json")))

Images are decoded in colour and converted to grayscale exactly as the dataset's were
during the search, so the same photo gets the same preprocessing it was tuned on.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from coordinator.params_file import TunedParams
from shared.dataset import MIN_IMAGE_SIDE_PX
from shared.errors import DatasetError
from shared.ocr import DEFAULT_ENGINE, DEFAULT_LANG, OcrEngine, make_engine
from shared.pipeline import GrayImage, apply_pipeline, to_grayscale

logger = logging.getLogger(__name__)


def load_gray(path: Path) -> GrayImage:
    """The image at ``path`` in grayscale; DatasetError naming the file if it is unusable."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DatasetError(f"cannot read the image {path}: {err.strerror}; check the "
                           "path") from err
    # imdecode returns None, rather than raising, for bytes it cannot decode.
    color = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if color is None:
        raise DatasetError(f"OpenCV cannot decode {path} (empty, corrupt or not an image); "
                           "give a PNG, JPEG or TIFF file")
    height, width = color.shape[:2]
    if min(height, width) < MIN_IMAGE_SIDE_PX:
        raise DatasetError(f"{path} is {width}x{height} px, too small to read; each side "
                           f"needs at least {MIN_IMAGE_SIDE_PX} px")
    return to_grayscale(np.asarray(color, dtype=np.uint8))


def preprocess(path: Path, tuned: TunedParams) -> GrayImage:
    """The image at ``path`` after the tuned pipeline; ParamsError for bad parameters."""
    return apply_pipeline(load_gray(path), tuned.pipeline())


def open_engine(tuned: TunedParams, *, engine: str | None = None, lang: str | None = None
                ) -> OcrEngine:
    """An engine for ``tuned``: the given name and language, else those the search used."""
    ocr = make_engine(engine or tuned.engine or DEFAULT_ENGINE,
                      lang or tuned.lang or DEFAULT_LANG)
    if tuned.tesseract_version and ocr.tesseract_version != tuned.tesseract_version:
        logger.warning("The parameters were tuned with Tesseract %s but this is %s; it may "
                       "read a little differently.", tuned.tesseract_version,
                       ocr.tesseract_version)
    return ocr


def read_image(path: Path, tuned: TunedParams, *, engine: OcrEngine | None = None) -> str:
    """Preprocess the image at ``path`` with ``tuned`` and return the text Tesseract reads.

    Without ``engine``, one is started for this image and closed after (the engine and
    language the parameters were tuned with); pass an open engine to read many images.
    Raises DatasetError, ParamsError or OcrEngineError naming what is wrong.
    """
    image = preprocess(path, tuned)
    if engine is not None:
        return engine.read(image)
    with open_engine(tuned) as own:
        return own.read(image)
