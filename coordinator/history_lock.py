"""One local run at a time on a history file.

Two ``coordinator run`` processes on one history file would each suggest trials for the
same experiment from a history the other keeps changing, and their local workers would
share names (``local-0``). The second is refused instead, naming the first. The lock is an
``flock`` on a file beside the history (``NAME.lock``), which the kernel releases when the
process ends however it ends, so a killed run never leaves the file locked. It is not taken
on the SQLite file itself: closing another descriptor of that file would drop SQLite's
own locks on it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.errors import ConfigError


def lock_path(history: Path) -> Path:
    """The lock file that goes with ``history``, wherever a link to it points from: one
    file has one lock."""
    real = history.resolve()
    return real.with_name(f"{real.name}.lock")


@contextmanager
def history_locked(history: Path) -> Iterator[None]:
    """Hold the run lock of ``history``; ConfigError naming the holder if another has it."""
    path = lock_path(history)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        handle = path.open("a+", encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot create the lock file {path} beside the history: "
                          f"{err.strerror}; choose a --history in a folder you can "
                          "write to") from err
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ConfigError(
                f"another `coordinator run` ({holder}) is searching with the history "
                f"{history}; wait for it to end, or give this run another --history") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        except BaseException:
            # A run that failed on a file it made, such as a --history that is no SQLite
            # file, leaves nothing of its own behind.
            if created:
                path.unlink(missing_ok=True)
            raise
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
