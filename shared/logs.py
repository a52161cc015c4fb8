"""Logging set-up shared by the command-line programs."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def configure_logging(level: str) -> None:
    """Log to standard error at ``level``; quiet the libraries' chatter below WARNING."""
    logging.basicConfig(level=level, format=LOG_FORMAT, force=True)
    # hyperopt logs every suggestion at INFO ("build_posterior_wrapper took ...").
    for noisy in ("hyperopt", "pymongo", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
