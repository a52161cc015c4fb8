"""Which processes exist, and in which session and process group, read from Linux's /proc.

The tests use this to find what a program left behind: an evaluation process, or a
``tesseract`` it started, still alive after it should have been stopped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
# States of a process that has ended but not been reaped (zombie) or is being torn down.
_DEAD_STATES = frozenset({"Z", "X", "x"})


@dataclass(frozen=True)
class ProcessInfo:
    """One line of ``/proc/PID/stat``, the fields the tests need."""

    pid: int
    name: str
    state: str
    ppid: int
    pgid: int
    sid: int
    cpu_s: float  # processor time used so far, user and system

    @property
    def alive(self) -> bool:
        return self.state not in _DEAD_STATES


def read_process(pid: int) -> ProcessInfo | None:
    """The process ``pid``, or None when there is no such process (any more)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may itself hold spaces or parentheses.
    head, _, rest = stat.rpartition(")")
    name = head.partition("(")[2]
    fields = rest.split()
    state, ppid, pgid, sid = fields[:4]
    user_ticks, system_ticks = int(fields[11]), int(fields[12])
    return ProcessInfo(pid, name, state, int(ppid), int(pgid), int(sid),
                       (user_ticks + system_ticks) / _TICKS_PER_S)


def all_processes() -> list[ProcessInfo]:
    found = (read_process(int(entry.name)) for entry in PROC.iterdir() if entry.name.isdigit())
    return [info for info in found if info is not None]


def live_in_session(sid: int) -> list[ProcessInfo]:
    """Live processes of session ``sid``: a program started in a new session and all it
    started, even those whose parent died."""
    return [info for info in all_processes() if info.sid == sid and info.alive]


def live_in_group(pgid: int) -> list[ProcessInfo]:
    return [info for info in all_processes() if info.pgid == pgid and info.alive]


def live_descendants(pid: int) -> list[ProcessInfo]:
    """Live children of ``pid``, their children, and so on."""
    processes = all_processes()
    found: list[ProcessInfo] = []
    parents = {pid}
    while True:
        children = [p for p in processes if p.ppid in parents and p not in found]
        if not children:
            return [p for p in found if p.alive]
        found.extend(children)
        parents = {p.pid for p in children}


def is_alive(pid: int) -> bool:
    info = read_process(pid)
    return info is not None and info.alive
