"""Static checks of the Docker image, the compose file, the lock and docs/deploy.md.

No Docker engine runs where these tests run, so nothing here builds or starts anything.
The compose file is checked against the Compose Specification's JSON schema as vendored by
check-jsonschema. Commands and variables are checked in test_deploy_commands.py, the
Kubernetes manifests in test_deploy_kubernetes.py; docs/deploy.md lists what stays
unchecked.
"""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from importlib import resources
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from shared.errors import ConfigError
from tests.deploy.cli_surface import worker_grace_period_s
from tests.deploy.files import (
    COMPOSE,
    DOCKERFILE,
    DOCKERIGNORE,
    DOCS,
    ENV_EXAMPLE,
    LOCK,
    ROOT,
    TEST_PASSWORD,
    arguments_of,
    compose,
    compose_raw,
    credentials_only_env,
    dockerfile,
    dockerfile_env,
    dockerignore_excludes,
    duration_s,
    env_file,
    example_env,
    service,
)
from tests.deploy.secrets import likely_secrets

# A trial on the sample data takes well under this; the stop grace must cover it.
SAMPLE_TRIAL_S = 10.0

# -- docker-compose.yml ----------------------------------------------------------------------


def compose_validator() -> jsonschema.Draft202012Validator:
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return jsonschema.Draft202012Validator(json.loads(vendored.read_text(encoding="utf-8")))


def test_compose_file_follows_the_compose_specification_schema() -> None:
    validator = compose_validator()

    raw_errors = [error.message for error in validator.iter_errors(compose_raw())]
    interpolated_errors = [error.message for error in validator.iter_errors(compose())]

    assert raw_errors == []
    assert interpolated_errors == []


def test_compose_schema_check_rejects_a_misspelled_service_key() -> None:
    config = compose()
    config["services"]["worker"]["stop_grace_perod"] = "60s"

    errors = list(compose_validator().iter_errors(config))

    assert any("stop_grace_perod" in error.message for error in errors)


def test_compose_stops_with_a_clear_message_when_the_mongo_password_is_unset() -> None:
    env = {**example_env(), "MONGO_ROOT_PASSWORD": ""}

    with pytest.raises(ConfigError, match=r"MONGO_ROOT_PASSWORD.*\.env\.example"):
        compose(env)


def test_mongo_runs_a_pinned_major_version_with_credentials_from_the_environment() -> None:
    mongo = compose_raw()["services"]["mongo"]

    assert re.fullmatch(r"mongo:\d+(\.\d+)?", mongo["image"]), mongo["image"]
    for key in ("MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD"):
        assert mongo["environment"][key].startswith("${MONGO_ROOT_"), key


def test_mongo_keeps_its_data_on_a_named_volume_and_has_a_mongosh_ping_healthcheck() -> None:
    config = compose()
    mongo = config["services"]["mongo"]

    volume, _, target = mongo["volumes"][0].partition(":")
    check = " ".join(mongo["healthcheck"]["test"])

    assert target == "/data/db"
    assert volume in config["volumes"]
    assert "mongosh" in check
    assert "ping" in check


def published_host_ip(port: str | dict[str, str]) -> str | None:
    """The host address a port entry publishes on; None means every interface."""
    if isinstance(port, dict):
        return port.get("host_ip") if "published" in port else "not published"
    parts = str(port).split(":")
    return parts[0] if len(parts) == 3 else None


def test_no_service_publishes_a_port_beyond_loopback() -> None:
    services = compose()["services"]

    host_ips = {(name, published_host_ip(port))
                for name, spec in services.items() for port in spec.get("ports", [])}

    assert services["mongo"]["ports"] == ["127.0.0.1:27017:27017"]
    assert host_ips <= {("mongo", "127.0.0.1")}


def test_workers_can_be_scaled_restart_on_failure_and_start_once_mongo_is_healthy() -> None:
    worker = service("worker")

    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["restart"] == "on-failure"
    assert worker["stop_signal"] == "SIGTERM"
    assert worker["depends_on"]["mongo"]["condition"] == "service_healthy"


def test_worker_stop_grace_period_outlasts_its_own_grace_period_and_a_trial() -> None:
    worker = service("worker")
    grace_s = worker_grace_period_s(worker["environment"].get("OCRTUNE_GRACE_PERIOD_S"))

    assert duration_s(worker["stop_grace_period"]) >= grace_s + SAMPLE_TRIAL_S


def test_coordinator_runs_one_experiment_from_environment_settings_with_defaults() -> None:
    coordinator = compose(credentials_only_env())["services"]["coordinator"]
    settings = coordinator["environment"]

    assert settings["OCRTUNE_DATA"] == "/data"
    assert "./data:/data:ro" in coordinator["volumes"]
    assert all(settings[key] for key in ("OCRTUNE_EXP_KEY", "OCRTUNE_MAX_EVALS",
                                         "OCRTUNE_ALGO"))
    assert coordinator["depends_on"]["mongo"]["condition"] == "service_healthy"


def test_workers_serve_the_coordinators_experiment_through_the_same_connection() -> None:
    worker, coordinator = service("worker"), service("coordinator")

    for key in ("OCRTUNE_EXP_KEY", "OCRTUNE_MONGO"):
        assert worker["environment"][key] == coordinator["environment"][key], key
    assert coordinator["environment"]["OCRTUNE_MONGO"] == (
        f"mongodb://ocrtune:{TEST_PASSWORD}@mongo:27017/ocrtune?authSource=admin")


def test_env_example_leaves_the_password_empty_and_git_ignores_env() -> None:
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()

    assert env_file(ENV_EXAMPLE)["MONGO_ROOT_PASSWORD"] == ""
    assert ".env" in ignored


# -- Dockerfile and .dockerignore ------------------------------------------------------------


def test_dockerfile_starts_from_a_pinned_debian_python_slim_image() -> None:
    (base,) = arguments_of("FROM")

    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-(bookworm|trixie)(@sha256:[0-9a-f]{64})?",
                        base), base


def test_dockerfile_installs_tesseract_from_debian_without_extras_or_apt_lists() -> None:
    (apt,) = [text for text in arguments_of("RUN") if "apt-get install" in text]

    assert "--no-install-recommends" in apt
    assert {"tesseract-ocr", "tesseract-ocr-eng"} <= set(apt.split())
    assert "rm -rf /var/lib/apt/lists/*" in apt


def test_dockerfile_installs_the_locked_requirements_then_the_project_without_deps() -> None:
    installs = [text for text in arguments_of("RUN") if "pip install" in text]

    assert len(installs) == 2
    assert "-r /tmp/requirements.lock" in installs[0]
    assert "--no-deps" in installs[1]


def test_dockerfile_runs_as_a_non_root_user_with_unbuffered_output_and_one_ocr_thread() -> None:
    user = arguments_of("USER")[-1].split(":")[0]

    assert user not in ("root", "0")
    assert dockerfile_env()["OMP_THREAD_LIMIT"] == "1"
    assert dockerfile_env()["PYTHONUNBUFFERED"] == "1"


def test_every_dockerfile_instruction_says_why_in_a_comment_above_it() -> None:
    unexplained = [f"{item.keyword} {item.arguments}" for item in dockerfile()
                   if not item.explained]

    assert unexplained == []


def test_dockerfile_copy_sources_exist_and_reach_the_build_context() -> None:
    sources = [word for text in arguments_of("COPY") if "--from" not in text
               for word in text.split()[:-1] if not word.startswith("--")]

    assert [source for source in sources if not (ROOT / source).exists()] == []
    assert [source for source in sources if dockerignore_excludes(source)] == []
    assert not dockerignore_excludes("coordinator/cli.py")


@pytest.mark.parametrize("path", [
    ".git/HEAD", ".env", ".venv/bin/python", "venv/bin/python", ".pytest_cache/v/x",
    ".mypy_cache/3.11/x.json", ".ruff_cache/x", "shared/__pycache__/trials.cpython-311.pyc",
    "tests/test_deploy.py", "data/images/x.png", "runs/history.sqlite",
])
def test_dockerignore_leaves_git_env_venvs_caches_and_tests_out_of_the_context(
        path: str) -> None:
    assert dockerignore_excludes(path)


# -- requirements.lock -----------------------------------------------------------------------


def locked() -> dict[str, str]:
    lines = [line for line in LOCK.read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#")]
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9._-]*==[\w.+!-]+", line) for line in lines), lines
    return {name: version for name, _, version in (line.partition("==") for line in lines)}


def test_lock_pins_every_runtime_dependency_and_the_build_backend_at_allowed_versions() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = [Requirement(text) for text in (*pyproject["project"]["dependencies"],
                                             *pyproject["build-system"]["requires"])]
    pins = locked()

    unmet = [str(requirement) for requirement in wanted if not requirement.specifier.contains(
        pins.get(canonicalize_name(requirement.name), "0.0.0.dev0"), prereleases=True)]

    assert unmet == []


def test_lock_leaves_the_test_tools_out_of_the_image() -> None:
    assert {"pytest", "mypy", "ruff", "mongomock", "mockupdb"}.isdisjoint(locked())


def lock_script() -> ModuleType:
    path = ROOT / "deploy" / "lock_requirements.py"
    spec = importlib.util.spec_from_file_location("lock_requirements", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lock_script_pins_installed_dependencies_transitively(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["jsonschema"]\n'
                         '[build-system]\nrequires = ["click"]\n', encoding="utf-8")
    script = lock_script()

    pins = script.resolve(script.top_level_requirements(pyproject))

    assert {"jsonschema", "referencing", "click"} <= set(pins)
    assert "pytest" not in pins


def test_lock_script_stops_naming_a_dependency_that_is_not_installed(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["no-such-package-xyz"]\n'
                         '[build-system]\nrequires = []\n', encoding="utf-8")
    script = lock_script()

    with pytest.raises(SystemExit, match="no-such-package-xyz"):
        script.resolve(script.top_level_requirements(pyproject))


# -- no password in committed files ----------------------------------------------------------

SECRET_FREE_FILES = (COMPOSE, DOCKERFILE, DOCKERIGNORE, ENV_EXAMPLE, DOCS,
                     *sorted((ROOT / "deploy").rglob("*.yaml")))


@pytest.mark.parametrize("path", SECRET_FREE_FILES, ids=lambda path: path.name)
def test_no_committed_deploy_file_holds_a_password(path: Path) -> None:
    assert likely_secrets(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("text", [
    "MONGO_ROOT_PASSWORD=hunter2", "MONGO_INITDB_ROOT_PASSWORD: example",
    "OCRTUNE_MONGO=mongodb://root:s3cret@mongo:27017/ocrtune",
    "--from-literal=root-password=s3cret", "api_token: 'abc123'",
])
def test_the_secret_scan_finds_a_literal_password(text: str) -> None:
    assert likely_secrets(text) != []


def test_the_secret_scan_accepts_references_and_placeholders() -> None:
    text = ("MONGO_ROOT_PASSWORD=\nPASSWORD: ${MONGO_ROOT_PASSWORD:?set it: see .env}\n"
            "mongodb://USER:PASSWORD@mongo:27017/x\nroot-password=\"$MONGO_PASSWORD\"\n"
            "secretKeyRef:\n  name: ocrtune-mongo")

    assert likely_secrets(text) == []


# -- docs/deploy.md --------------------------------------------------------------------------


@pytest.mark.parametrize("step", [
    "cp .env.example .env", "docker compose up -d --scale worker=8",
    "docker compose logs -f coordinator", "docker compose exec mongo", "mongosh",
    "docker compose stop", "kubectl apply -f deploy/kubernetes/workers.yaml",
    "deploy/lock_requirements.py", "could not be checked here",
])
def test_deploy_docs_show_each_step_the_issue_asks_for(step: str) -> None:
    assert step in DOCS.read_text(encoding="utf-8")
