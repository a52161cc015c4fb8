"""The OCR engines, on real Tesseract: reading, refusing, and finding language data."""

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from shared.errors import ConfigError, OcrEngineError
from shared.ocr import (
    ENGINES,
    OcrEngine,
    PytesseractEngine,
    TesserocrEngine,
    check_lang,
    find_tessdata,
    install_hint,
    limit_ocr_threads,
    make_engine,
)
from shared.scoring import similarity

RenderText = Callable[[str], NDArray[np.uint8]]

# A language code reserved for local use by ISO 639, so no Tesseract data package has it.
_ABSENT_LANG = "qaa"


@pytest.fixture(params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest) -> OcrEngine:
    made = make_engine(request.param, "eng")
    request.addfinalizer(made.close)
    return made


@pytest.mark.slow
def test_each_engine_reads_a_clean_rendered_line(engine: OcrEngine,
                                                 render_text: RenderText) -> None:
    # given a large, clean line of print
    truth = "The quick brown fox jumps"

    # when an engine reads it
    text = engine.read(render_text(truth))

    # then it reads nearly all of it
    assert similarity(text, truth) > 0.8


@pytest.mark.slow
def test_each_engine_reads_two_lines_in_order(engine: OcrEngine,
                                              render_text: RenderText) -> None:
    truth = "Pack my box\nwith five dozen jugs"

    assert similarity(engine.read(render_text(truth)), truth) > 0.8


@pytest.mark.slow
def test_each_engine_records_the_tesseract_version_that_reads(engine: OcrEngine) -> None:
    assert engine.tesseract_version.split(".")[0] in {"4", "5"}
    assert engine.name in ENGINES


@pytest.mark.slow
def test_an_engine_reads_a_view_that_is_not_contiguous(engine: OcrEngine,
                                                       render_text: RenderText) -> None:
    # given a crop: a view whose rows are not adjacent in memory
    page = np.full((200, 900), 255, np.uint8)
    line = render_text("Hello world")
    page[50:50 + line.shape[0], 100:100 + line.shape[1]] = line
    crop = page[30:180, 80:]

    # then the engine reads the crop as it appears
    assert similarity(engine.read(crop), "Hello world") > 0.8


@pytest.mark.parametrize("factory", [TesserocrEngine, PytesseractEngine])
def test_a_missing_language_names_the_package_to_install(
        factory: Callable[[str], OcrEngine]) -> None:
    with pytest.raises(OcrEngineError, match=f"apt-get install tesseract-ocr "
                                             f"tesseract-ocr-{_ABSENT_LANG}"):
        factory(_ABSENT_LANG)


def test_an_unknown_engine_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="pytesseract, tesserocr"):
        make_engine("abbyy", "eng")


@pytest.mark.parametrize("lang", ["", "eng+", "../eng", "eng fra"])
def test_a_malformed_language_is_refused(lang: str) -> None:
    with pytest.raises(ConfigError, match="not a Tesseract language code"):
        check_lang(lang)


def test_install_hint_names_debian_packages_for_each_language() -> None:
    assert install_hint("eng+chi_sim") == ("apt-get install tesseract-ocr tesseract-ocr-eng "
                                           "tesseract-ocr-chi-sim")


@pytest.mark.parametrize("image", [np.zeros((10, 10, 3), np.uint8),
                                   np.zeros((10, 10), np.float32),
                                   np.zeros((0, 10), np.uint8)])
def test_an_image_that_is_not_2d_uint8_is_refused(engine: OcrEngine,
                                                  image: NDArray[np.generic]) -> None:
    with pytest.raises(OcrEngineError, match="non-empty 2-D uint8"):
        engine.read(image)  # type: ignore[arg-type]


def test_a_closed_engine_refuses_to_read(engine: OcrEngine) -> None:
    # given a closed engine
    engine.close()

    # then reading says so, and closing again is harmless
    with pytest.raises(OcrEngineError, match="closed"):
        engine.read(np.full((20, 20), 255, np.uint8))
    engine.close()


def test_limit_ocr_threads_sets_one_thread_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)

    assert limit_ocr_threads() == "1"
    assert os.environ["OMP_THREAD_LIMIT"] == "1"


def test_limit_ocr_threads_keeps_a_limit_already_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_THREAD_LIMIT", "2")

    assert limit_ocr_threads() == "2"


@pytest.mark.parametrize("under", ["", "tessdata"])
def test_tessdata_prefix_is_searched_first_as_the_folder_or_its_parent(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, under: str) -> None:
    # given language data only under TESSDATA_PREFIX
    data = tmp_path / under
    data.mkdir(exist_ok=True)
    (data / f"{_ABSENT_LANG}.traineddata").write_bytes(b"")
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))

    # then that folder is found
    assert find_tessdata(_ABSENT_LANG) == data


def test_a_configured_tessdata_folder_is_the_only_one_searched(tmp_path: Path) -> None:
    # given a configured folder without eng, while Debian's folder has it
    with pytest.raises(OcrEngineError, match=str(tmp_path)):
        find_tessdata("eng", tmp_path)
