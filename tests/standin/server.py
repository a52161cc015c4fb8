"""The wire side: mockupdb listens on loopback and hands each command to the executor.

mockupdb reads OP_MSG (and legacy OP_QUERY hello) messages from every connection on its
own thread; ``WireServer`` answers them one at a time under a lock, so commands from many
clients never interleave and findAndModify is atomic, as on a real server.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from mockupdb import OP_MSG_FLAGS, CommandBase, MockupDB, OpMsg

from tests.standin.commands import Executor
from tests.standin.state import load_state, save_state

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


class WireServer:
    """A stand-in server on ``127.0.0.1:port`` (0 picks a free port), optionally loading
    and saving its data in ``state_file``, its clock ``clock_offset_s`` off this host's."""

    def __init__(self, *, port: int = 0, state_file: Path | None = None,
                 clock_offset_s: float = 0.0) -> None:
        self._executor = Executor(clock_offset_s=clock_offset_s)
        self._state_file = state_file
        self._lock = threading.Lock()
        self._stopping = False
        # mockupdb binds "localhost" resolved for IPv4 only, which is 127.0.0.1.
        self._mockup = MockupDB(port=port or None)
        self._mockup.autoresponds(self._answer)
        if state_file is not None and state_file.exists():
            load_state(self._executor.client, state_file)

    @property
    def command_names(self) -> list[str]:
        return self._executor.command_names

    def start(self) -> int:
        """Listen; returns the port."""
        port: int = self._mockup.run()
        logger.info("The MongoDB stand-in listens on %s:%s.", LOOPBACK, port)
        return port

    def stop(self) -> None:
        """Finish the command in progress, save the data, hang up on everyone."""
        with self._lock:
            self._stopping = True
            if self._state_file is not None:
                save_state(self._executor.client, self._state_file)
        self._mockup.stop()
        logger.info("The MongoDB stand-in has stopped.")

    def _answer(self, request: Any) -> bool:
        with self._lock:
            if self._stopping:
                # Saved already: a command run now would be lost, so refuse it unanswered;
                # the client sees a dropped connection, as with a real server going down.
                return bool(request.hangup())
            reply = self._reply_to(request)
            if isinstance(request, OpMsg) and request.flags & OP_MSG_FLAGS["moreToCome"]:
                return True  # an unacknowledged write (w=0): the client awaits no reply
            return bool(request.replies(reply))

    def _reply_to(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, CommandBase):
            return {"ok": 0, "code": 115, "codeName": "CommandNotSupported",
                    "errmsg": f"the test stand-in answers commands only, not {request!r}"}
        database = request.doc.get("$db") or request.namespace.partition(".")[0]
        try:
            return self._executor.execute(database, request.doc)
        except Exception:  # the server loop's boundary: answer, log, keep serving
            logger.exception("The stand-in failed on %r.", request)
            return {"ok": 0, "code": 1, "codeName": "InternalError",
                    "errmsg": "the test stand-in failed on this command; see its log"}
