"""How close an OCR text is to the true text, and the per-image record a trial keeps.

Every measure compares the texts after ``normalise_whitespace``: line breaks and runs of
spaces depend on the page layout Tesseract guesses, not on whether it read the words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import Levenshtein

from shared.errors import ObjectiveError
from shared.jsontypes import JsonObject

# OCR text kept per image in a trial's result. Each trial's result is one store document
# with every image's text in it; a dense printed page is about 3,000 characters, so this
# keeps whole pages while bounding a runaway read (noise read as text) to 4 KiB per image.
MAX_STORED_TEXT_CHARS = 4000

_T = TypeVar("_T")


def normalise_whitespace(text: str) -> str:
    """Collapse every run of whitespace (newlines included) to one space; strip the ends."""
    return " ".join(text.split())


def similarity(ocr: str, truth: str) -> float:
    """Levenshtein ratio of the normalised texts, from 0 (nothing alike) to 1 (equal).

    This is the score the loss is built from: a trial's loss is the sum of
    ``1 - similarity`` over its images.
    """
    return float(Levenshtein.ratio(normalise_whitespace(ocr), normalise_whitespace(truth)))


def character_error_rate(ocr: str, truth: str) -> float:
    """Character edits needed to turn the OCR text into the truth, per true character.

    It can exceed 1 when the OCR text has many spurious characters. An empty truth gives 0
    if the OCR text is empty too and 1 otherwise, so the rate stays finite.
    """
    ocr_n, truth_n = normalise_whitespace(ocr), normalise_whitespace(truth)
    if not truth_n:
        return 0.0 if not ocr_n else 1.0
    return Levenshtein.distance(ocr_n, truth_n) / len(truth_n)


def word_error_rate(ocr: str, truth: str) -> float:
    """Word insertions, deletions and substitutions per true word; empty truth as for CER.

    ``Levenshtein.distance`` accepts any sequences of hashable items, so on lists of words
    it counts whole-word edits.
    """
    ocr_words, truth_words = ocr.split(), truth.split()
    if not truth_words:
        return 0.0 if not ocr_words else 1.0
    return Levenshtein.distance(ocr_words, truth_words) / len(truth_words)


@dataclass(frozen=True)
class ImageScore:
    """How well one image was read in one trial.

    ``text`` is the OCR output cut to ``MAX_STORED_TEXT_CHARS``; ``text_truncated`` says
    whether it was cut. The scores are always computed on the whole text.
    """

    name: str
    similarity: float
    cer: float
    wer: float
    ocr_seconds: float
    text: str
    text_truncated: bool = False

    @classmethod
    def measure(cls, name: str, ocr: str, truth: str, *, ocr_seconds: float) -> ImageScore:
        """Score an OCR text against the truth, keeping a bounded copy of the OCR text."""
        return cls(
            name=name,
            similarity=similarity(ocr, truth),
            cer=character_error_rate(ocr, truth),
            wer=word_error_rate(ocr, truth),
            ocr_seconds=ocr_seconds,
            text=ocr[:MAX_STORED_TEXT_CHARS],
            text_truncated=len(ocr) > MAX_STORED_TEXT_CHARS,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "similarity": self.similarity,
            "cer": self.cer,
            "wer": self.wer,
            "ocr_seconds": self.ocr_seconds,
            "text": self.text,
            "text_truncated": self.text_truncated,
        }

    @classmethod
    def from_json(cls, doc: JsonObject) -> ImageScore:
        """Read a stored score; raises ObjectiveError naming the field that is wrong."""
        name = doc.get("name")
        if not isinstance(name, str):
            raise ObjectiveError(f"stored image score has name={name!r}; expected a string. "
                                 "The trial was recorded by another objective version.")
        return cls(
            name=name,
            similarity=_number(doc, "similarity", name),
            cer=_number(doc, "cer", name),
            wer=_number(doc, "wer", name),
            ocr_seconds=_number(doc, "ocr_seconds", name),
            text=_typed(doc, "text", str, name),
            text_truncated=_typed(doc, "text_truncated", bool, name),
        )


def _number(doc: JsonObject, key: str, image: str) -> float:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ObjectiveError(f"stored score of image {image!r} has {key}={value!r}; expected "
                             "a finite number. The trial was recorded by another objective "
                             "version.")
    return float(value)


def _typed(doc: JsonObject, key: str, kind: type[_T], image: str) -> _T:
    value = doc.get(key)
    if not isinstance(value, kind):
        raise ObjectiveError(f"stored score of image {image!r} has {key}={value!r}; expected "
                             f"a {kind.__name__}. The trial was recorded by another "
                             "objective version.")
    return value


def scores_from_details(details: JsonObject) -> tuple[ImageScore, ...]:
    """The per-image scores an OCR trial's result details hold (``details["images"]``)."""
    images = details.get("images")
    if not isinstance(images, list):
        raise ObjectiveError("the result has no per-image scores; it was not recorded by "
                             "the OCR objective")
    return tuple(ImageScore.from_json(doc) for doc in images if isinstance(doc, Mapping))
