"""``coordinator report``: one self-contained HTML page, checked in a real headless browser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from coordinator.report import ReportContent, build_report, render_report
from coordinator.text_diff import Change, Segment, changed_words, word_diff
from shared.store.sqlite import SqliteTrialStore
from tests.real_history import (
    EMPTY_KEY,
    EXP_KEY,
    FAILED_KEY,
    RealHistory,
    invoke,
    real_history,
)

# The page's colours (templates/report.html.j2), as OpenCV's BGR: the frame around each
# image and the backgrounds of words read instead of the truth and of words missed.
FRAME_BGR = (0x86, 0x2A, 0x5B)
READ_INSTEAD_BGR = (0xA0, 0xF0, 0xC8)
MISSED_BGR = (0xE0, 0xD0, 0xFF)
CHROMIUM_TIMEOUT_S = 120


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory) -> RealHistory:
    return real_history(tmp_path_factory)


@pytest.fixture(scope="module")
def content(real: RealHistory) -> ReportContent:
    with SqliteTrialStore(real.path) as store:
        experiment = store.get_experiment(EXP_KEY)
        trials = store.trials(EXP_KEY)
    return build_report(experiment, trials)


# -- the word diff ---------------------------------------------------------------------------


def test_a_misread_word_shows_the_true_word_missed_then_the_reading() -> None:
    segments = word_diff("the qnick brown\nfox", "the quick  brown fox")

    assert segments == [Segment(Change.SAME, "the"), Segment(Change.MISSING, "quick"),
                        Segment(Change.EXTRA, "qnick"), Segment(Change.SAME, "brown fox")]
    assert changed_words(segments) == (1, 1)


def test_identical_texts_but_for_line_breaks_have_no_differences() -> None:
    assert word_diff("a b\nc", "a  b c") == [Segment(Change.SAME, "a b c")]


def test_words_only_in_one_text_are_missing_or_extra() -> None:
    segments = word_diff("one two extra", "zero one two")

    assert segments == [Segment(Change.MISSING, "zero"), Segment(Change.SAME, "one two"),
                        Segment(Change.EXTRA, "extra")]


# -- the page --------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_page_is_self_contained_with_every_image_inlined(content: ReportContent) -> None:
    html = render_report(content)

    # The figure, and two images per sample image, all as data URIs
    assert html.count('src="data:image/png;base64,') == 1 + 2 * len(content.images) == 13
    # Nothing is fetched from elsewhere
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link" not in html and "<script" not in html
    assert "<del>" in html and "<ins>" in html


@pytest.mark.slow
def test_texts_are_escaped_so_markup_in_them_shows_as_text(content: ReportContent) -> None:
    # Given an image whose true text and OCR text hold markup
    first = content.images[0]
    hostile = replace(first, truth="<b>bold</b> & co",
                      segments=(Segment(Change.MISSING, "<script>alert(1)</script>"),))

    # When the page is rendered
    html = render_report(replace(content, images=(hostile,)))

    # Then the markup arrives as text
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in html
    assert "<del>&lt;script&gt;alert(1)&lt;/script&gt;</del>" in html
    assert "<script>" not in html


@pytest.mark.slow
def test_the_report_reads_the_best_trial_again_with_the_same_scores(
        content: ReportContent, real: RealHistory) -> None:
    assert content.tuned.tid == 3
    assert content.loss_best == pytest.approx(real.results[3].loss)
    assert content.loss_raw > content.loss_best


# -- the command, and the page in a browser ---------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("exp_key", "reason"), [
    (FAILED_KEY, "every one of the 2 trials"), (EMPTY_KEY, "has no trials yet"),
    ("nope", "no experiment 'nope'")])
def test_report_of_an_experiment_without_results_is_an_error_and_writes_nothing(
        real: RealHistory, tmp_path: Path, exp_key: str, reason: str) -> None:
    out = tmp_path / "report.html"

    result = invoke("report", "--history", real.path, "--exp-key", exp_key, "--out", out)

    assert result.exit_code == 1
    assert reason in result.output
    assert not out.exists()


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no chromium on PATH: install Debian's with `apt-get install chromium` to "
                "check the report in a real browser")


def screenshot(page: Path, out: Path, *, width: int, height: int) -> NDArray[np.uint8]:
    """The page as headless Chromium draws it, as a BGR image."""
    command = [chromium(), "--headless", "--disable-gpu", "--hide-scrollbars",
               f"--screenshot={out}", f"--window-size={width},{height}",
               page.resolve().as_uri()]
    if os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with one
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          timeout=CHROMIUM_TIMEOUT_S)
    image = cv2.imread(str(out))
    assert image is not None, f"Chromium made no screenshot: {done.stderr[-2000:]}"
    return np.asarray(image, np.uint8)


def pixels_near(image: NDArray[np.uint8], bgr: tuple[int, int, int]) -> NDArray[np.bool_]:
    distance = np.abs(image.astype(int) - np.asarray(bgr)).max(axis=2)
    return np.asarray(distance <= 3)


def framed_images(image: NDArray[np.uint8]) -> list[NDArray[np.uint8]]:
    """What lies inside each frame of the page's image colour big enough to be an image."""
    mask = pixels_near(image, FRAME_BGR).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    inside = []
    for x, y, w, h, _ in stats[1:count]:
        if w >= 200 and h >= 60:
            inside.append(image[y + 4:y + h - 4, x + 4:x + w - 4])
    return inside


@pytest.mark.slow
@pytest.mark.browser
def test_the_report_shows_the_images_and_the_marked_differences_in_chromium(
        real: RealHistory, tmp_path: Path) -> None:
    # Given the report of the real history
    page = tmp_path / "report.html"
    result = invoke("report", "--history", real.path, "--exp-key", EXP_KEY, "--out", page)
    assert result.exit_code == 0, result.output

    # When headless Chromium draws it
    shot = screenshot(page, tmp_path / "shot.png", width=1280, height=3000)

    # Then the page is not blank
    assert shot.std() > 20
    # And images fill their frames: at least the first two pairs are on screen, each
    # frame holding a picture (many grey levels), not a broken-image icon
    images = framed_images(shot)
    assert len(images) >= 4
    for inside in images:
        assert inside.std() > 15
        assert len(np.unique(inside)) > 50
    # And words missed and words read instead are highlighted in their colours
    assert np.count_nonzero(pixels_near(shot, READ_INSTEAD_BGR)) > 500
    assert np.count_nonzero(pixels_near(shot, MISSED_BGR)) > 500
