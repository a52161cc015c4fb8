"""The real click commands' options and variables, and checks of invocations against them.

The commands are imported when a check runs, not at import time, so that a missing entry
point fails the tests that need it with its ImportError instead of stopping collection.
"""

from __future__ import annotations

import re
import shlex

import click


def coordinator_group() -> click.Group:
    from coordinator.cli import cli

    if not isinstance(cli, click.Group):
        raise TypeError(f"coordinator.cli:cli must be a click group, not {type(cli).__name__}")
    return cli


def worker_command() -> click.Command:
    from worker.cli import cli

    if not isinstance(cli, click.Command):
        raise TypeError(f"worker.cli:cli must be a click command, not {type(cli).__name__}")
    return cli


def option_of(params: list[click.Parameter], opt: str) -> click.Parameter:
    (param,) = [param for param in params if opt in param.opts]
    return param


def envvars_of(params: list[click.Parameter]) -> dict[str, click.Parameter]:
    found: dict[str, click.Parameter] = {}
    for param in params:
        names = [param.envvar] if isinstance(param.envvar, str) else param.envvar or []
        found.update(dict.fromkeys(names, param))
    return found


def all_envvars() -> dict[str, click.Parameter]:
    group = coordinator_group()
    commands = [worker_command(), group, *group.commands.values()]
    return envvars_of([param for command in commands for param in command.params])


def _first_positional(arguments: list[str], params: list[click.Parameter]) -> int | None:
    """Index of the first word that is neither an option nor an option's value."""
    takes_value = {opt for param in params if not getattr(param, "is_flag", False)
                   for opt in param.opts}
    skip_next = False
    for index, word in enumerate(arguments):
        if skip_next:
            skip_next = False
        elif word.startswith("-"):
            skip_next = "=" not in word and word in takes_value
        else:
            return index
    return None


def resolve(words: list[str]) -> tuple[str, list[click.Parameter], list[str]]:
    """(name, parameters in force, arguments) of ``python -m coordinator|worker ...``.

    Raises LookupError naming the subcommand when the coordinator has no such subcommand.
    """
    module, arguments = words[2], words[3:]
    if module == "worker":
        return "worker", list(worker_command().params), arguments
    group = coordinator_group()
    position = _first_positional(arguments, list(group.params))
    name = "" if position is None else arguments[position]
    if position is None or name not in group.commands:
        raise LookupError(f"`python -m coordinator {name}`: no such subcommand")
    rest = arguments[:position] + arguments[position + 1:]
    return f"coordinator {name}", [*group.params, *group.commands[name].params], rest


def check_invocation(words: list[str]) -> list[str]:
    """Problems with one ``python -m coordinator|worker ...`` invocation; [] if none."""
    try:
        name, params, arguments = resolve(words)
    except LookupError as err:
        return [str(err)]
    known = {opt for param in params for opt in (*param.opts, *param.secondary_opts)}
    options = {word.split("=")[0] for word in arguments if word.startswith("-")}
    return [f"`python -m {name}`: no option {option}"
            for option in sorted(options - known - {"--help"})]


_INVOCATION = re.compile(r"python3? -m (?:coordinator|worker)\b[^\n`|;&)]*")


def invocations_in_text(text: str) -> list[list[str]]:
    """Every ``python -m coordinator|worker ...`` in a text, as shell words."""
    joined = text.replace("\\\n", " ")
    return [shlex.split(match, comments=True) for match in _INVOCATION.findall(joined)]


def check_env(words: list[str], env: dict[str, str]) -> list[str]:
    """Problems with the OCRTUNE_* variables given to an invocation: unknown or invalid."""
    name, params, _ = resolve(words)
    readable = envvars_of(params)
    problems = []
    for variable, value in sorted(env.items()):
        param = readable.get(variable)
        if param is None:
            problems.append(f"`python -m {name}` reads no {variable}")
        # Paths are left out: /data exists in the container, not where the tests run.
        elif not isinstance(param.type, click.Path):
            try:
                param.type.convert(value, param, None)
            except click.BadParameter as err:
                problems.append(f"`python -m {name}`: {variable}={value!r}: {err.message}")
    return problems


def worker_grace_period_s(configured: str | None) -> float:
    """The worker's grace period: the value a deployment file sets, else the default."""
    if configured:
        return float(configured)
    default = option_of(list(worker_command().params), "--grace-period").default
    if not isinstance(default, int | float):
        raise TypeError(f"worker --grace-period has no numeric default ({default!r})")
    return float(default)
