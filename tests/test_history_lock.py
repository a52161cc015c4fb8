"""One `coordinator run` at a time on a history file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from coordinator.cli import cli
from coordinator.history_lock import history_locked, lock_path
from shared.errors import ConfigError, OcrTuneError
from shared.store.sqlite import SqliteTrialStore
from shared.trials import TrialState

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = REPO_ROOT / "data"


def test_a_second_hold_of_a_history_is_refused_naming_the_first(tmp_path: Path) -> None:
    history = tmp_path / "runs" / "h.sqlite"

    with history_locked(history), pytest.raises(ConfigError) as refused, \
            history_locked(history):
        pass

    assert str(refused.value) == (
        f"another `coordinator run` (pid {os.getpid()}) is searching with the history "
        f"{history}; wait for it to end, or give this run another --history")


def test_a_history_released_can_be_held_again(tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    with history_locked(history):
        pass

    with history_locked(history):
        assert lock_path(history).read_text(encoding="utf-8") == f"pid {os.getpid()}"


def test_a_run_killed_outright_leaves_its_history_free(tmp_path: Path) -> None:
    # Given a process that holds the lock of a history
    history = tmp_path / "h.sqlite"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from coordinator.history_lock import history_locked\n"
         "with history_locked(Path(sys.argv[1])):\n    time.sleep(600)", str(history)],
        cwd=REPO_ROOT)
    try:
        deadline = time.monotonic() + 60
        while not _holds(history, holder.pid):
            assert time.monotonic() < deadline, "the holder never took the lock"
            time.sleep(0.05)
        with pytest.raises(ConfigError, match=f"pid {holder.pid}"), history_locked(history):
            pass

        # When it is killed with SIGKILL, releasing nothing itself
        holder.kill()
        holder.wait()

        # Then the lock is free
        with history_locked(history):
            pass
    finally:
        holder.kill()
        holder.wait()


def _holds(history: Path, pid: int) -> bool:
    path = lock_path(history)
    return path.exists() and path.read_text(encoding="utf-8") == f"pid {pid}"


def test_a_run_on_a_history_another_run_uses_is_refused_and_writes_nothing(
        tmp_path: Path) -> None:
    # Given a history held by a run
    history = tmp_path / "h.sqlite"
    with history_locked(history):
        # When another run starts on it
        result = CliRunner().invoke(cli, ["run", "--data", str(SAMPLE), "--max-evals", "2",
                                          "--history", str(history)])

    # Then it ends at once, saying why, and the history is not created
    assert result.exit_code == 1, result.output
    assert "is searching with the history" in result.output
    assert not history.exists()


def test_a_history_named_through_a_link_shares_the_lock_of_the_file(tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    history.touch()
    alias = tmp_path / "alias.sqlite"
    alias.symlink_to(history)

    with history_locked(history), pytest.raises(ConfigError, match="is searching with"), \
            history_locked(alias):
        pass


def test_a_run_refused_by_its_history_file_leaves_no_lock_file_behind(tmp_path: Path) -> None:
    # Given a --history that is no SQLite file
    history = tmp_path / "notes.txt"
    history.write_text("not a database\n", encoding="utf-8")

    # When a run is started on it / Then it is refused, and only the file itself is there
    result = CliRunner().invoke(cli, ["run", "--data", str(SAMPLE), "--max-evals", "2",
                                      "--history", str(history)])
    assert result.exit_code == 1, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.slow
def test_a_run_resumed_after_one_killed_mid_trial_requeues_its_trial_at_once(
        tmp_path: Path) -> None:
    # Given a local run killed outright while a trial is running
    history = tmp_path / "h.sqlite"
    killed = subprocess.Popen(
        [sys.executable, "-m", "coordinator", "--log-level", "WARNING", "run", "--data",
         str(SAMPLE), "--max-evals", "20", "--history", str(history)],
        cwd=REPO_ROOT, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not _running_tids(history):
            assert killed.poll() is None, "the run ended before it ran a trial"
            assert time.monotonic() < deadline, "no trial started running"
            time.sleep(0.05)
    finally:
        os.killpg(killed.pid, signal.SIGKILL)  # its evaluation process too
        killed.wait()
    (orphan,) = _running_tids(history)

    # When the same search is resumed with room for one more trial
    started = time.monotonic()
    with SqliteTrialStore(history) as store:
        finished = sum(t.state.is_finished for t in store.trials("ocr-data"))
    result = CliRunner().invoke(cli, ["run", "--data", str(SAMPLE), "--max-evals",
                                      str(finished + 2), "--history", str(history)])

    # Then the orphan goes back to the queue at once, not after its 60 s lease, and is
    # evaluated again, its killed attempt counted
    assert result.exit_code == 0, result.output
    assert f"Trials {orphan} of 'ocr-data' were left running by a run that ended" \
        in result.output
    assert time.monotonic() - started < 50
    with SqliteTrialStore(history) as store:
        (again,) = store.trials("ocr-data", tids=[orphan])
    assert (again.state, again.attempts) == (TrialState.DONE, 2)


def _running_tids(history: Path) -> list[int]:
    if not history.exists():
        return []
    try:
        with SqliteTrialStore(history, read_only=True) as store:
            return [t.tid for t in store.trials("ocr-data", states=(TrialState.RUNNING,))]
    except OcrTuneError:
        return []  # not created yet
