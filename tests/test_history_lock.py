"""One `coordinator run` at a time on a history file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from coordinator.cli import cli
from coordinator.history_lock import history_locked, lock_path
from shared.errors import ConfigError

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
