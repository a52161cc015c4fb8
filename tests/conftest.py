"""Fixtures shared across test modules."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

# Line height of rendered test text, in pixels: glyphs about 30 px tall, well inside the
# size Tesseract reads best, so a failed read points at the code, not at the picture.
_LINE_HEIGHT_PX = 60

RenderText = Callable[[str], NDArray[np.uint8]]
MakeDataset = Callable[[Mapping[str, str]], Path]


def _render_text(text: str) -> NDArray[np.uint8]:
    lines = text.splitlines() or [""]
    width = 40 + 28 * max(len(line) for line in lines)
    image = np.full((_LINE_HEIGHT_PX * len(lines) + 40, width), 255, np.uint8)
    for row, line in enumerate(lines):
        cv2.putText(image, line, (20, _LINE_HEIGHT_PX * (row + 1)), cv2.FONT_HERSHEY_DUPLEX,
                    1.5, 0, 2, cv2.LINE_AA)
    return image


@pytest.fixture
def render_text() -> RenderText:
    """Draws text as black print on white, one line per line of text, large and clean."""
    return _render_text


@pytest.fixture
def make_dataset(tmp_path: Path) -> MakeDataset:
    """Writes a dataset folder from {name: text}: images/NAME.png rendered from the text."""

    def make(texts: Mapping[str, str]) -> Path:
        folder = tmp_path / "dataset"
        (folder / "images").mkdir(parents=True, exist_ok=True)
        (folder / "texts").mkdir(exist_ok=True)
        for name, text in texts.items():
            cv2.imwrite(str(folder / "images" / f"{name}.png"), _render_text(text))
            (folder / "texts" / f"{name}.txt").write_text(text + "\n", encoding="utf-8")
        return folder

    return make


@pytest.fixture
def photos_dir() -> Path:
    """The real photo dataset named by OCRTUNE_PHOTOS; skips the test when it is unset."""
    value = os.environ.get("OCRTUNE_PHOTOS")
    if not value:
        pytest.skip("OCRTUNE_PHOTOS is not set; point it at a dataset folder with images/ "
                    "and texts/ (e.g. /work/shared/data/ocr-photos) to run this test")
    return Path(value)
