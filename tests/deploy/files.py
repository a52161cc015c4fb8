"""Paths of the deployment files, and readers that parse them as their tools would.

Compose interpolation and .dockerignore matching are reimplemented here for the subset of
each that the files use, because neither Docker nor compose runs where the tests run.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shared.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
LOCK = ROOT / "requirements.lock"
DOCS = ROOT / "docs" / "deploy.md"
K8S_DIR = ROOT / "deploy" / "kubernetes"

# The password the tests put where a user's .env has theirs.
TEST_PASSWORD = "pw4tests"

# -- compose ---------------------------------------------------------------------------------

# The subset of compose's interpolation these files may use: $$, $NAME, ${NAME} and
# ${NAME<op>text} with op one of :- - :? ? :+ +.
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<named>[A-Za-z_]\w*)"
    r"|\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?+])(?P<text>[^}]*))?\})"
)


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Substitute variables as compose does; ConfigError where compose would stop."""
    if "$" in _VARIABLE.sub("", value):
        raise ConfigError(f"{value!r} uses interpolation beyond what these tests understand")

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["named"] or match["braced"]
        op, text, current = match["op"] or "", match["text"] or "", env.get(name)
        # With a colon, an empty value counts as unset, as in the shell.
        is_set = current is not None and (current != "" or not op.startswith(":"))
        if op.endswith("?") and not is_set:
            raise ConfigError(f"required variable {name} is missing a value: {text}")
        if op.endswith("-") and not is_set:
            return text
        if op.endswith("+"):
            return text if is_set else ""
        return current or ""

    return _VARIABLE.sub(substitute, value)


def interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    """Interpolate every string value of a parsed YAML document; keys stay as they are."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    return node


def env_file(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {key.strip(): value.strip() for key, value in pairs}


def example_env() -> dict[str, str]:
    """.env.example as a user fills it in: with a password."""
    return {**env_file(ENV_EXAMPLE), "MONGO_ROOT_PASSWORD": TEST_PASSWORD}


def credentials_only_env() -> dict[str, str]:
    """A .env with nothing but the credentials: compose's own defaults apply."""
    return {"MONGO_ROOT_USER": "ocrtune", "MONGO_ROOT_PASSWORD": TEST_PASSWORD}


def compose_raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def compose(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The compose model after interpolation, by default with the filled-in example env."""
    config: dict[str, Any] = interpolate_tree(compose_raw(),
                                              example_env() if env is None else env)
    return config


def service(name: str) -> dict[str, Any]:
    services: dict[str, dict[str, Any]] = compose()["services"]
    return services[name]


def duration_s(text: str) -> float:
    """A compose duration such as ``1m30s`` in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
    if "".join(number + unit for number, unit in parts) != text:
        raise ConfigError(f"{text!r} is not a compose duration like 1m30s")
    return sum(float(number) * units[unit] for number, unit in parts)


# -- Dockerfile ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    explained: bool  # a comment stands above the group of instructions it belongs to


def dockerfile() -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined."""
    instructions, explained, pending = [], False, ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped:
            explained = False
        elif stripped.startswith("#"):
            explained = explained or not pending
        elif stripped.endswith("\\"):
            pending += stripped[:-1] + " "
        else:
            keyword, _, arguments = (pending + stripped).partition(" ")
            instructions.append(Instruction(keyword.upper(), arguments.strip(), explained))
            pending = ""
    return instructions


def arguments_of(keyword: str) -> list[str]:
    return [item.arguments for item in dockerfile() if item.keyword == keyword]


def dockerfile_env() -> dict[str, str]:
    words = [word for text in arguments_of("ENV") for word in shlex.split(text)]
    return {key: value for key, _, value in (word.partition("=") for word in words)}


def dockerignore_excludes(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or a folder above it decides."""
    lines = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()]
    parents = ["/".join(path.split("/")[: depth + 1]) for depth in range(path.count("/") + 1)]
    excluded = False
    for line in (line for line in lines if line and not line.startswith("#")):
        pattern = re.escape(line.removeprefix("!").strip("/"))
        pattern = pattern.replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        pattern = pattern.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(pattern, parent) for parent in parents):
            excluded = not line.startswith("!")
    return excluded


# -- Kubernetes ------------------------------------------------------------------------------


def manifests() -> list[tuple[str, dict[str, Any]]]:
    """(file name, document) for every document in deploy/kubernetes/*.yaml."""
    found = [(path.name, document) for path in sorted(K8S_DIR.glob("*.yaml"))
             for document in yaml.safe_load_all(path.read_text(encoding="utf-8")) if document]
    if not found:
        raise ConfigError(f"no manifests in {K8S_DIR}")
    return found


def pod_spec(document: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = document["spec"]
    return spec if document["kind"] == "Pod" else spec["template"]["spec"]


def app_containers() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(kind, pod spec, container) for the workers' Deployment and the coordinator's Job."""
    return [(document["kind"], pod_spec(document), container)
            for _, document in manifests() if document["kind"] in ("Deployment", "Job")
            for container in pod_spec(document)["containers"]]


def container_env(container: dict[str, Any]) -> dict[str, str]:
    """The literal ``value`` entries of a container's env; ``valueFrom`` ones are left out."""
    return {item["name"]: item["value"] for item in container.get("env", []) if "value" in item}
