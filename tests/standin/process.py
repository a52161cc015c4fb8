"""``StandinServer``: the stand-in as a child process that tests start, pause and restart."""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from tests.standin.errors import StandinStartError
from tests.standin.server import LOOPBACK

REPO_ROOT = Path(__file__).resolve().parents[2]
# Generous: a cold interpreter importing pymongo, mongomock and mockupdb on a busy
# two-core machine takes a few seconds.
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
_READY_PREFIX = "listening on "


class StandinServer:
    """Runs ``python -m tests.standin`` on 127.0.0.1 and controls it.

    ``port`` 0 lets the first start pick a free port; restarts reuse it. Data survives
    ``restart`` through ``state_file`` (a temporary file unless given). ``clock_offset_s``
    plays a server whose clock is that far off this host's. Use as a context manager, or
    call ``start`` and ``close``.
    """

    def __init__(self, *, port: int = 0, state_file: Path | None = None,
                 clock_offset_s: float = 0.0) -> None:
        self._workdir = Path(tempfile.mkdtemp(prefix="ocrtune-standin-"))
        self.state_file = state_file or self._workdir / "state.bson"
        self.log_file = self._workdir / "standin.log"
        self._port = port
        self._clock_offset_s = clock_offset_s
        self._process: subprocess.Popen[str] | None = None

    @property
    def port(self) -> int:
        if not self._port:
            raise StandinStartError("the stand-in has not been started yet; call start()")
        return self._port

    @property
    def uri(self) -> str:
        return f"mongodb://{LOOPBACK}:{self.port}"

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the process and return once it answers hello."""
        if self.is_running:
            raise StandinStartError(f"the stand-in already runs on port {self._port}")
        with self.log_file.open("a") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.standin", "--port", str(self._port),
                 "--state-file", str(self.state_file),
                 "--clock-offset-s", str(self._clock_offset_s)],
                cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                stdout=subprocess.PIPE, stderr=log, text=True)
        self._port = self._await_ready_line(time.monotonic() + STARTUP_TIMEOUT_S)
        self._await_hello()

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): it keeps its connections but answers nothing.

        Returns once the process has stopped: kill() returns earlier, and on a busy machine
        a thread not yet stopped can still answer a request or two.
        """
        process = self._running()
        os.kill(process.pid, signal.SIGSTOP)
        # WNOWAIT leaves the report, and an exit status, for Popen's own wait.
        report = os.waitid(os.P_PID, process.pid, os.WSTOPPED | os.WEXITED | os.WNOWAIT)
        if report is None or report.si_code != os.CLD_STOPPED:
            raise StandinStartError(f"the stand-in exited instead of pausing; "
                                    f"{self._log_tail()}")

    def resume(self) -> None:
        """Let a paused process go on (SIGCONT)."""
        os.kill(self._running().pid, signal.SIGCONT)

    def restart(self) -> None:
        """Stop (saving the data) and start again on the same port."""
        self.stop()
        self.start()

    def stop(self) -> None:
        """SIGTERM: the stand-in saves its data to the state file and exits."""
        if not self.is_running:
            return
        process = self._running()
        # A paused process would hold SIGTERM until continued.
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
        try:
            code = process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise StandinStartError(f"the stand-in did not stop within {STOP_TIMEOUT_S} s "
                                    f"and was killed; its data is lost. {self._log_tail()}"
                                    ) from None
        finally:
            self._close_pipe(process)
        if code != 0:
            raise StandinStartError(f"the stand-in exited with {code} on SIGTERM; "
                                    f"{self._log_tail()}")

    def close(self) -> None:
        """Stop and delete the temporary folder (state file included if it lives there)."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> StandinServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _running(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            raise StandinStartError("the stand-in is not running; call start()")
        return self._process

    def _await_ready_line(self, deadline: float) -> int:
        process = self._running()
        assert process.stdout is not None  # Popen was given stdout=PIPE
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if selector.select(timeout=0.2):
                    line = process.stdout.readline()
                    if line.startswith(_READY_PREFIX):
                        return int(line.rpartition(":")[2])
                    if not line:
                        break
        process.kill()
        process.wait()
        self._close_pipe(process)
        raise StandinStartError(f"the stand-in did not report its port within "
                                f"{STARTUP_TIMEOUT_S} s (exit code {process.returncode}). "
                                f"{self._log_tail()}")

    def _await_hello(self) -> None:
        timeout_ms = int(STARTUP_TIMEOUT_S * 1000)
        client: MongoClient[dict[str, object]] = MongoClient(
            self.uri, serverSelectionTimeoutMS=timeout_ms)
        try:
            client.admin.command("hello")
        except PyMongoError as err:
            raise StandinStartError(f"the stand-in on port {self._port} does not answer "
                                    f"hello: {err}. {self._log_tail()}") from err
        finally:
            client.close()

    def _log_tail(self, lines: int = 20) -> str:
        if not self.log_file.exists():
            return "It wrote no log."
        tail = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        return f"Last lines of {self.log_file}:\n" + "\n".join(tail)

    @staticmethod
    def _close_pipe(process: subprocess.Popen[str]) -> None:
        if process.stdout is not None:
            process.stdout.close()
