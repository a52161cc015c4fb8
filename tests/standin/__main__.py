"""Run the MongoDB stand-in: ``python -m tests.standin --port P [--state-file F]
[--clock-offset-s S]``.

Prints ``listening on 127.0.0.1:PORT`` on stdout once it accepts connections, logs to
stderr, and on SIGTERM or SIGINT saves its data to the state file and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
from collections.abc import Sequence
from pathlib import Path

from tests.standin.server import LOOPBACK, WireServer

logger = logging.getLogger("tests.standin")

_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.standin",
        description="MongoDB wire-protocol stand-in for tests (mockupdb + mongomock); "
                    "not MongoDB.")
    parser.add_argument("--port", type=int, default=0,
                        help="port on 127.0.0.1 to listen on; 0 (default) picks a free one")
    parser.add_argument("--state-file", type=Path, default=None,
                        help="load data from this file at start, save it there on SIGTERM")
    parser.add_argument("--clock-offset-s", type=float, default=0.0,
                        help="report this host's time plus S seconds as the server's, as "
                             "a server whose clock is off would")
    parser.add_argument("--verbose", action="store_true", help="log at DEBUG level")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")

    # Blocked before any thread starts, so every thread inherits the mask and the signals
    # wait for sigwait below instead of interrupting a command half-way.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    server = WireServer(port=args.port, state_file=args.state_file,
                        clock_offset_s=args.clock_offset_s)
    port = server.start()
    print(f"listening on {LOOPBACK}:{port}", flush=True)

    received = signal.sigwait(_STOP_SIGNALS)
    logger.info("Received %s; saving state and stopping.", signal.Signals(received).name)
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
