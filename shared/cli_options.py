"""Options and checks of values that the coordinator's and the worker's commands share."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from shared.errors import ConfigError
from shared.store.uri import parse_mongo_uri


class VariableNamingOption(click.Option):
    """An option whose error names the environment variable its bad value came from.

    click names only the option ("Invalid value for '--trial-timeout'"), which misleads
    someone who never typed it: the value came from a deployment's file or their shell.
    """

    def get_error_hint(self, ctx: click.Context | None) -> str:
        hint = super().get_error_hint(ctx)
        if (ctx is not None and self.name is not None and isinstance(self.envvar, str)
                and ctx.get_parameter_source(self.name) is ParameterSource.ENVIRONMENT):
            return f"{hint} (from {self.envvar})"
        return hint


class NumberRange(click.FloatRange):
    """click's FloatRange, refusing a value that is no number as "not a valid number".

    click's own words, "'abc' is not a valid float range", read as if a range were wanted;
    the help shows ``NUMBER`` and the range instead of ``FLOAT RANGE``.
    """

    name = "number"


class IntegerRange(click.IntRange):
    """click's IntRange, refusing a value that is no whole number as "not a valid integer"."""

    name = "integer"


# ``click.option`` making VariableNamingOption options: every option of our commands.
option = functools.partial(click.option, cls=VariableNamingOption)

F = TypeVar("F", bound=Callable[..., Any])


def mongo_option(help_text: str, *, required: bool = False) -> Callable[[F], F]:
    """``--mongo URI`` (or ``OCRTUNE_MONGO``), checked before anything connects."""
    return option("--mongo", required=required, envvar="OCRTUNE_MONGO", metavar="URI",
                  callback=check_mongo_uri, help=help_text)


def exp_key_option(help_text: str) -> Callable[[F], F]:
    """``--exp-key NAME`` (or ``OCRTUNE_EXP_KEY``); an empty or blank name is refused."""
    return option("--exp-key", envvar="OCRTUNE_EXP_KEY", callback=check_exp_key,
                  help=help_text)


def check_mongo_uri(_ctx: click.Context, _param: click.Parameter, value: str | None
                    ) -> str | None:
    """``--mongo``: a URI that parses, checked before anything connects (the error, like
    every one about a URI, never shows its password)."""
    if value is not None:
        try:
            parse_mongo_uri(value)
        except ConfigError as err:
            raise click.BadParameter(str(err)) from None
    return value


def check_exp_key(_ctx: click.Context, _param: click.Parameter, value: str | None
                  ) -> str | None:
    """``--exp-key``: absent (None), or text that is not empty or only whitespace.

    Refused rather than passed on: an empty key would quietly mean the default experiment,
    and a key of spaces would name an experiment nobody can tell apart in a listing.
    """
    if value is not None and not value.strip():
        raise click.BadParameter(f"{value!r} names no experiment; give the experiment's "
                                 "name, e.g. --exp-key ocr-data (`python -m coordinator "
                                 "status`, given the same --history or --mongo, lists "
                                 "them)")
    return value
