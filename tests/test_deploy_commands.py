"""The deployment files run only commands, options and OCRTUNE_* variables that exist.

Each is checked against the real click commands (``coordinator.cli:cli`` and
``worker.cli:cli``): their subcommands, their options, each option's envvar, and whether
the value a file sets converts to the option's type. A missing entry point fails here.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.deploy.cli_surface import (
    all_envvars,
    check_env,
    check_invocation,
    invocations_in_text,
)
from tests.deploy.files import (
    COMPOSE,
    DOCKERFILE,
    DOCS,
    ENV_EXAMPLE,
    K8S_DIR,
    app_containers,
    arguments_of,
    compose,
    container_env,
    credentials_only_env,
    example_env,
)

SOURCES = ("Dockerfile", "docker-compose.yml", "deploy/kubernetes", "docs/deploy.md")


def invocations_in(source: str) -> list[list[str]]:
    """Every command line a deployment file runs, as words."""
    if source == "Dockerfile":
        return [json.loads(text) for text in arguments_of("CMD") + arguments_of("ENTRYPOINT")]
    if source == "docker-compose.yml":
        return [spec["command"] for spec in compose()["services"].values() if "command" in spec]
    if source == "deploy/kubernetes":
        return [[*container["command"], *container.get("args", [])]
                for _, _, container in app_containers()]
    return invocations_in_text(DOCS.read_text(encoding="utf-8"))


@pytest.mark.parametrize("source", SOURCES)
def test_every_command_and_option_in_the_deploy_files_exists_on_the_real_cli(
        source: str) -> None:
    found = [words for words in invocations_in(source) if words[:2] == ["python", "-m"]]

    problems = [problem for words in found for problem in check_invocation(words)]

    assert found, f"{source} runs neither the coordinator nor a worker"
    assert problems == []


def test_the_invocation_check_reports_an_unknown_option_and_an_unknown_subcommand() -> None:
    text = "python -m worker --no-such-option 1\npython -m coordinator walk --max-evals 3"

    problems = [problem for words in invocations_in_text(text)
                for problem in check_invocation(words)]

    assert problems == ["`python -m worker`: no option --no-such-option",
                        "`python -m coordinator walk`: no such subcommand"]


def variables_in(source: str) -> set[str]:
    paths = {"Dockerfile": [DOCKERFILE], "docker-compose.yml": [COMPOSE],
             "deploy/kubernetes": sorted(K8S_DIR.glob("*.yaml")), "docs/deploy.md": [DOCS],
             ".env.example": [ENV_EXAMPLE]}[source]
    text = "\n".join(path.read_text(encoding="utf-8") for path in paths)
    return set(re.findall(r"\bOCRTUNE_[A-Z0-9_]+", text))


@pytest.mark.parametrize("source", [*SOURCES, ".env.example"])
def test_every_ocrtune_variable_in_the_deploy_files_exists_on_the_real_cli(source: str) -> None:
    assert sorted(variables_in(source) - set(all_envvars())) == []


def test_each_service_sets_only_variables_its_own_command_reads_with_valid_values() -> None:
    # With .env.example's values, and with compose's own defaults when .env sets none.
    services = [(spec["command"], spec["environment"])
                for env in (example_env(), credentials_only_env())
                for spec in compose(env)["services"].values() if "command" in spec]
    pods = [(container["command"], container_env(container))
            for _, _, container in app_containers()]

    problems = [problem for words, env in services + pods for problem in check_env(words, env)]

    assert len(services + pods) == 6
    assert problems == []


def test_the_variable_check_reports_a_variable_of_the_other_command_and_a_bad_value() -> None:
    problems = check_env(["python", "-m", "worker"],
                         {"OCRTUNE_MAX_EVALS": "9", "OCRTUNE_GRACE_PERIOD_S": "soon"})

    assert problems[0].startswith("`python -m worker`: OCRTUNE_GRACE_PERIOD_S='soon'")
    assert problems[1] == "`python -m worker` reads no OCRTUNE_MAX_EVALS"
