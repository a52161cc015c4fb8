"""Invariants of the preprocessing steps, on tiny synthetic pages of known glyph size."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from shared import pipeline
from shared.errors import DatasetError, ParamsError
from shared.params import (
    DENOISE_H,
    SEARCH_WINDOW_PX,
    TEMPLATE_WINDOW_PX,
    BinariseParams,
    DenoiseParams,
    PipelineParams,
    ResizeParams,
    ThresholdMethod,
)
from shared.pipeline import (
    apply_pipeline,
    binarise,
    denoise,
    dilate,
    erode,
    estimate_glyph_height,
    resize_to_glyph_height,
    to_grayscale,
)

Gray = npt.NDArray[np.uint8]

FULL_PARAMS = PipelineParams(
    resize=ResizeParams(glyph_height_px=24),
    binarise=BinariseParams(ThresholdMethod.GAUSSIAN, block_size=15, c=9),
    denoise=DenoiseParams(h=3, template_window=7, search_window=21),
    erode_kernel=3,
    dilate_kernel=3,
)


def blocks_page(glyph_px: int, *, rows: int = 3, columns: int = 12) -> Gray:
    """White page with rows of dark rectangles ``glyph_px`` tall, a stand-in for letters."""
    width = max(2, glyph_px // 2)
    page = np.full((rows * glyph_px * 2 + glyph_px, columns * width * 2 + width), 245,
                   np.uint8)
    for row in range(rows):
        for column in range(columns):
            top, left = glyph_px + row * glyph_px * 2, width + column * width * 2
            page[top:top + glyph_px, left:left + width] = 30
    return page


def text_page() -> Gray:
    """White page with two lines of real (Hershey-font) text."""
    page = np.full((80, 260), 250, np.uint8)
    for line, text in enumerate(("Dress, clean and cut", "up a fowl. Put in a")):
        cv2.putText(page, text, (8, 30 + 32 * line), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 20, 2)
    return page


def dark_pixels(image: Gray) -> int:
    return int(np.count_nonzero(image < 128))


# -- glyph height -------------------------------------------------------------------------


@pytest.mark.parametrize("glyph_px", [6, 12, 30])
def test_glyph_height_of_a_page_of_blocks_is_the_height_of_the_blocks(glyph_px: int) -> None:
    # given a page of dark blocks of known height
    page = blocks_page(glyph_px)

    # when its glyph height is estimated
    estimate = estimate_glyph_height(page)

    # then it is that height
    assert estimate == pytest.approx(glyph_px)


def clutter_panel(kind: str, height: int) -> Gray:
    """A panel of many non-glyphs of one kind, enough to move a median if they counted."""
    panel = np.full((height, 1500), 245, np.uint8)
    if kind == "specks":
        panel[::8, ::8] = 0
    elif kind == "rules":  # 6 px tall, 10 times as wide
        for top in range(4, height - 6, 12):
            for left in range(10, 1440, 80):
                panel[top:top + 6, left:left + 60] = 0
    elif kind == "slivers":  # 60 px tall, 2 px wide
        for left in range(5, 1500, 6):
            panel[10:70, left:left + 2] = 0
    elif kind == "page edges":  # as tall as the image
        for left in range(5, 1490, 30):
            panel[:, left:left + 10] = 0
    return panel


@pytest.mark.parametrize("kind", ["specks", "rules", "slivers", "page edges"])
def test_glyph_height_ignores_what_is_not_shaped_like_a_glyph(kind: str) -> None:
    # given a page of 12-px blocks beside more specks, rules, slivers or edges than blocks
    blocks = blocks_page(12)
    page = np.hstack([blocks, clutter_panel(kind, blocks.shape[0])])

    # when its glyph height is estimated
    estimate = estimate_glyph_height(page)

    # then only the blocks count
    assert estimate == pytest.approx(12)


def test_glyph_height_is_measured_on_light_text_on_a_dark_background_too() -> None:
    # given white blocks on a black page
    page = 255 - blocks_page(12)

    # when its glyph height is estimated
    estimate = estimate_glyph_height(page)

    # then the blocks are measured, not the gaps between them
    assert estimate == pytest.approx(12)


@pytest.mark.parametrize("fill", [0, 128, 255])
def test_glyph_height_of_a_blank_page_is_unknown(fill: int) -> None:
    assert estimate_glyph_height(np.full((50, 80), fill, np.uint8)) is None


# -- resize -------------------------------------------------------------------------------


@pytest.mark.parametrize(("glyph_px", "target_px"), [(10, 8), (10, 40), (30, 20), (12, 40)])
def test_resize_brings_the_glyphs_to_the_target_height(glyph_px: int, target_px: int) -> None:
    # given a page of blocks of known height
    page = blocks_page(glyph_px)

    # when it is resized to a target glyph height
    resized = resize_to_glyph_height(page, glyph_height_px=target_px)

    # then its glyphs are that tall, give or take a pixel of interpolation
    assert resized.dtype == np.uint8
    assert resized.ndim == 2
    assert estimate_glyph_height(resized) == pytest.approx(target_px, abs=1.5)


def test_resize_leaves_a_page_without_glyphs_at_its_size() -> None:
    # given a blank page
    page = np.full((40, 60), 240, np.uint8)

    # when it is resized
    resized = resize_to_glyph_height(page, glyph_height_px=40)

    # then it is an unchanged copy
    assert np.array_equal(resized, page)
    assert resized is not page


def test_resize_enlarges_at_most_by_the_maximum_scale() -> None:
    # given glyphs so small that the target needs a 16-fold enlargement
    page = blocks_page(4, rows=2, columns=4)

    # when it is resized
    resized = resize_to_glyph_height(page, glyph_height_px=40)

    # then the scale stops at MAX_SCALE
    scale = int(pipeline.MAX_SCALE)
    assert resized.shape == (page.shape[0] * scale, page.shape[1] * scale)


def test_resize_never_outputs_more_than_the_maximum_pixel_count() -> None:
    # given a large page of small glyphs whose target size would exceed the pixel cap
    page = np.tile(blocks_page(5, rows=4, columns=8), (6, 20))

    # when it is resized to the largest glyph height
    resized = resize_to_glyph_height(page, glyph_height_px=40)

    # then it is enlarged, but only up to the cap
    assert resized.shape[0] > page.shape[0]
    assert resized.size <= pipeline.MAX_OUTPUT_PIXELS


# -- binarise, denoise, erode, dilate -----------------------------------------------------


@pytest.mark.parametrize("method", list(ThresholdMethod))
def test_binarise_gives_black_text_on_white(method: ThresholdMethod) -> None:
    # given text on a page that darkens from left to right, as under a lamp
    page = text_page()
    page = (page * np.linspace(1.0, 0.6, page.shape[1])).astype(np.uint8)

    # when it is binarised
    binary = binarise(page, method=method, block_size=21, c=9)

    # then it holds only black and white, the text black and the paper white
    assert binary.shape == page.shape
    assert set(np.unique(binary)) <= {0, 255}
    assert dark_pixels(binary) == pytest.approx(dark_pixels(text_page()), rel=0.3)
    assert binary[2, -2] == 255


def test_denoise_smooths_noisy_paper() -> None:
    # given flat paper with camera noise
    rng = np.random.default_rng(0)
    paper = np.clip(rng.normal(200, 12, (40, 60)), 0, 255).astype(np.uint8)

    # when it is denoised
    smooth = denoise(paper, h=9, template_window=7, search_window=21)

    # then it has the same shape and less variation
    assert smooth.shape == paper.shape
    assert smooth.dtype == np.uint8
    assert smooth.std() < paper.std() / 2


def _odd_values(bounds: tuple[int, int]) -> list[int]:
    return list(range(bounds[0] | 1, bounds[1] + 1, 2))


def _noisy_black_and_white(seed: int) -> Gray:
    """Binarised text with specks: many patches that differ by a single pixel."""
    binary = binarise(text_page(), method=ThresholdMethod.MEAN, block_size=15, c=9)
    specks = np.random.default_rng(seed).random(binary.shape) < 0.01
    return np.where(specks, 255 - binary, binary).astype(np.uint8)


@pytest.mark.parametrize("h", _odd_values(DENOISE_H))
@pytest.mark.parametrize("template_window", _odd_values(TEMPLATE_WINDOW_PX))
def test_denoise_of_a_black_and_white_image_is_what_opencv_gives(
        h: int, template_window: int) -> None:
    # given a binarised page with isolated flipped pixels
    image = _noisy_black_and_white(seed=h * 100 + template_window)
    search_window = SEARCH_WINDOW_PX[1]

    # when it is denoised, with or without the shortcut for two-level images
    ours = denoise(image, h=h, template_window=template_window, search_window=search_window)
    opencv = cv2.fastNlMeansDenoising(image, None, h=float(h),
                                      templateWindowSize=template_window,
                                      searchWindowSize=search_window)

    # then the two agree pixel for pixel, and the shortcut is only claimed where OpenCV
    # leaves the image as it is
    assert np.array_equal(ours, opencv)
    if pipeline.keeps_two_level_images(h=h, template_window=template_window):
        assert np.array_equal(opencv, image)


def test_the_denoise_shortcut_covers_all_but_the_strongest_large_patch_filters() -> None:
    # given every (h, template window) pair of the search space
    pairs = [(h, t) for h in _odd_values(DENOISE_H) for t in _odd_values(TEMPLATE_WINDOW_PX)]

    # when asked which leave black-and-white images unchanged
    kept = [pair for pair in pairs
            if not pipeline.keeps_two_level_images(h=pair[0], template_window=pair[1])]

    # then only the strong filters with large patches change them
    assert kept == [(7, 15), (9, 11), (9, 13), (9, 15)]


def test_denoise_still_filters_a_gray_image_with_only_two_levels_nearby() -> None:
    # given a gray page (not only 0 and 255) with the same specks
    image = np.clip(_noisy_black_and_white(seed=1).astype(np.int16) // 2 + 60, 0, 255
                    ).astype(np.uint8)

    # when it is denoised with parameters that keep black-and-white images
    smooth = denoise(image, h=9, template_window=5, search_window=21)

    # then OpenCV ran: the result is its result
    expected = cv2.fastNlMeansDenoising(image, None, h=9.0, templateWindowSize=5,
                                        searchWindowSize=21)
    assert np.array_equal(smooth, expected)


def test_erode_thickens_dark_strokes_and_dilate_thins_them() -> None:
    # given a binarised text page
    page = binarise(text_page(), method=ThresholdMethod.MEAN, block_size=21, c=9)

    # when it is eroded and dilated with a 3-px kernel
    eroded = erode(page, kernel_px=3)
    dilated = dilate(page, kernel_px=3)

    # then erosion adds dark pixels and dilation removes some
    assert dark_pixels(eroded) > dark_pixels(page) > dark_pixels(dilated)


@pytest.mark.parametrize("step", [erode, dilate])
def test_a_one_pixel_kernel_leaves_the_image_as_it_is(step: Any) -> None:
    page = text_page()
    assert np.array_equal(step(page, kernel_px=1), page)


# -- the pipeline -------------------------------------------------------------------------


def test_pipeline_outputs_a_grayscale_image_and_leaves_its_input_alone() -> None:
    # given a text page
    page = text_page()
    before = page.copy()

    # when every step runs on it
    result = apply_pipeline(page, FULL_PARAMS)

    # then the result is a non-empty uint8 image and the input is unchanged
    assert result.ndim == 2
    assert result.dtype == np.uint8
    assert result.size > 0
    assert np.array_equal(page, before)


def test_pipeline_gives_the_same_image_for_the_same_parameters() -> None:
    page = text_page()
    assert np.array_equal(apply_pipeline(page, FULL_PARAMS), apply_pipeline(page, FULL_PARAMS))


def test_pipeline_with_only_resize_is_the_resize_step() -> None:
    # given parameters that skip every optional step
    params = PipelineParams(resize=ResizeParams(glyph_height_px=30))

    # when the pipeline runs
    result = apply_pipeline(text_page(), params)

    # then only the resize happened: the image is not black and white
    assert np.array_equal(result, resize_to_glyph_height(text_page(), glyph_height_px=30))
    assert len(np.unique(result)) > 2


def test_pipeline_with_binarise_alone_is_black_and_white() -> None:
    params = PipelineParams(resize=ResizeParams(glyph_height_px=20),
                            binarise=BinariseParams(ThresholdMethod.MEAN, 13, 7))
    assert set(np.unique(apply_pipeline(text_page(), params))) == {0, 255}


# -- checks -------------------------------------------------------------------------------


@pytest.mark.parametrize(("step", "kwargs", "shown"), [
    (resize_to_glyph_height, {"glyph_height_px": 7}, "7"),
    (resize_to_glyph_height, {"glyph_height_px": 65}, "65"),
    (binarise, {"method": ThresholdMethod.MEAN, "block_size": 14, "c": 9}, "14"),
    (binarise, {"method": ThresholdMethod.MEAN, "block_size": 31, "c": 9}, "31"),
    (binarise, {"method": ThresholdMethod.MEAN, "block_size": 15, "c": 6}, "6"),
    (binarise, {"method": "gaussian", "block_size": 15, "c": 9}, "gaussian"),
    (denoise, {"h": 4, "template_window": 7, "search_window": 21}, "4"),
    (denoise, {"h": 3, "template_window": 17, "search_window": 21}, "17"),
    (denoise, {"h": 3, "template_window": 7, "search_window": 11}, "11"),
    (erode, {"kernel_px": 5}, "5"),
    (dilate, {"kernel_px": 2}, "2"),
])
def test_a_parameter_out_of_range_is_refused_naming_its_value(
        step: Any, kwargs: dict[str, Any], shown: str) -> None:
    with pytest.raises(ParamsError, match=shown):
        step(text_page(), **kwargs)


def test_parameters_are_checked_before_the_image() -> None:
    # given a bad parameter and an unusable image, the parameter is reported
    with pytest.raises(ParamsError, match="12"):
        binarise(np.zeros((0, 0), np.uint8), method=ThresholdMethod.MEAN, block_size=12, c=9)


@pytest.mark.parametrize("image", [
    np.zeros((0, 5), np.uint8),
    np.zeros((5, 5, 3), np.uint8),
    np.zeros((5, 5), np.float32),
])
def test_an_image_that_is_not_grayscale_uint8_is_refused(image: Any) -> None:
    with pytest.raises(DatasetError, match="to_grayscale"):
        erode(image, kernel_px=3)


# -- grayscale ----------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [None, 1, 3, 4])
def test_to_grayscale_accepts_gray_bgr_and_bgra(channels: int | None) -> None:
    # given a page with 0, 1, 3 or 4 channels
    gray = text_page()
    image = gray if channels is None else np.repeat(gray[:, :, np.newaxis], channels, axis=2)

    # when it is converted, then the gray page comes back, as a new array
    converted = to_grayscale(image)
    assert np.array_equal(converted, gray)
    assert converted is not image


@pytest.mark.parametrize("image", [
    np.zeros((5, 5, 2), np.uint8),
    np.zeros((5, 5), np.float64),
    np.zeros((0, 5, 3), np.uint8),
])
def test_to_grayscale_refuses_what_it_cannot_convert(image: Any) -> None:
    with pytest.raises(DatasetError, match="shape"):
        to_grayscale(image)
