"""The OCR preprocessing parameters of one trial, typed, checked and plain-JSON-able.

A trial's parameters travel as plain JSON (the ``spec`` of a job document) and become a
``PipelineParams`` once, when a worker or the coordinator reads them. Every bound below is
the one the search space samples from (``shared.space``) and the one OpenCV accepts:
``from_json`` rejects anything outside, naming the field, the value and the allowed range.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from shared.errors import ParamsError
from shared.json_fields import JsonFields, check_int
from shared.jsontypes import JsonObject

# Changes whenever the space's labels, bounds or the meaning of a sample change: trials
# recorded under another version cannot seed hyperopt's history for this one. Kept here,
# beside the bounds, so that workers can check it without importing hyperopt.
SPACE_VERSION = "ocr-space-1"

# Median glyph height, in pixels, that the resize step scales each image to. Tesseract's
# documentation puts its best accuracy at an x-height of about 20 px and says it falls off
# below 10 px; its LSTM recogniser scales each text line to a fixed height anyway, so taller
# glyphs only cost time (denoising grows with the pixel count: a 64 px target made single
# trials on the sample data take 14 s). 8-40 spans too small to comfortably large.
GLYPH_HEIGHT_PX = (8, 40)
BLOCK_SIZE_PX = (13, 29)  # odd: adaptiveThreshold needs an odd neighbourhood > 1
THRESHOLD_C = (7, 15)
DENOISE_H = (1, 9)  # odd steps, as the write-up sampled them
TEMPLATE_WINDOW_PX = (5, 15)  # odd
SEARCH_WINDOW_PX = (13, 27)  # odd
MORPH_KERNEL_PX = (1, 3)  # the only two sizes: 1 (a no-op, kept for fidelity) or 3


class ThresholdMethod(enum.Enum):
    """How adaptive binarisation weighs a pixel's neighbourhood."""

    GAUSSIAN = "gaussian"
    MEAN = "mean"


@dataclass(frozen=True)
class ResizeParams:
    glyph_height_px: int

    def __post_init__(self) -> None:
        check_int("resize.glyph_height_px", self.glyph_height_px, GLYPH_HEIGHT_PX)


@dataclass(frozen=True)
class BinariseParams:
    method: ThresholdMethod
    block_size: int
    c: int

    def __post_init__(self) -> None:
        check_int("binarise.block_size", self.block_size, BLOCK_SIZE_PX, odd=True)
        check_int("binarise.c", self.c, THRESHOLD_C)


@dataclass(frozen=True)
class DenoiseParams:
    h: int
    template_window: int
    search_window: int

    def __post_init__(self) -> None:
        check_int("denoise.h", self.h, DENOISE_H, odd=True)
        check_int("denoise.template_window", self.template_window, TEMPLATE_WINDOW_PX,
                   odd=True)
        check_int("denoise.search_window", self.search_window, SEARCH_WINDOW_PX, odd=True)


@dataclass(frozen=True)
class PipelineParams:
    """One candidate pipeline: grayscale, resize, binarise?, denoise?, erode?, dilate?

    Erosion and dilation only act on a binarised image, so they require ``binarise``.
    """

    resize: ResizeParams
    binarise: BinariseParams | None = None
    denoise: DenoiseParams | None = None
    erode_kernel: int | None = None
    dilate_kernel: int | None = None

    def __post_init__(self) -> None:
        for name in ("erode_kernel", "dilate_kernel"):
            value = getattr(self, name)
            if value is None:
                continue
            if self.binarise is None:
                raise ParamsError(f"{name}={value} needs binarise: erosion and dilation "
                                  "only apply to a binarised image; set binarise or drop "
                                  f"{name}")
            _check_choice(name, value, MORPH_KERNEL_PX)

    def to_json(self) -> dict[str, Any]:
        return {
            "resize": {"glyph_height_px": self.resize.glyph_height_px},
            "binarise": None if self.binarise is None else {
                "method": self.binarise.method.value,
                "block_size": self.binarise.block_size,
                "c": self.binarise.c,
            },
            "denoise": None if self.denoise is None else {
                "h": self.denoise.h,
                "template_window": self.denoise.template_window,
                "search_window": self.denoise.search_window,
            },
            "erode_kernel": self.erode_kernel,
            "dilate_kernel": self.dilate_kernel,
        }

    @classmethod
    def from_json(cls, doc: JsonObject) -> PipelineParams:
        """Parse and check plain parameters; raises ParamsError naming what is wrong."""
        fields = JsonFields(doc)
        resize = JsonFields(fields.required("resize"), "resize")
        params = cls(
            resize=ResizeParams(glyph_height_px=resize.integer("glyph_height_px")),
            binarise=_binarise_from(fields.optional("binarise")),
            denoise=_denoise_from(fields.optional("denoise")),
            erode_kernel=fields.optional_integer("erode_kernel"),
            dilate_kernel=fields.optional_integer("dilate_kernel"),
        )
        resize.reject_unknown({"glyph_height_px"})
        fields.reject_unknown({"resize", "binarise", "denoise", "erode_kernel",
                               "dilate_kernel"})
        return params


def _binarise_from(doc: JsonObject | None) -> BinariseParams | None:
    if doc is None:
        return None
    fields = JsonFields(doc, "binarise")
    params = BinariseParams(fields.choice("method", ThresholdMethod),
                            fields.integer("block_size"), fields.integer("c"))
    fields.reject_unknown({"method", "block_size", "c"})
    return params


def _denoise_from(doc: JsonObject | None) -> DenoiseParams | None:
    if doc is None:
        return None
    fields = JsonFields(doc, "denoise")
    params = DenoiseParams(fields.integer("h"), fields.integer("template_window"),
                           fields.integer("search_window"))
    fields.reject_unknown({"h", "template_window", "search_window"})
    return params


def _check_choice(name: str, value: int, allowed: tuple[int, ...]) -> None:
    if isinstance(value, bool) or value not in allowed:
        raise ParamsError(f"{name}={value!r} must be one of {', '.join(map(str, allowed))}")
