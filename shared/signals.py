"""Turning SIGTERM and SIGINT into a stop request the loops check between steps."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from types import FrameType

logger = logging.getLogger(__name__)


def stop_on_signals(what: str, *, hurry: threading.Event | None = None,
                    hurry_means: str = "") -> threading.Event:
    """An event set by the first SIGTERM or SIGINT; call from the main thread only.

    ``what`` says in the log what the stop leads to ("the worker finishes its trial ...").
    With ``hurry``, the second signal sets that event too, for what can be cut short (a
    grace period); ``hurry_means`` says in the log what it leads to.
    """
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            if hurry is not None and not hurry.is_set():
                logger.warning("%s again: %s.", name, hurry_means)
                hurry.set()
                return
            logger.info("%s again: already stopping.", name)
            return
        logger.info("%s received: %s.", name, what)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


@contextlib.contextmanager
def handlers_restored() -> Iterator[None]:
    """Run the block, then give SIGTERM and SIGINT back the handlers they had before it.

    A search takes the signals over (``stop_on_signals``) for as long as it runs; after it,
    Ctrl-C must end the program again instead of stopping a search that has ended.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread sets handlers, so the block cannot have changed them
        return
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            if handler is not None:  # None: set outside Python, and left as it is
                signal.signal(signum, handler)
