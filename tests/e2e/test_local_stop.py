"""Ctrl-C to a local run (``coordinator run`` without ``--mongo``): the trial in hand goes
back to the queue, the run exits 130 saying how to resume, and the same command run again
finishes the search without evaluating any trial twice."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.store.sqlite import SqliteTrialStore
from shared.trials import Trial, TrialState
from tests.e2e.programs import SAMPLE_DATA, Program
from tests.e2e.runs import STEP_TIMEOUT_S
from tests.e2e.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EXP_KEY = "interrupted"
FIRST_MAX_EVALS = 60  # far more than finish before the interrupt
SECOND_MAX_EVALS = 6


@pytest.fixture
def programs() -> Iterator[list[Program]]:
    started: list[Program] = []
    yield started
    for program in started:
        program.kill_everything()


def _run(programs: list[Program], history: Path, max_evals: int) -> Program:
    program = Program(f"run-{len(programs)}", [
        "-m", "coordinator", "run", "--data", str(SAMPLE_DATA), "--exp-key", EXP_KEY,
        "--history", str(history), "--max-evals", str(max_evals)], log_dir=history.parent)
    programs.append(program)
    return program


def _trials(history: Path) -> list[Trial]:
    if not history.exists():
        return []
    with SqliteTrialStore(history) as store:
        return store.trials(EXP_KEY) if store.list_experiments() else []


def test_ctrl_c_hands_the_trial_back_and_the_same_command_resumes_without_repeats(
        programs: list[Program], tmp_path: Path) -> None:
    # Given a local run that has finished two trials and is evaluating the next
    history = tmp_path / "history.sqlite"
    first = _run(programs, history, FIRST_MAX_EVALS)
    wait_until(lambda: sum(t.state is TrialState.DONE for t in _trials(history)) >= 2
               and any(t.state is TrialState.RUNNING for t in _trials(history)),
               what="two finished trials and one running", timeout_s=STEP_TIMEOUT_S,
               watch=[first])

    # When it gets Ctrl-C's signal
    first.send(signal.SIGINT)
    code = first.wait()

    # Then it exits 130 saying how to resume, nothing is left running, and no trial that
    # was not finished used up an attempt
    assert code == 130, first.tail()
    assert "the same command resumes the search" in first.log()
    stopped = _trials(history)
    assert not [t.tid for t in stopped if t.state is TrialState.RUNNING]
    assert all(t.attempts == 0 for t in stopped if t.state is TrialState.NEW)
    done_before = {t.tid: t.result for t in stopped if t.state is TrialState.DONE}

    # When the same command runs again, asking for a few more trials than were finished
    max_evals = len(done_before) + SECOND_MAX_EVALS
    second = _run(programs, history, max_evals)

    # Then it finishes exactly that many, keeps the earlier results, and evaluated each
    # trial once
    assert second.wait(STEP_TIMEOUT_S * 2) == 0, second.tail()
    final = _trials(history)
    finished = [t for t in final if t.state.is_finished]
    assert len(finished) == max_evals
    assert {t.tid: t.result for t in final if t.tid in done_before} == done_before
    assert all(t.attempts <= 1 for t in finished)
    assert f"Experiment {EXP_KEY}: {max_evals} trials finished" in second.output()
