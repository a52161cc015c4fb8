"""An OCR text set against the true text, word by word, for people to read.

Words are compared after the same whitespace normalisation the scores use, so a line
break Tesseract put elsewhere is not a difference. The result is one sequence of
segments: words both texts share, true words the OCR missed or misread, and words the
OCR produced that are not in the truth. A misread word appears twice, the true word as
missing and the OCR's reading as extra, next to each other.
"""

from __future__ import annotations

import difflib
import enum
from dataclasses import dataclass


class Change(enum.Enum):
    SAME = "same"
    MISSING = "missing"  # in the true text, not in what the OCR read
    EXTRA = "extra"  # in what the OCR read, not in the true text


@dataclass(frozen=True)
class Segment:
    change: Change
    text: str


def word_diff(ocr: str, truth: str) -> list[Segment]:
    """The segments that turn the true text into the OCR text, in reading order."""
    ocr_words, true_words = ocr.split(), truth.split()
    # autojunk off: it treats frequent words ("the") as junk in texts over 200 words and
    # then reports them as changed.
    matcher = difflib.SequenceMatcher(a=true_words, b=ocr_words, autojunk=False)
    segments: list[Segment] = []
    for tag, true_start, true_end, ocr_start, ocr_end in matcher.get_opcodes():
        if tag == "equal":
            _append(segments, Change.SAME, true_words[true_start:true_end])
            continue
        _append(segments, Change.MISSING, true_words[true_start:true_end])
        _append(segments, Change.EXTRA, ocr_words[ocr_start:ocr_end])
    return segments


def _append(segments: list[Segment], change: Change, words: list[str]) -> None:
    if words:
        segments.append(Segment(change, " ".join(words)))


def changed_words(segments: list[Segment]) -> tuple[int, int]:
    """How many true words were missed or misread, and how many extra words were read."""
    missing = sum(len(s.text.split()) for s in segments if s.change is Change.MISSING)
    extra = sum(len(s.text.split()) for s in segments if s.change is Change.EXTRA)
    return missing, extra
