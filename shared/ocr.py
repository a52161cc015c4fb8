"""OCR engines: one interface, two ways to run Tesseract on a grayscale image.

``TesserocrEngine`` (the default) keeps one Tesseract instance in the process and hands it
the image's pixels directly. ``PytesseractEngine`` runs the ``tesseract`` command per image,
as the write-up did. Both read with page segmentation mode 6 (one uniform block of text).

Threads: each worker's OCR uses one thread. Tesseract parallelises with OpenMP, and with
several workers on one machine its threads fight over the cores (on 2 cores under load, a
pass over the photo set took 35 s instead of 8 s). ``limit_ocr_threads`` sets
``OMP_THREAD_LIMIT=1`` unless the environment already sets it; the engines call it before
Tesseract starts. The ``tesseract`` command inherits it from the process environment; an
in-process Tesseract built with OpenMP reads it only when its library is loaded, so it must
be set before tesserocr is imported (the tesserocr wheel on PyPI is built without OpenMP
and runs one thread anyway).

An engine is not thread-safe: use one per worker process.
"""

from __future__ import annotations

import abc
import logging
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray

from shared.errors import ConfigError, OcrEngineError

logger = logging.getLogger(__name__)

DEFAULT_ENGINE = "tesserocr"
DEFAULT_LANG = "eng"

# Tesseract's page segmentation mode 6: assume a single uniform block of text. The
# write-up read its crops with `--psm 6`; the default (3, automatic layout) drops or
# reorders lines of short crops.
PAGE_SEGMENTATION_MODE = 6

# Where Debian's tesseract-ocr-LANG packages put the language data (Tesseract 5, then 4).
DEBIAN_TESSDATA_DIRS = (
    Path("/usr/share/tesseract-ocr/5/tessdata"),
    Path("/usr/share/tesseract-ocr/4.00/tessdata"),
)

GrayImage = NDArray[np.uint8]

# One or more Tesseract language codes ("eng", "chi_sim", "script/Latin") joined by "+".
_LANG_PATTERN = re.compile(r"[A-Za-z0-9_/-]+(\+[A-Za-z0-9_/-]+)*")


class OcrEngine(abc.ABC):
    """Reads the text in a grayscale image with Tesseract.

    ``name`` is what ``make_engine`` calls it; ``tesseract_version`` is the version of the
    Tesseract that actually reads, recorded with every trial because versions read
    differently.
    """

    name: ClassVar[str]
    lang: str
    tesseract_version: str

    @abc.abstractmethod
    def read(self, gray: GrayImage) -> str:
        """The text in a 2-D uint8 image; raises OcrEngineError if recognition fails."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release Tesseract; reading afterwards raises OcrEngineError."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def limit_ocr_threads() -> str:
    """Set ``OMP_THREAD_LIMIT=1`` unless already set; returns the limit in force."""
    if "OMP_THREAD_LIMIT" not in os.environ:
        if "tesserocr" in sys.modules:
            logger.warning("OMP_THREAD_LIMIT was set after tesserocr was imported; an "
                           "OpenMP build of Tesseract will ignore it and use every core. "
                           "Set OMP_THREAD_LIMIT=1 in the worker's environment.")
        os.environ["OMP_THREAD_LIMIT"] = "1"
    return os.environ["OMP_THREAD_LIMIT"]


def install_hint(lang: str) -> str:
    """The Debian command that installs Tesseract with the data for ``lang`` ("eng+deu")."""
    packages = [f"tesseract-ocr-{code.lower().replace('_', '-')}" for code in _codes(lang)]
    return f"apt-get install tesseract-ocr {' '.join(packages)}"


def _codes(lang: str) -> list[str]:
    return [code for code in lang.split("+") if code]


def check_lang(lang: str) -> str:
    """``lang`` if it is Tesseract language codes joined by "+"; else ConfigError."""
    if not _LANG_PATTERN.fullmatch(lang):
        raise ConfigError(f"OCR language {lang!r} is not a Tesseract language code; use "
                          "codes such as 'eng', 'deu' or 'eng+fra' (see `tesseract "
                          "--list-langs`)")
    return lang


def find_tessdata(lang: str, configured: Path | None = None) -> Path:
    """The folder holding every ``LANG.traineddata`` that ``lang`` needs.

    Searched: ``configured`` alone if given; else ``$TESSDATA_PREFIX`` (the tessdata folder
    or its parent), then Debian's folders. Raises OcrEngineError saying what to install.
    """
    for folder in _tessdata_candidates(configured):
        if all((folder / f"{code}.traineddata").is_file() for code in _codes(lang)):
            return folder
    searched = ", ".join(str(folder) for folder in _tessdata_candidates(configured))
    raise OcrEngineError(f"no Tesseract language data for {lang!r} in {searched}; install "
                         f"it with `{install_hint(lang)}`, or point TESSDATA_PREFIX at the "
                         "folder that holds its .traineddata files")


def _tessdata_candidates(configured: Path | None) -> Iterable[Path]:
    if configured is not None:
        return (configured,)
    prefix = os.environ.get("TESSDATA_PREFIX")
    from_env = (Path(prefix), Path(prefix) / "tessdata") if prefix else ()
    return (*from_env, *DEBIAN_TESSDATA_DIRS)


def _check_image(gray: object) -> GrayImage:
    if (not isinstance(gray, np.ndarray) or gray.ndim != 2 or gray.dtype != np.uint8
            or gray.size == 0):
        described = (f"an array of shape {gray.shape} and dtype {gray.dtype}"
                     if isinstance(gray, np.ndarray) else f"a {type(gray).__name__}")
        raise OcrEngineError(f"cannot read {described}: OCR takes a non-empty 2-D uint8 "
                             "grayscale image")
    return np.ascontiguousarray(gray)


class TesserocrEngine(OcrEngine):
    """Tesseract in this process through tesserocr: one instance, created once, reused."""

    name = "tesserocr"

    def __init__(self, lang: str = DEFAULT_LANG, tessdata: Path | None = None) -> None:
        limit_ocr_threads()
        self.lang = check_lang(lang)
        self.tessdata = find_tessdata(lang, tessdata)
        self._api = _start_tesserocr(self.tessdata, lang)
        self.tesseract_version = str(self._api.Version())
        self._closed = False
        logger.info("Started Tesseract %s in-process (tesserocr) for %s with data in %s.",
                    self.tesseract_version, lang, self.tessdata)

    def read(self, gray: GrayImage) -> str:
        if self._closed:
            raise OcrEngineError("this tesserocr engine was closed; make a new one")
        image = _check_image(gray)
        height, width = image.shape
        try:
            # Pixels go straight from the array: 1 byte per pixel, rows of `width` bytes.
            self._api.SetImageBytes(image.tobytes(), width, height, 1, width)
            text = self._api.GetUTF8Text()
        except RuntimeError as err:
            raise OcrEngineError(f"Tesseract failed to read a {width}x{height} image: "
                                 f"{err}") from err
        return str(text)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._api.End()


def _start_tesserocr(tessdata: Path, lang: str) -> Any:
    try:
        import tesserocr  # noqa: PLC0415 - loaded only after limit_ocr_threads()
    except ImportError as err:
        raise OcrEngineError("the tesserocr package is not installed; run `pip install "
                             "tesserocr`, or use the pytesseract engine") from err
    try:
        return tesserocr.PyTessBaseAPI(path=str(tessdata), lang=lang,
                                       psm=PAGE_SEGMENTATION_MODE)
    except RuntimeError as err:
        raise OcrEngineError(f"Tesseract could not load {lang!r} from {tessdata}: {err}; "
                             f"reinstall its data with `{install_hint(lang)}`") from err


class PytesseractEngine(OcrEngine):
    """The ``tesseract`` command, run once per image through pytesseract (the write-up's way).

    Its language data is the command's own default unless ``tessdata`` is given.
    """

    name = "pytesseract"

    def __init__(self, lang: str = DEFAULT_LANG, tessdata: Path | None = None) -> None:
        limit_ocr_threads()  # the command inherits this process's environment
        self.lang = check_lang(lang)
        self.tessdata = tessdata
        self._config = f"--psm {PAGE_SEGMENTATION_MODE}"
        if tessdata is not None:
            self._config += f" --tessdata-dir {shlex.quote(str(tessdata))}"
        self.tesseract_version = _command_version(lang)
        _check_command_languages(lang, self._config, tessdata)
        self._closed = False
        logger.info("Using the tesseract command %s (pytesseract) for %s.",
                    self.tesseract_version, lang)

    def read(self, gray: GrayImage) -> str:
        if self._closed:
            raise OcrEngineError("this pytesseract engine was closed; make a new one")
        image = _check_image(gray)
        import pytesseract  # noqa: PLC0415 - only workers that use this engine need it

        try:
            return str(pytesseract.image_to_string(image, lang=self.lang, config=self._config))
        except (pytesseract.TesseractError, OSError) as err:
            raise OcrEngineError(f"the tesseract command failed to read a "
                                 f"{image.shape[1]}x{image.shape[0]} image: {err}") from err

    def close(self) -> None:
        self._closed = True  # nothing runs between reads


def _command_version(lang: str) -> str:
    import pytesseract  # noqa: PLC0415 - only workers that use this engine need it

    try:
        return str(pytesseract.get_tesseract_version())
    except pytesseract.TesseractNotFoundError as err:
        raise OcrEngineError(f"the tesseract command is not installed or not on PATH; run "
                             f"`{install_hint(lang)}`") from err
    except SystemExit as err:
        # pytesseract exits the interpreter on a version it cannot parse or finds too old.
        raise OcrEngineError(f"the tesseract command's version is not usable ({err}); "
                             f"install Tesseract 4 or later with `{install_hint(lang)}`") from err


def _check_command_languages(lang: str, config: str, tessdata: Path | None) -> None:
    import pytesseract  # noqa: PLC0415 - only workers that use this engine need it

    try:
        installed = set(pytesseract.get_languages(config=config))
    except pytesseract.TesseractNotFoundError as err:
        raise OcrEngineError(f"the tesseract command is not installed or not on PATH; run "
                             f"`{install_hint(lang)}`") from err
    missing = [code for code in _codes(lang) if code not in installed]
    if missing:
        where = tessdata or "its default data folder"
        raise OcrEngineError(f"the tesseract command has no language data for "
                             f"{', '.join(missing)} in {where} (it has: "
                             f"{', '.join(sorted(installed)) or 'none'}); install it with "
                             f"`{install_hint(lang)}`")


ENGINES: dict[str, Callable[[str, Path | None], OcrEngine]] = {
    TesserocrEngine.name: TesserocrEngine,
    PytesseractEngine.name: PytesseractEngine,
}


def make_engine(name: str = DEFAULT_ENGINE, lang: str = DEFAULT_LANG,
                tessdata: Path | None = None) -> OcrEngine:
    """Start the engine called ``name``; raises ConfigError for an unknown name and
    OcrEngineError when Tesseract or the language data is missing."""
    engine = ENGINES.get(name)
    if engine is None:
        raise ConfigError(f"OCR engine {name!r} is unknown; choose one of "
                          f"{', '.join(sorted(ENGINES))}")
    return engine(lang, tessdata)
