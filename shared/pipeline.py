"""The OCR preprocessing steps: pure functions on grayscale images, and the pipeline of them.

Every step takes a 2-D ``uint8`` array (0 black, 255 white; text dark on a light page),
returns a new array of the same kind and never changes its input. Parameters are
keyword-only and checked before any work against the bounds in ``shared.params``; a bad one
raises ``ParamsError`` naming the value and the allowed range. An image that is not a
non-empty 2-D ``uint8`` array raises ``DatasetError``; ``to_grayscale`` makes one from a
colour image. OpenCV's own failures are wrapped in ``DatasetError`` too.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TypeAlias

import cv2
import numpy as np
import numpy.typing as npt

from shared.errors import DatasetError, ParamsError
from shared.params import (
    MORPH_KERNEL_PX,
    BinariseParams,
    DenoiseParams,
    PipelineParams,
    ResizeParams,
    ThresholdMethod,
)

logger = logging.getLogger(__name__)

GrayImage: TypeAlias = npt.NDArray[np.uint8]

# Which connected components count as glyphs when estimating their height. Below 4 px
# nothing is legible and camera noise dominates; page edges, gutter shadows and rules are
# far taller than a line (> 0.8 of the image), wider than a few merged letters (> 4 times
# their height) or more slender than an "l" or a "|" (> 10 times taller than wide).
MIN_GLYPH_HEIGHT_PX = 4
MIN_GLYPH_AREA_PX = 6
MAX_GLYPH_HEIGHT_FRACTION = 0.8
MAX_GLYPH_WIDTH_TO_HEIGHT = 4.0
MAX_GLYPH_HEIGHT_TO_WIDTH = 10.0
MIN_GLYPH_COUNT = 3  # fewer glyph-like components is no text to measure

# Bounds of the resize step, whatever the estimate and the target. Enlarging more than 8
# times only magnifies blur; shrinking more than 16 times leaves nothing legible.
# Tesseract's and non-local means' time grow with the pixel count, so the output is capped
# at 16 megapixels, a 12-megapixel phone photo with some headroom.
MIN_SCALE = 1 / 16
MAX_SCALE = 8.0
MAX_OUTPUT_PIXELS = 16_000_000

# OpenCV's non-local means gives no weight to a patch whose weight is below 0.001 of an
# identical patch's (WEIGHT_THRESHOLD in its fast_nlmeans_denoising_invoker_commons.hpp).
# A shortcut that relies on it claims only weights under half of that, so that OpenCV's
# rounding of its fixed-point weights cannot matter; tests check the claim against OpenCV.
NLMEANS_WEIGHT_FLOOR = 0.001
NLMEANS_SAFETY_FACTOR = 0.5

_ADAPTIVE_METHODS = {
    ThresholdMethod.GAUSSIAN: cv2.ADAPTIVE_THRESH_GAUSSIAN_C,
    ThresholdMethod.MEAN: cv2.ADAPTIVE_THRESH_MEAN_C,
}


def to_grayscale(image: npt.NDArray[np.uint8]) -> GrayImage:
    """A grayscale copy of a 2-D, single-channel, BGR or BGRA ``uint8`` image."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.size == 0:
        raise DatasetError(f"cannot convert {_describe(image)} to grayscale: expected a "
                           "non-empty uint8 array, as cv2.imread returns")
    if image.ndim == 2:
        return image.copy()
    channels = image.shape[2] if image.ndim == 3 else 0
    if channels == 1:
        return image[:, :, 0].copy()
    if channels in (3, 4):
        code = cv2.COLOR_BGR2GRAY if channels == 3 else cv2.COLOR_BGRA2GRAY
        return _opencv("grayscale conversion", cv2.cvtColor, image, code)
    raise DatasetError(f"cannot convert {_describe(image)} to grayscale: expected 2-D, or "
                       "3-D with 1, 3 (BGR) or 4 (BGRA) channels")


def estimate_glyph_height(gray: GrayImage) -> float | None:
    """The median height in pixels of the glyph-like components, or None if there are none.

    The image is split into ink and paper with Otsu's threshold; every connected blob of
    ink that is plausibly a glyph (see the ``*_GLYPH_*`` bounds) counts. Letters that blur
    into one blob count once, with the height of the tallest of them.
    """
    _check_image(gray)
    _, ink = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    if np.count_nonzero(ink) > ink.size // 2:
        # More "ink" than paper means light text on a dark background: swap them.
        ink = cv2.bitwise_not(ink)
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    heights = _glyph_heights(np.asarray(stats[1:]), image_height=gray.shape[0])
    if heights.size < MIN_GLYPH_COUNT:
        return None
    return float(np.median(heights))


def _glyph_heights(stats: npt.NDArray[np.int32], *, image_height: int) -> npt.NDArray[np.int32]:
    """Heights of the components (rows of connectedComponentsWithStats) shaped like glyphs."""
    width = stats[:, cv2.CC_STAT_WIDTH]
    height = stats[:, cv2.CC_STAT_HEIGHT]
    glyph_like = (
        (height >= MIN_GLYPH_HEIGHT_PX)
        & (stats[:, cv2.CC_STAT_AREA] >= MIN_GLYPH_AREA_PX)
        & (height <= MAX_GLYPH_HEIGHT_FRACTION * image_height)
        & (width <= MAX_GLYPH_WIDTH_TO_HEIGHT * height)
        & (height <= MAX_GLYPH_HEIGHT_TO_WIDTH * width)
    )
    return height[glyph_like]


def resize_to_glyph_height(gray: GrayImage, *, glyph_height_px: int) -> GrayImage:
    """Scale the image so that its estimated glyph height becomes ``glyph_height_px``.

    ``glyph_height_px``: an integer in ``GLYPH_HEIGHT_PX`` (8-64). The scale factor is
    clamped to [MIN_SCALE, MAX_SCALE] and then lowered if needed so the output has at most
    MAX_OUTPUT_PIXELS; each side is at least 1 px. Without a glyph estimate the scale is 1
    (still capped). Shrinking uses area averaging, enlarging bicubic interpolation.
    """
    # Why a glyph-height target rather than the write-up's fixed output height of
    # 50-199 px: a fixed image height only suits excerpts of about three lines. A single
    # line would get huge letters and a whole paragraph tiny ones, while Tesseract reads
    # best at a certain size of letters, whatever the number of lines.
    ResizeParams(glyph_height_px=glyph_height_px)
    _check_image(gray)
    estimate = estimate_glyph_height(gray)
    scale = 1.0 if estimate is None else glyph_height_px / estimate
    scale = _bounded_scale(scale, gray.shape[0] * gray.shape[1])
    logger.debug("Glyph height estimated at %s px; scaling by %.3f to reach %s px.",
                 estimate, scale, glyph_height_px)
    if scale == 1.0:
        return gray.copy()
    size = _output_size(gray.shape[0], gray.shape[1], scale)
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC
    return _opencv("resize", cv2.resize, gray, size, interpolation=interpolation)


def _bounded_scale(scale: float, pixels: int) -> float:
    scale = min(max(scale, MIN_SCALE), MAX_SCALE)
    return min(scale, math.sqrt(MAX_OUTPUT_PIXELS / pixels))


def _output_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """OpenCV's (width, height) after scaling; rounding may not break MAX_OUTPUT_PIXELS."""
    rounded = (max(1, round(width * scale)), max(1, round(height * scale)))
    if rounded[0] * rounded[1] <= MAX_OUTPUT_PIXELS:
        return rounded
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def binarise(gray: GrayImage, *, method: ThresholdMethod, block_size: int, c: int
             ) -> GrayImage:
    """Black (0) where a pixel is darker than its neighbourhood's mean minus ``c``, else 255.

    ``method``: ``ThresholdMethod.GAUSSIAN`` (Gaussian-weighted neighbourhood) or ``MEAN``.
    ``block_size``: the neighbourhood's side, odd, in ``BLOCK_SIZE_PX`` (13-29).
    ``c``: in ``THRESHOLD_C`` (7-15); larger values turn more faint pixels white.
    Text stays dark on white.
    """
    if not isinstance(method, ThresholdMethod):
        raise ParamsError(f"binarise method={method!r} must be a ThresholdMethod: "
                          f"{', '.join(repr(m) for m in ThresholdMethod)}")
    BinariseParams(method=method, block_size=block_size, c=c)
    _check_image(gray)
    return _opencv("binarisation", cv2.adaptiveThreshold, gray, 255,
                   _ADAPTIVE_METHODS[method], cv2.THRESH_BINARY, block_size, c)


def denoise(gray: GrayImage, *, h: int, template_window: int, search_window: int
            ) -> GrayImage:
    """Non-local means denoising: each pixel becomes an average of similar-looking patches.

    ``h``: filter strength, odd, in ``DENOISE_H`` (1-9); larger removes more noise and
    more detail. ``template_window``: the patch side, odd, in ``TEMPLATE_WINDOW_PX``
    (5-15). ``search_window``: the side of the area searched for similar patches, odd, in
    ``SEARCH_WINDOW_PX`` (13-27); the run time grows with its square.
    """
    DenoiseParams(h=h, template_window=template_window, search_window=search_window)
    _check_image(gray)
    if _is_two_level(gray) and keeps_two_level_images(h=h, template_window=template_window):
        return gray.copy()  # what OpenCV would return, without its seconds of work
    return _opencv("denoising", cv2.fastNlMeansDenoising, gray, None, h=float(h),
                   templateWindowSize=template_window, searchWindowSize=search_window)


def keeps_two_level_images(*, h: int, template_window: int) -> bool:
    """Whether OpenCV's non-local means returns every black-and-white image unchanged.

    OpenCV weighs each candidate patch by ``exp(-d / h**2)``, ``d`` the patches' mean
    squared difference as its table approximates it (the sum shifted right by the next
    power of two above the patch area), and drops weights under ``NLMEANS_WEIGHT_FLOOR``.
    In an image of only 0 and 255, patches that differ at all differ by at least one
    pixel of 255. When even that weight is dropped, each pixel averages only patches
    identical to its own, which share its value: the output equals the input. It holds
    for 26 of the space's 30 (h, template) pairs, all but the strongest filters with the
    largest patches, so most binarised trials that also denoise skip the step's cost.
    """
    area = template_window * template_window
    shift = (area - 1).bit_length()
    closest = ((255 * 255) >> shift) * (1 << shift) / area
    return math.exp(-closest / (h * h)) < NLMEANS_WEIGHT_FLOOR * NLMEANS_SAFETY_FACTOR


def _is_two_level(gray: GrayImage) -> bool:
    """Only black (0) and white (255) pixels, as binarisation leaves an image."""
    return not np.any((gray != 0) & (gray != 255))


def erode(img: GrayImage, *, kernel_px: int) -> GrayImage:
    """Each pixel becomes the darkest of its ``kernel_px`` square: dark strokes thicken.

    Erosion shrinks the white background, so dark text on white grows bolder and small
    gaps in broken letters close. ``kernel_px``: 1 (leaves the image as it is) or 3.
    """
    _check_kernel("erode", kernel_px)
    _check_image(img)
    kernel = np.ones((kernel_px, kernel_px), np.uint8)
    return _opencv("erosion", cv2.erode, img, kernel)


def dilate(img: GrayImage, *, kernel_px: int) -> GrayImage:
    """Each pixel becomes the lightest of its ``kernel_px`` square: dark strokes thin.

    Dilation grows the white background, so dark text on white gets thinner, specks
    vanish and letters that touch come apart. ``kernel_px``: 1 (leaves the image as it
    is) or 3.
    """
    _check_kernel("dilate", kernel_px)
    _check_image(img)
    kernel = np.ones((kernel_px, kernel_px), np.uint8)
    return _opencv("dilation", cv2.dilate, img, kernel)


def apply_pipeline(gray: GrayImage, params: PipelineParams) -> GrayImage:
    """Resize, then binarise, denoise, erode and dilate where ``params`` asks for them.

    ``gray`` is already grayscale (see ``to_grayscale``). Steps whose parameters are None
    are skipped. The same image and parameters always give the same result.
    """
    image = resize_to_glyph_height(gray, glyph_height_px=params.resize.glyph_height_px)
    if params.binarise is not None:
        image = binarise(image, method=params.binarise.method,
                         block_size=params.binarise.block_size, c=params.binarise.c)
    if params.denoise is not None:
        image = denoise(image, h=params.denoise.h,
                        template_window=params.denoise.template_window,
                        search_window=params.denoise.search_window)
    if params.erode_kernel is not None:
        image = erode(image, kernel_px=params.erode_kernel)
    if params.dilate_kernel is not None:
        image = dilate(image, kernel_px=params.dilate_kernel)
    return image


def _check_kernel(step: str, kernel_px: int) -> None:
    if isinstance(kernel_px, bool) or kernel_px not in MORPH_KERNEL_PX:
        raise ParamsError(f"{step} kernel_px={kernel_px!r} must be one of "
                          f"{', '.join(map(str, MORPH_KERNEL_PX))}")


def _check_image(image: object) -> None:
    if (not isinstance(image, np.ndarray) or image.ndim != 2 or image.dtype != np.uint8
            or image.size == 0):
        raise DatasetError(f"cannot preprocess {_describe(image)}: expected a non-empty "
                           "2-D uint8 grayscale image; convert it with to_grayscale()")


def _describe(image: object) -> str:
    if isinstance(image, np.ndarray):
        return f"an array of shape {image.shape} and dtype {image.dtype}"
    return f"a {type(image).__name__}"


def _opencv(step: str, function: Callable[..., object], image: GrayImage, *args: object,
            **kwargs: object) -> GrayImage:
    """Run one OpenCV call; its errors become DatasetError naming the step and the image."""
    try:
        result = function(image, *args, **kwargs)
    except cv2.error as err:
        raise DatasetError(f"OpenCV failed in {step} of {_describe(image)}: {err}") from err
    return np.asarray(result, dtype=np.uint8)
