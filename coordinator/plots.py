"""The search's figure: each trial's loss in trial order, its trend, and the best so far.

Drawn with matplotlib's object API on an Agg canvas, never ``pyplot``: no global figure
state, no display needed, safe to call from any thread.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from coordinator.best import best_trial
from shared.errors import ConfigError
from shared.trials import Trial, TrialState

FIGURE_SIZE_IN = (9.0, 5.0)
DPI = 110
# The trend at a trial is the mean loss of the trials around it: an odd window of a fifth
# of the scored trials, at least 3 (fewer is no average) and at most 25 (more flattens the
# improvement the figure is there to show). Fewer than two windows of losses get no trend.
TREND_MIN, TREND_MAX, TREND_FRACTION = 3, 25, 5
OCR_LOSS_LABEL = "loss: sum over the images of 1 − similarity"


@dataclass(frozen=True)
class LossSeries:
    """The points of the figure, in tid order."""

    tids: tuple[int, ...]
    losses: tuple[float, ...]
    reused: tuple[bool, ...]
    failed_tids: tuple[int, ...]

    @classmethod
    def of(cls, trials: list[Trial]) -> LossSeries:
        scored = sorted((t for t in trials if t.loss is not None), key=lambda t: t.tid)
        return cls(tids=tuple(t.tid for t in scored),
                   losses=tuple(t.loss for t in scored if t.loss is not None),
                   reused=tuple(t.reused_from is not None for t in scored),
                   failed_tids=tuple(t.tid for t in trials if t.state is TrialState.ERROR))

    def best_so_far(self) -> np.ndarray:
        return np.minimum.accumulate(np.asarray(self.losses, dtype=float))

    def trend(self) -> tuple[int, np.ndarray, np.ndarray]:
        """The window, and the tids and mean losses of the centred rolling mean.

        Empty arrays when there are too few losses for a trend.
        """
        window = min(max(len(self.losses) // TREND_FRACTION, TREND_MIN), TREND_MAX)
        window += 1 - window % 2  # odd, so that each mean has a trial at its centre
        if len(self.losses) < 2 * window:
            return window, np.empty(0, int), np.empty(0)
        kernel = np.full(window, 1.0 / window)
        means = np.convolve(np.asarray(self.losses, dtype=float), kernel, "valid")
        half = window // 2
        return window, np.asarray(self.tids[half:len(self.tids) - half]), means


def loss_figure(trials: list[Trial], *, exp_key: str, loss_label: str = "loss") -> Figure:
    """The figure of an experiment's trials; NoResultError if no trial has a loss."""
    best_trial(exp_key, trials)  # raises, saying why, when there is nothing to plot
    series = LossSeries.of(trials)
    figure = Figure(figsize=FIGURE_SIZE_IN, dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    _draw_losses(axes, series)
    _draw_failed(axes, series)
    axes.set_title(f"Experiment {exp_key}: {len(series.tids)} scored trials, "
                   f"{len(series.failed_tids)} failed")
    axes.set_xlabel("trial id (the order the trials were suggested)")
    axes.set_ylabel(loss_label)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    # Below the axes, where it can hide no point.
    figure.legend(loc="outside lower center", ncols=3, fontsize="small", frameon=False)
    return figure


def _draw_losses(ax: Axes, series: LossSeries) -> None:
    tids = np.asarray(series.tids)
    losses = np.asarray(series.losses, dtype=float)
    fresh = ~np.asarray(series.reused, dtype=bool)
    ax.scatter(tids[fresh], losses[fresh], s=22, color="tab:blue", alpha=0.7,
               label="loss of a trial")
    if not fresh.all():
        ax.scatter(tids[~fresh], losses[~fresh], s=30, facecolors="none",
                   edgecolors="tab:blue", label="reused an earlier trial's result")
    window, trend_tids, trend = series.trend()
    if trend.size:
        ax.plot(trend_tids, trend, color="tab:orange", linewidth=2,
                label=f"trend: mean loss of {window} neighbouring trials")
    ax.step(tids, series.best_so_far(), where="post", color="tab:green", linewidth=2,
            label="best so far")


def _draw_failed(ax: Axes, series: LossSeries) -> None:
    if not series.failed_tids:
        return
    # Failed trials have no loss: mark them along the top edge (in axes coordinates), in
    # a strip added above the highest loss so that no marker hides a point.
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, top + 0.08 * (top - bottom))
    ax.scatter(series.failed_tids, [0.97] * len(series.failed_tids), marker="x",
               color="tab:red", s=40, transform=ax.get_xaxis_transform(), clip_on=False,
               label="failed (no loss)")


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)  # attaches itself to the figure: savefig then needs no pyplot
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def save_loss_plot(trials: list[Trial], path: Path, *, exp_key: str,
                   loss_label: str = "loss") -> None:
    """Write the figure as PNG to ``path``; ConfigError if the file cannot be written."""
    data = png_bytes(loss_figure(trials, exp_key=exp_key, loss_label=loss_label))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as err:
        raise ConfigError(f"cannot write the plot to {path}: {err.strerror}; choose "
                           "another --out path") from err
