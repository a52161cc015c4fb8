"""``coordinator report``: one self-contained HTML page about an experiment's result.

The page holds the best parameters, the loss figure and, per image, the original and the
preprocessed image side by side, the OCR text set against the true text with the
differences marked, and the scores raw and with the best parameters. Images are inlined
as base64 PNG, so the file can be mailed or archived alone. The template
(``templates/report.html.j2``) escapes every text it is given.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
from jinja2 import Environment, PackageLoader

from coordinator.best import best_trial, compare_best, experiment_dataset
from coordinator.comparison import ImageComparison
from coordinator.history_table import flatten
from coordinator.params_file import TunedParams, tuned_from_trial
from coordinator.plots import OCR_LOSS_LABEL, loss_figure, png_bytes
from coordinator.text_diff import Segment, changed_words, word_diff
from shared.dataset import Dataset
from shared.errors import ConfigError, DatasetError
from shared.jsontypes import JsonValue
from shared.ocr_objective import total_loss
from shared.pipeline import GrayImage, apply_pipeline
from shared.scoring import ImageScore
from shared.trials import Experiment, Trial, TrialState

# Widest image put in the page, in pixels. A page shows an image about 600 px wide; twice
# that keeps it sharp on high-density screens without making the file huge.
REPORT_IMAGE_MAX_WIDTH_PX = 1200
TEMPLATE = "report.html.j2"


@dataclass(frozen=True)
class ImageSection:
    name: str
    original_png: str  # base64
    processed_png: str  # base64
    segments: tuple[Segment, ...]
    missing_words: int
    extra_words: int
    truth: str
    before: ImageScore
    after: ImageScore


@dataclass(frozen=True)
class ReportContent:
    experiment: Experiment
    tuned: TunedParams
    params_rows: tuple[tuple[str, JsonValue], ...]
    counts: tuple[tuple[str, int], ...]
    plot_png: str  # base64
    images: tuple[ImageSection, ...]
    loss_raw: float
    loss_best: float
    generated_at: str


def build_report(experiment: Experiment, trials: list[Trial], *,
                 data_dir: Path | None = None) -> ReportContent:
    """Gather the report's content: re-reads every image raw and with the best parameters.

    Raises NoResultError when no trial has a loss, DatasetError when the dataset is not
    where the experiment (or ``data_dir``) says, OcrEngineError when Tesseract fails.
    """
    best = best_trial(experiment.exp_key, trials)
    dataset = experiment_dataset(experiment, data_dir=data_dir)
    comparisons = compare_best(experiment, best, data_dir=dataset.folder)
    tuned = tuned_from_trial(experiment, best)
    figure = loss_figure(trials, exp_key=experiment.exp_key, loss_label=OCR_LOSS_LABEL)
    return ReportContent(
        experiment=experiment,
        tuned=tuned,
        params_rows=tuple(flatten(best.params).items()),
        counts=tuple((state.name.lower(), sum(t.state is state for t in trials))
                     for state in TrialState),
        plot_png=_base64(png_bytes(figure)),
        images=_sections(dataset, tuned, comparisons),
        loss_raw=total_loss(tuple(c.before for c in comparisons)),
        loss_best=total_loss(tuple(c.after for c in comparisons)),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def _sections(dataset: Dataset, tuned: TunedParams, comparisons: list[ImageComparison]
              ) -> tuple[ImageSection, ...]:
    pipeline = tuned.pipeline()
    by_name = {comparison.name: comparison for comparison in comparisons}
    sections = []
    for sample in dataset.samples:
        comparison = by_name[sample.name]
        segments = word_diff(comparison.after.text, sample.text)
        missing, extra = changed_words(segments)
        sections.append(ImageSection(
            name=sample.name, original_png=_png_base64(sample.image),
            processed_png=_png_base64(apply_pipeline(sample.image, pipeline)),
            segments=tuple(segments), missing_words=missing, extra_words=extra,
            truth=sample.text, before=comparison.before, after=comparison.after))
    return tuple(sections)


def _png_base64(image: GrayImage) -> str:
    height, width = image.shape
    if width > REPORT_IMAGE_MAX_WIDTH_PX:
        size = (REPORT_IMAGE_MAX_WIDTH_PX, max(1, round(height * REPORT_IMAGE_MAX_WIDTH_PX
                                                        / width)))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise DatasetError(f"OpenCV could not encode a {width}x{height} image as PNG")
    return _base64(encoded.tobytes())


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def render_report(content: ReportContent) -> str:
    """The report as one HTML document."""
    environment = Environment(loader=PackageLoader("coordinator", "templates"),
                              autoescape=True, trim_blocks=True, lstrip_blocks=True)
    template = environment.get_template(TEMPLATE)
    params_json = json.dumps(content.tuned.to_json(), indent=2)
    return template.render(report=content, params_json=params_json)


def write_report(content: ReportContent, path: Path) -> None:
    """Render the report into ``path``; ConfigError if the file cannot be written."""
    html = render_report(content)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot write the report to {path}: {err.strerror}; choose "
                          "another --out path") from err
