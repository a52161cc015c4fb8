"""The search's progress: a bar that counts this run's trials, or log lines."""

from __future__ import annotations

import logging

import pytest

from coordinator.progress import SearchProgress
from coordinator.search import SearchSnapshot


def snapshot(finished: int, *, max_evals: int = 60) -> SearchSnapshot:
    return SearchSnapshot(max_evals=max_evals, finished=finished, failed=0, running=1,
                          queued=2, reused=0, live_workers=1, best_loss=0.25)


def test_a_resumed_search_bar_starts_at_the_earlier_trials_and_counts_on_from_there(
        capsys: pytest.CaptureFixture[str]) -> None:
    # Given a bar shown for a search resumed with 50 of 60 trials already finished
    progress = SearchProgress(exp_key="ocr-data", interactive=True)

    # When the search reports 50, then 52 finished
    progress(snapshot(50))
    progress(snapshot(52))
    state = progress._bar.format_dict if progress._bar is not None else {}
    progress.close()

    # Then the bar stands at 52 of 60, and its rate counts the 2 new trials only
    assert (state["n"], state["total"], state["initial"]) == (52, 60, 50)
    assert "52/60" in capsys.readouterr().err


def test_without_a_terminal_the_progress_is_logged_with_the_counts(
        caplog: pytest.LogCaptureFixture) -> None:
    # Given progress shown where there is no terminal (docker compose logs, CI)
    progress = SearchProgress(exp_key="ocr-data", interactive=False)

    # When the search finishes its last trial
    with caplog.at_level(logging.INFO, logger="coordinator.progress"):
        progress(snapshot(60))

    # Then one line says how far it is, with the queue and the best loss
    assert caplog.messages == ["Experiment 'ocr-data': 60 of 60 trials finished; running 1, "
                               "queued 2, workers 1, failed 0, reused 0, best loss 0.2500."]


def test_a_search_resumed_past_its_max_evals_logs_the_count_without_a_fraction_over_one(
        caplog: pytest.LogCaptureFixture) -> None:
    # Given a search of 54 finished trials resumed with --max-evals 10
    progress = SearchProgress(exp_key="ocr-data", interactive=False)

    with caplog.at_level(logging.INFO, logger="coordinator.progress"):
        progress(snapshot(54, max_evals=10))

    # Then the line gives both numbers, not "54 of 10"
    assert caplog.messages == ["Experiment 'ocr-data': 54 trials finished (--max-evals 10); "
                               "running 1, queued 2, workers 1, failed 0, reused 0, best loss "
                               "0.2500."]
