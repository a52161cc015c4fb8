"""``coordinator plot``: each trial's loss in order, its trend and the best so far, as PNG."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from coordinator.best import NoResultError
from coordinator.plots import DPI, FIGURE_SIZE_IN, LossSeries, loss_figure
from shared.trials import Trial, TrialResult, TrialState
from tests.real_history import EMPTY_KEY, EXP_KEY, FAILED_KEY, RealHistory, invoke, real_history


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory) -> RealHistory:
    return real_history(tmp_path_factory)


def scored(losses: list[float | None]) -> list[Trial]:
    """Trials in tid order: a number is a done trial's loss, None a failed trial."""
    return [Trial("e", tid, TrialState.DONE, {}, {}, result=TrialResult.ok(loss))
            if loss is not None else
            Trial("e", tid, TrialState.ERROR, {}, {}, result=TrialResult.failed("x"))
            for tid, loss in enumerate(losses)]


def legend_labels(trials: list[Trial]) -> list[str]:
    figure = loss_figure(trials, exp_key="e")
    return [text.get_text() for legend in figure.legends for text in legend.get_texts()]


# -- the series ------------------------------------------------------------------------------


def test_the_best_so_far_never_rises_and_skips_failed_trials() -> None:
    series = LossSeries.of(scored([3.0, None, 2.0, 2.5, 1.0, 4.0]))

    assert series.tids == (0, 2, 3, 4, 5)
    assert series.failed_tids == (1,)
    assert series.best_so_far().tolist() == [3.0, 2.0, 2.0, 1.0, 1.0]


def test_the_trend_is_a_centred_mean_over_an_odd_window() -> None:
    # Given 20 losses rising by one per trial
    series = LossSeries.of(scored([float(i) for i in range(20)]))

    # When the trend is taken
    window, tids, means = series.trend()

    # Then a window of 5 (a fifth of 20) averages a straight line to itself
    assert window == 5
    assert tids.tolist() == list(range(2, 18))
    assert means == pytest.approx(np.arange(2, 18, dtype=float))


def test_too_few_losses_for_two_windows_get_no_trend() -> None:
    _, tids, means = LossSeries.of(scored([1.0, 2.0, 3.0, 4.0, 5.0])).trend()

    assert tids.size == means.size == 0


def test_the_figure_labels_each_series_it_draws() -> None:
    # Given 30 trials, two of them failed and one reused
    losses: list[float | None] = [float(30 - i) for i in range(30)]
    losses[4] = losses[11] = None
    trials = scored(losses)
    trials[20] = Trial("e", 20, TrialState.DONE, {}, {}, result=TrialResult.ok(1.0),
                       reused_from=3)

    # When the figure is drawn, then its legend names every kind of point and line
    labels = legend_labels(trials)
    assert labels[0] == "loss of a trial"
    assert "reused an earlier trial's result" in labels
    assert any(label.startswith("trend: mean loss of 5 neighbouring") for label in labels)
    assert "best so far" in labels
    assert "failed (no loss)" in labels


def test_a_figure_without_failures_or_reuse_does_not_list_them() -> None:
    labels = legend_labels(scored([2.0, 1.0, 3.0]))

    assert labels == ["loss of a trial", "best so far"]


def test_nothing_to_plot_when_every_trial_failed() -> None:
    with pytest.raises(NoResultError, match="every one of the 3 trials"):
        loss_figure(scored([None, None, None]), exp_key="e")


# -- the command on the real history ----------------------------------------------------


@pytest.mark.slow
def test_plot_writes_a_png_of_the_figures_size(real: RealHistory, tmp_path: Path) -> None:
    out = tmp_path / "plots" / "loss.png"

    result = invoke("plot", "--history", real.path, "--exp-key", EXP_KEY, "--out", out)

    assert result.exit_code == 0, result.output
    assert f"Wrote {out}" in result.stdout
    image = cv2.imread(str(out))
    assert image is not None
    height, width = image.shape[:2]
    assert (width, height) == (round(FIGURE_SIZE_IN[0] * DPI), round(FIGURE_SIZE_IN[1] * DPI))
    # Not a blank canvas: the points and lines leave many pixels that are not white.
    assert np.count_nonzero(image.min(axis=2) < 200) > 2000


@pytest.mark.slow
@pytest.mark.parametrize(("exp_key", "reason"), [
    (FAILED_KEY, "every one of the 2 trials"), (EMPTY_KEY, "has no trials yet"),
    ("nope", "no experiment 'nope'")])
def test_plot_of_an_experiment_without_losses_is_an_error_and_writes_nothing(
        real: RealHistory, tmp_path: Path, exp_key: str, reason: str) -> None:
    out = tmp_path / "loss.png"

    result = invoke("plot", "--history", real.path, "--exp-key", exp_key, "--out", out)

    assert result.exit_code == 1
    assert reason in result.output
    assert not out.exists()
