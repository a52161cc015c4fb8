"""The hyperopt search space over OCR preprocessing pipelines, and its plain-JSON form.

The space is conditional: resizing always happens; adaptive binarisation is optional, and
only when it happens may erosion and dilation follow, each optional too; non-local means
denoising is optional on its own. Its bounds are those of ``shared.params``.

hyperopt labels (the keys of a trial's ``misc.vals``), none with a dot, so MongoDB stores
them as plain field names:

- ``glyph_height_px``: the resize target, an integer;
- ``binarise`` (0 skips, 1 binarises), ``binarise_method`` (index into gaussian, mean),
  ``binarise_block_size_k``, ``binarise_c``;
- ``erode`` and ``dilate`` (0 skips, 1 applies), ``erode_kernel`` and ``dilate_kernel``
  (index into 1, 3);
- ``denoise`` (0 skips, 1 denoises), ``denoise_h_k``, ``denoise_template_window_k``,
  ``denoise_search_window_k``.

A ``..._k`` label holds k for an odd value 2k + 1, since OpenCV takes only odd windows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hyperopt import hp
from hyperopt.pyll import scope

from shared.errors import ParamsError
from shared.jsontypes import to_plain
from shared.params import (
    BLOCK_SIZE_PX,
    DENOISE_H,
    GLYPH_HEIGHT_PX,
    MORPH_KERNEL_PX,
    SEARCH_WINDOW_PX,
    SPACE_VERSION,
    TEMPLATE_WINDOW_PX,
    THRESHOLD_C,
    PipelineParams,
    ThresholdMethod,
)

__all__ = ["SPACE_VERSION", "build_space", "plain_params"]

_SECTIONS = ("resize", "binarise", "denoise")
_MORPH_FIELDS = ("erode_kernel", "dilate_kernel")


def build_space() -> Any:
    """A new hyperopt space; ``space_eval`` turns a point of it into input of plain_params."""
    return {
        "resize": {"glyph_height_px": _glyph_height()},
        "binarise": hp.choice("binarise", [None, {
            "method": hp.choice("binarise_method", [m.value for m in ThresholdMethod]),
            "block_size": _odd_int("binarise_block_size_k", BLOCK_SIZE_PX),
            "c": hp.uniformint("binarise_c", *THRESHOLD_C),
            "erode_kernel": _optional_kernel("erode"),
            "dilate_kernel": _optional_kernel("dilate"),
        }]),
        "denoise": hp.choice("denoise", [None, {
            "h": _odd_int("denoise_h_k", DENOISE_H),
            "template_window": _odd_int("denoise_template_window_k", TEMPLATE_WINDOW_PX),
            "search_window": _odd_int("denoise_search_window_k", SEARCH_WINDOW_PX),
        }]),
    }


def _glyph_height() -> Any:
    # Log-uniform, because what matters is the ratio to the size Tesseract reads best
    # (about 20 px): 8-16 px deserves as many trials as 20-40 px. Rounding keeps the
    # ends of the range inside it.
    low, high = GLYPH_HEIGHT_PX
    return scope.int(hp.qloguniform("glyph_height_px", math.log(low), math.log(high), 1))


def _odd_int(label: str, bounds: tuple[int, int]) -> Any:
    """An odd integer in ``bounds`` (both odd), sampled as k for 2k + 1.

    k is quantised uniform rather than a choice so TPE knows that 13 is nearer 15 than 27.
    Rounding gives the two ends half the weight of the values between them.
    """
    low, high = bounds
    k = hp.quniform(label, (low - 1) // 2, (high - 1) // 2, 1)
    return scope.int(2 * k + 1)


def _optional_kernel(step: str) -> Any:
    return hp.choice(step, [None, hp.choice(f"{step}_kernel", list(MORPH_KERNEL_PX))])


def plain_params(sample: Mapping[str, Any]) -> dict[str, Any]:
    """The plain JSON of ``PipelineParams`` for a sample of ``build_space()``, checked.

    ``sample`` is what ``hyperopt.space_eval`` or ``hyperopt.pyll.stochastic.sample``
    returns. Numbers come out as Python ints; anything outside the space raises
    ParamsError naming the field.
    """
    if not isinstance(sample, Mapping):
        raise ParamsError(f"a search-space sample must be a mapping, got {sample!r}")
    unknown = sorted(set(sample) - set(_SECTIONS))
    if unknown:
        raise ParamsError(f"unknown field(s) {', '.join(unknown)} in a search-space sample; "
                          f"allowed: {', '.join(_SECTIONS)}")
    doc: dict[str, Any] = {section: to_plain(sample.get(section)) for section in _SECTIONS}
    binarise = doc["binarise"]
    if isinstance(binarise, dict):
        # The space nests erosion and dilation inside binarisation, which they need;
        # PipelineParams keeps them at the top level.
        for field in _MORPH_FIELDS:
            doc[field] = binarise.pop(field, None)
    return PipelineParams.from_json(doc).to_json()
