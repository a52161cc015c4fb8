"""Per image: how well Tesseract reads it with no preprocessing and with given parameters."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from shared.dataset import load_dataset
from shared.jsontypes import JsonObject
from shared.ocr import make_engine
from shared.ocr_objective import OcrSettings, score_images
from shared.params import PipelineParams
from shared.scoring import ImageScore
from shared.trials import ObjectiveSpec


@dataclass(frozen=True)
class ImageComparison:
    name: str
    before: ImageScore
    after: ImageScore


def compare_images(spec: ObjectiveSpec, params: JsonObject, *,
                   data_dir: Path | None = None) -> list[ImageComparison]:
    """Read every image of the experiment's dataset raw and with ``params``, and score both.

    Uses the experiment's engine and language; ``data_dir`` overrides where the dataset is.
    """
    settings = OcrSettings.from_json(spec.settings)
    dataset = load_dataset(data_dir or settings.data_dir)
    pipeline = PipelineParams.from_json(params)
    with make_engine(settings.engine, settings.lang) as engine:
        before = score_images(dataset, engine, None)
        after = score_images(dataset, engine, pipeline)
    return [ImageComparison(b.name, b, a) for b, a in zip(before, after, strict=True)]


def comparison_table(rows: list[ImageComparison]) -> str:
    """A plain-text table: similarity, CER and WER before and after, and the totals."""
    body = [[r.name, r.before.similarity, r.after.similarity, r.after.similarity
             - r.before.similarity, r.before.cer, r.after.cer, r.before.wer, r.after.wer]
            for r in rows]
    loss_before = math.fsum(1 - r.before.similarity for r in rows)
    loss_after = math.fsum(1 - r.after.similarity for r in rows)
    body.append(["total loss", loss_before, loss_after, loss_before - loss_after,
                 None, None, None, None])
    headers = ["image", "similarity raw", "similarity best", "change", "CER raw",
               "CER best", "WER raw", "WER best"]
    return tabulate(body, headers=headers, floatfmt=".3f", missingval="")
