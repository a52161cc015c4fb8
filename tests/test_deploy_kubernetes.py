"""Static checks of deploy/kubernetes/: schemas, roles, secrets and stop grace.

No cluster runs where these tests run. The manifests are validated strictly (unknown
fields are errors) against the Kubernetes schemas that the kubernetes-validate package
ships, for the oldest Kubernetes we claim and the newest it knows.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from tests.deploy.cli_surface import worker_grace_period_s
from tests.deploy.files import app_containers, container_env, manifests

K8S_VERSIONS = ("1.29", "latest")
# A trial on the sample data takes well under this; the stop grace must cover it.
SAMPLE_TRIAL_S = 10.0


def validate(document: dict[str, Any], version: str) -> None:
    if version == "latest":
        version = kubernetes_validate.utils.latest_version()
    kubernetes_validate.validate(document, version, strict=True)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_validates_against_the_kubernetes_schemas(version: str) -> None:
    for _name, document in manifests():
        validate(document, version)


def test_the_schema_check_rejects_a_misspelled_field() -> None:
    (deployment,) = [doc for _, doc in manifests() if doc["kind"] == "Deployment"]
    deployment["spec"]["replica"] = deployment["spec"].pop("replicas")

    with pytest.raises(kubernetes_validate.ValidationError, match="replica"):
        validate(deployment, "latest")


def test_mongo_is_a_statefulset_workers_a_deployment_and_the_coordinator_a_job() -> None:
    kinds = [document["kind"] for _, document in manifests()]
    commands = {kind: " ".join(container["command"]) for kind, _, container in app_containers()}
    (deployment,) = [document for _, document in manifests() if document["kind"] == "Deployment"]

    assert "StatefulSet" in kinds
    assert commands.keys() == {"Deployment", "Job"}
    assert commands["Deployment"].startswith("python -m worker")
    assert commands["Job"].startswith("python -m coordinator run")
    assert deployment["spec"]["replicas"] >= 2


def test_pods_take_the_mongo_uri_from_a_secret_and_run_as_non_root() -> None:
    for _kind, spec, container in app_containers():
        (uri,) = [item for item in container["env"] if item["name"] == "OCRTUNE_MONGO"]

        assert uri["valueFrom"]["secretKeyRef"] == {"name": "ocrtune-mongo", "key": "uri"}
        assert spec["securityContext"]["runAsNonRoot"] is True


def test_workers_and_coordinator_serve_the_same_experiment() -> None:
    exp_keys = {kind: container_env(container)["OCRTUNE_EXP_KEY"]
                for kind, _, container in app_containers()}

    assert exp_keys["Deployment"] == exp_keys["Job"]


def test_worker_termination_grace_outlasts_its_own_grace_period_and_a_trial() -> None:
    ((_, spec, container),) = [item for item in app_containers() if item[0] == "Deployment"]
    grace_s = worker_grace_period_s(container_env(container).get("OCRTUNE_GRACE_PERIOD_S"))

    assert spec["terminationGracePeriodSeconds"] >= grace_s + SAMPLE_TRIAL_S


def test_no_manifest_defines_a_secret_with_its_value() -> None:
    assert [name for name, document in manifests() if document["kind"] == "Secret"] == []
