"""Starting the coordinator and workers as ``python -m ...`` processes, and ending them.

Each program runs in a session of its own, so that everything it starts (the worker's
evaluation process, the ``tesseract`` processes that one starts) can be found and killed
at teardown, even after the program itself was killed and its children orphaned.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tests.e2e import procfs

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DATA = REPO_ROOT / "data"
# A lease timeout short enough that requeues happen within a test, given to the coordinator
# (and to experiments the tests create themselves): it records it on the experiment, whose
# workers beat four times per lease, so a busy machine does not lose leases by accident.
LEASE_TIMEOUT_S = 4.0
# Generous, for a cold interpreter on a busy two-core machine: only reached when a program
# hangs, and then the test fails with the program's log.
EXIT_TIMEOUT_S = 60.0
_KILL_WAIT_S = 10.0


class Program:
    """One started process: its logs (stderr), its output (stdout), signals, exit."""

    def __init__(self, name: str, argv: Sequence[str], *, log_dir: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_dir / f"{name}.log"
        self.output_path = log_dir / f"{name}.out"
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("OCRTUNE_")}  # a developer's settings must not leak in
        env.update(PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1")
        with self.output_path.open("wb") as out, self.log_path.open("wb") as log:
            self._process = subprocess.Popen([sys.executable, *argv], cwd=REPO_ROOT, env=env,
                                             stdin=subprocess.DEVNULL, stdout=out, stderr=log,
                                             start_new_session=True)
        logger.info("Started %s (pid %s): %s", name, self.pid, " ".join(argv))

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def worker_id(self) -> str:
        """The id a worker gives itself (``worker.loop.default_worker_id``)."""
        return f"{socket.gethostname()}:{self.pid}"

    @property
    def exit_code(self) -> int | None:
        """None while it runs."""
        return self._process.poll()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def tail(self, lines: int = 25) -> str:
        text = "\n".join(self.log().splitlines()[-lines:])
        return f"--- last lines of {self.name}'s log ({self.log_path}):\n{text}"

    def send(self, signum: signal.Signals) -> None:
        """Signal the program's own process only, as ``kill`` or ``docker stop`` would."""
        self._process.send_signal(signum)

    def wait(self, timeout_s: float = EXIT_TIMEOUT_S) -> int:
        """Its exit code; fails the test, showing its log, if it runs on past the timeout."""
        try:
            return self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} was still running {timeout_s:g} s later.\n"
                                 f"{self.tail()}") from None

    def session(self) -> list[procfs.ProcessInfo]:
        """Live processes of its session: itself and all it started, orphans included."""
        return procfs.live_in_session(self.pid)

    def kill_everything(self) -> None:
        """SIGKILL the program and every live process of its session, then reap it."""
        for info in self.session():
            if info.pid != self.pid:
                _kill(info.pid)
        if self._process.poll() is None:
            self._process.kill()
        try:
            self._process.wait(timeout=_KILL_WAIT_S)
        except subprocess.TimeoutExpired:
            logger.warning("%s (pid %s) survived SIGKILL for %s s.", self.name, self.pid,
                           _KILL_WAIT_S)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
        os.kill(pid, signal.SIGKILL)


class Launcher:
    """Starts coordinators and workers against one MongoDB URI; ``close`` ends them all."""

    def __init__(self, mongo_uri: str, log_dir: Path) -> None:
        self.mongo_uri = mongo_uri
        self._log_dir = log_dir
        self._programs: list[Program] = []

    def coordinator(self, *, exp_key: str, max_evals: int, data_dir: Path = SAMPLE_DATA,
                    options: Sequence[str] = (), name: str = "coordinator",
                    lease_timeout_s: float = LEASE_TIMEOUT_S) -> Program:
        """``coordinator run`` with a short lease timeout; ``options`` are added."""
        return self.start(name, ["-m", "coordinator", "run", "--mongo", self.mongo_uri,
                                 "--exp-key", exp_key, "--data", str(data_dir),
                                 "--max-evals", str(max_evals),
                                 "--lease-timeout", f"{lease_timeout_s:g}", *options])

    def worker(self, *options: str, name: str | None = None) -> Program:
        """``python -m worker``, which beats within its experiment's lease; ``options`` are
        added."""
        name = name or f"worker-{sum(p.name.startswith('worker') for p in self._programs)}"
        return self.start(name, ["-m", "worker", "--mongo", self.mongo_uri, *options])

    def start(self, name: str, argv: Sequence[str]) -> Program:
        if any(program.name == name for program in self._programs):
            raise ValueError(f"a program called {name!r} was started already; name it apart")
        program = Program(name, argv, log_dir=self._log_dir)
        self._programs.append(program)
        return program

    def close(self) -> None:
        """Kill every program and what it started; log the tails of their logs."""
        for program in self._programs:
            program.kill_everything()
        for program in self._programs:
            logger.info("%s exited with %s.\n%s", program.name, program.exit_code,
                        program.tail(40))


def wait_for_exits(programs: Sequence[Program], timeout_s: float = EXIT_TIMEOUT_S
                   ) -> list[int]:
    """Every program's exit code, waiting for all within one deadline."""
    deadline = time.monotonic() + timeout_s
    return [program.wait(max(0.1, deadline - time.monotonic())) for program in programs]
