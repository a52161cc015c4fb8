"""The README names only commands, options and OCRTUNE_* variables that exist, and its
rule for the variables' names holds for every option.

Checked against the real click commands, as tests/test_deploy_commands.py does for the
deployment files.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click

from tests.deploy.cli_surface import (
    all_envvars,
    check_invocation,
    coordinator_group,
    invocations_in_text,
    worker_command,
)

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
# Variables the tests read, not the programs (the README's "Tests" section).
TEST_VARIABLES = {"OCRTUNE_TEST_MONGO_URI", "OCRTUNE_PHOTOS"}
# Options of other programs the README runs: click's own, docker compose's, mypy's.
OTHER_TOOLS_OPTIONS = {"--help", "--scale", "--strict"}
# "`coordinator best`", "`coordinator history --state error`": commands named in prose.
_PROSE_COMMAND = re.compile(r"`(coordinator [a-z][^`]*)`")


def options_by_command() -> dict[str, list[click.Option]]:
    group = coordinator_group()
    commands: dict[str, click.Command] = {"": group, **group.commands,
                                          "worker": worker_command()}
    return {name: [p for p in command.params if isinstance(p, click.Option)]
            for name, command in commands.items()}


def expected_variable(option: click.Option) -> str:
    """The README's rule: OCRTUNE_, the name in capitals, _S for an option in seconds."""
    name = option.opts[0].removeprefix("--").upper().replace("-", "_")
    return f"OCRTUNE_{name}_S" if (option.name or "").endswith("_s") else f"OCRTUNE_{name}"


def test_every_command_and_option_the_readme_runs_exists_on_the_real_cli() -> None:
    # Given every `python -m ...` in the README and every `coordinator ...` named in prose
    # (the bare `python -m coordinator` that names the program is left out)
    found = [words for words in invocations_in_text(README) if len(words) > 3]
    found += [["python", "-m", *text.split()] for text in _PROSE_COMMAND.findall(README)]

    # When each is checked against the commands
    problems = [problem for words in found for problem in check_invocation(words)]

    # Then all of them exist
    assert len(found) >= 10
    assert problems == []


def test_every_option_the_readme_names_is_an_option_of_some_command() -> None:
    from bench.speed import main as bench_main

    known = {opt for options in options_by_command().values() for option in options
             for opt in option.opts}
    known |= {opt for param in bench_main.params for opt in param.opts}

    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", README))

    assert sorted(named - known - OTHER_TOOLS_OPTIONS) == []


def test_every_ocrtune_variable_the_readme_names_is_read_by_a_command() -> None:
    named = set(re.findall(r"\bOCRTUNE_[A-Z0-9_]+\b", README)) - TEST_VARIABLES

    assert sorted(named - set(all_envvars())) == []


def test_every_option_reads_the_variable_the_readme_rule_gives_or_the_readme_says_none(
        ) -> None:
    # Given the README's paragraph on variables
    start = README.index("Options can also be set in the environment")
    paragraph = README[start:README.index("\n\n", start)]

    # When every option's variable is compared with the rule
    wrong = [f"{name} {option.opts[0]}: {option.envvar}"
             for name, options in options_by_command().items() for option in options
             if option.envvar is not None and option.envvar != expected_variable(option)]
    without = [(name, option.opts[0]) for name, options in options_by_command().items()
               for option in options if option.envvar is None
               and option.opts[0] not in ("--version", "--help")]

    # Then each follows it, and the options without one are the ones the README lists
    assert wrong == []
    assert without
    assert [(name, opt) for name, opt in without if opt not in paragraph
            or (name != "apply" and name not in paragraph)] == []


def test_every_run_option_is_in_the_readme_options_table() -> None:
    table = README[README.index("| option | default | meaning |"):]
    table = table[:table.index("\n\n")]

    missing = [option.opts[0] for option in options_by_command()["run"]
               if f"`{option.opts[0]}" not in table]

    assert missing == []


def test_the_benchmark_commands_the_readme_gives_take_those_options() -> None:
    # Given every `python -m bench.speed ...` in the README
    from bench.speed import main as bench_main

    found = [shlex.split(line, comments=True)
             for line in re.findall(r"python -m bench\.speed[^\n`]*", README)]
    known = {opt for param in bench_main.params for opt in param.opts}

    # When their options are compared with the benchmark's, then each exists
    assert found
    assert [word for words in found for word in words if word.startswith("--")
            and word.split("=")[0] not in known] == []
