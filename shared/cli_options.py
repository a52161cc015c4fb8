"""Checks of command-line values that the coordinator's and the worker's commands share."""

from __future__ import annotations

import click


def check_exp_key(_ctx: click.Context, _param: click.Parameter, value: str | None
                  ) -> str | None:
    """``--exp-key``: absent (None), or text that is not empty or only whitespace.

    Refused rather than passed on: an empty key would quietly mean the default experiment,
    and a key of spaces would name an experiment nobody can tell apart in a listing.
    """
    if value is not None and not value.strip():
        raise click.BadParameter(f"{value!r} names no experiment; give the experiment's "
                                 "name, e.g. --exp-key ocr-data (`python -m coordinator "
                                 "status` lists them)")
    return value
