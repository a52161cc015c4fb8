"""Security (issue 7, item 5), the parts one process can show: objective names are never
imported, TLS options are documented, passwords stay out of every message and log line,
the dataset is only read, and MongoDB is deployed with authentication.

The worker processes' side (pickles and module paths stored in the database, their logs
with a password in the URI, a read-only dataset) is in tests/e2e/test_untrusted_database.py.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import coordinator.run
from coordinator.cli import cli
from coordinator.run import RunRequest, run_experiment
from coordinator.settings import SearchSettings
from shared.errors import ObjectiveError
from shared.objective import check_compatible
from shared.ocr_objective import OCR_OBJECTIVE, ocr_spec
from shared.store.mongo import MongoTrialStore
from shared.store.uri import MongoTarget, parse_mongo_uri
from shared.trials import ObjectiveSpec
from tests.deploy.files import ROOT, app_containers, compose, manifests, pod_spec
from tests.e2e.database import QUICK_PARAMS
from tests.fakes.import_marker import MARKER_ENV
from tests.standin import StandinServer

PASSWORD = "hunter2-Zq9"
SAMPLE_DATA = ROOT / "data"
# An unreachable server is reported after this, not after pymongo's 30 s.
QUICK_FAIL = "serverSelectionTimeoutMS=300"
# Waits for a coordinator on a busy two-core machine; only reached when it hangs.
BACKSTOP_S = 120.0


# -- no code from the database -----------------------------------------------------------


@pytest.mark.parametrize("name", [
    "tests.fakes.import_marker:KIND",
    "tests.fakes.import_marker",
    "os:system",
    "shared.ocr_objective:OCR_OBJECTIVE",
])
def test_an_objective_named_by_a_module_path_is_refused_and_nothing_is_imported(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an experiment's objective named like code, and a module that marks its import
    marker = tmp_path / "imported"
    monkeypatch.setenv(MARKER_ENV, str(marker))
    monkeypatch.delitem(sys.modules, "tests.fakes.import_marker", raising=False)
    spec = ObjectiveSpec(name=name, version="1", space_version="1", fingerprint="none")

    # When a worker checks whether it can evaluate that experiment
    with pytest.raises(ObjectiveError) as refused:
        check_compatible(spec)

    # Then it is refused as an objective not installed here, and nothing was imported
    assert f"no objective called {name!r} is installed here" in str(refused.value)
    assert "known objectives: " in str(refused.value)
    assert not marker.exists()
    assert "tests.fakes.import_marker" not in sys.modules


@pytest.mark.parametrize(("settings", "path"), [
    ({"data_dir": b"\x80\x04pickle"}, "settings.data_dir"),
    ({"engine": "tesserocr", "langs": ["eng", object()]}, "settings.langs[1]"),
    ({"nested": {"deep": {1: "int key"}}}, "settings.nested.deep"),
])
def test_an_experiment_whose_settings_are_not_plain_json_is_refused_naming_the_setting(
        settings: dict[str, Any], path: str) -> None:
    # Given an OCR experiment whose settings hold what no coordinator writes
    spec = ObjectiveSpec(name="ocr", version=OCR_OBJECTIVE.version,
                         space_version=OCR_OBJECTIVE.space_version, fingerprint="none",
                         settings=settings)

    # When a worker checks whether it can evaluate it
    with pytest.raises(ObjectiveError) as refused:
        check_compatible(spec)

    # Then it is refused naming the setting and the way out
    assert f"{path} is not a plain JSON value" in str(refused.value)
    assert "recreate the experiment" in str(refused.value)


# -- TLS options -------------------------------------------------------------------------


def test_the_readme_documents_the_tls_options_of_the_uri() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    for option in ("tls=true", "tlsCAFile", "tlsCertificateKeyFile"):
        assert option in readme, option


def test_tls_options_of_hyperopts_mongo_form_reach_the_client(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("ca", encoding="utf-8")

    target = parse_mongo_uri(f"mongo://alice:{PASSWORD}@db1:27017/foo_db/jobs"
                             f"?tls=true&tlsCAFile={ca_file}")

    assert target.tls
    assert target.uri == (f"mongodb://alice:{PASSWORD}@db1:27017/foo_db"
                          f"?tls=true&tlsCAFile={ca_file}")
    assert PASSWORD not in target.redacted


# -- no password in messages or logs -----------------------------------------------------


def unreachable_uri() -> str:
    """A URI with a password, on a port where nothing listens."""
    return f"mongodb://alice:{PASSWORD}@127.0.0.1:1/trials?{QUICK_FAIL}"


@pytest.mark.parametrize("command", [
    ["status"], ["history"], ["best"], ["plot", "--out", "OUT/plot.png"],
    ["report", "--out", "OUT/report.html"],
])
def test_the_commands_that_read_an_unreachable_database_never_show_its_password(
        command: list[str], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Given a URI with a password, whose server cannot be reached
    argv = [arg.replace("OUT", str(tmp_path)) for arg in command]

    # When the command runs, logging everything
    result = CliRunner().invoke(cli, ["--log-level", "DEBUG", *argv, "--mongo",
                                      unreachable_uri()])

    # Then it fails saying so, with the user but without the password
    assert result.exit_code == 1, result.output
    assert "could not be reached" in result.output
    assert "alice:***@127.0.0.1:1" in result.output
    assert PASSWORD not in result.output + caplog.text


def test_a_search_whose_credentials_are_refused_stops_without_showing_the_password(
        caplog: pytest.LogCaptureFixture) -> None:
    # Given a server that refuses every login (the stand-in knows no users)
    with StandinServer() as standin:
        uri = f"mongodb://alice:{PASSWORD}@127.0.0.1:{standin.port}/trials"

        # When a search is started on it
        result = CliRunner().invoke(cli, ["--log-level", "DEBUG", "run", "--mongo", uri,
                                          "--objective", "sklearn", "--dataset", "iris",
                                          "--max-evals", "1"])

    # Then it stops with the hint to check the credentials, and no password
    assert result.exit_code == 1, result.output
    assert "check the user, password and authSource" in result.output
    assert "alice:***@" in result.output
    assert PASSWORD not in result.output + caplog.text


class _LogUntil(logging.Handler):
    """Keeps every formatted record (tracebacks included); sets ``stop`` on a phrase."""

    def __init__(self, phrase: str, stop: threading.Event) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        self.lines: list[str] = []
        self.stop = stop
        self._phrase = phrase

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        if self._phrase in record.getMessage():
            self.stop.set()


@pytest.fixture
def every_log_line() -> Iterator[_LogUntil]:
    """All log records of the test, at DEBUG; the search stops once no worker is seen."""
    handler = _LogUntil("No worker has been seen", threading.Event())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.slow
def test_the_no_worker_hint_shows_the_uri_without_its_password(
        mongo_target: MongoTarget, every_log_line: _LogUntil,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a coordinator told a URI with a password. The stand-in refuses logins, so its
    # store is opened on the test's database without them: what is checked is what the
    # coordinator shows of the URI it was given.
    monkeypatch.setattr(coordinator.run, "open_store", lambda **_: MongoTrialStore(
        mongo_target, server_selection_timeout_ms=15_000))
    request = RunRequest(objective="sklearn", dataset="iris", exp_key="hint",
                         mongo=f"mongodb://alice:{PASSWORD}@db.example.invalid/trials")
    settings = SearchSettings(max_evals=2, no_worker_warning_s=0.2)
    stop = every_log_line.stop
    backstop = threading.Timer(BACKSTOP_S, stop.set)
    backstop.start()

    # When it searches with no worker alive, until it says so
    try:
        result = run_experiment(request, settings, stop=stop)
    finally:
        backstop.cancel()

    # Then the hint names the URI with the user only, and no line shows the password
    hints = [line for line in every_log_line.lines if "No worker has been seen" in line]
    assert not result.outcome.completed
    assert hints, "\n".join(every_log_line.lines)
    assert "python -m worker --mongo mongodb://alice:***@db.example.invalid/trials" in hints[0]
    assert [line for line in every_log_line.lines if PASSWORD in line] == []


# -- the dataset is only read ------------------------------------------------------------


def _opens_while_evaluating(folder: Path) -> list[tuple[str, bool]]:
    """(path, opened for writing) of every file under ``folder`` opened while an OCR
    objective is set up on it and evaluates a trial; run in a process of its own, since an
    audit hook cannot be removed."""
    opened: list[tuple[str, bool]] = []
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def record(event: str, args: tuple[Any, ...]) -> None:
        if event != "open" or not isinstance(args[0], str | bytes | os.PathLike):
            return
        path, mode, flags = os.fsdecode(args[0]), args[1], args[2]
        if path.startswith(str(folder)):
            opened.append((path, bool(mode and set(mode) & set("wax+"))
                           or bool(flags and flags & writing)))

    sys.addaudithook(record)
    spec = ocr_spec(folder)
    objective = OCR_OBJECTIVE.load(spec)
    try:
        assert objective.evaluate(QUICK_PARAMS).is_ok
    finally:
        objective.close()
    return opened


@pytest.mark.slow
def test_setting_up_and_evaluating_the_ocr_objective_opens_dataset_files_for_reading_only(
        tmp_path: Path) -> None:
    # Given a copy of the sample dataset
    folder = (tmp_path / "data").resolve()
    shutil.copytree(SAMPLE_DATA, folder)
    files = {str(path) for sub in ("images", "texts") for path in (folder / sub).iterdir()}

    # When the OCR objective reads it and evaluates a trial, each file open recorded
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        opened = pool.apply(_opens_while_evaluating, (folder,))

    # Then every file was opened, and none for writing
    assert {path for path, _ in opened} == files
    assert [path for path, for_writing in opened if for_writing] == []


def test_compose_mounts_the_dataset_read_only_wherever_it_is_mounted() -> None:
    mounts = {name: [volume for volume in spec.get("volumes", [])
                     if volume.split(":")[1] == "/data"]
              for name, spec in compose()["services"].items()}

    assert mounts["coordinator"] and mounts["worker"]
    assert all(volume.endswith(":ro") for volumes in mounts.values() for volume in volumes)


def test_the_cluster_mounts_the_dataset_read_only_in_workers_and_coordinator() -> None:
    for kind, spec, container in app_containers():
        claims = {volume["name"]: volume["persistentVolumeClaim"]
                  for volume in spec["volumes"] if "persistentVolumeClaim" in volume}
        data_mounts = [mount for mount in container["volumeMounts"]
                       if mount["name"] in claims]

        assert data_mounts, kind
        assert all(mount.get("readOnly") is True for mount in data_mounts), kind
        assert all(claim.get("readOnly") is True for claim in claims.values()), kind


# -- MongoDB with authentication ---------------------------------------------------------


def test_compose_starts_mongo_with_a_root_account_and_never_without_authentication() -> None:
    mongo = compose()["services"]["mongo"]

    assert mongo["environment"]["MONGO_INITDB_ROOT_USERNAME"]
    assert mongo["environment"]["MONGO_INITDB_ROOT_PASSWORD"]
    assert "--noauth" not in str(mongo.get("command", ""))
    assert "--noauth" not in str(mongo.get("entrypoint", ""))


def test_the_cluster_starts_mongo_with_a_root_account_from_the_secret() -> None:
    (statefulset,) = [doc for _, doc in manifests() if doc["kind"] == "StatefulSet"]
    (container,) = pod_spec(statefulset)["containers"]
    env = {item["name"]: item.get("valueFrom", {}).get("secretKeyRef", {})
           for item in container["env"]}

    assert env["MONGO_INITDB_ROOT_USERNAME"]["name"] == "ocrtune-mongo"
    assert env["MONGO_INITDB_ROOT_PASSWORD"]["name"] == "ocrtune-mongo"
    assert "--noauth" not in str(container.get("args", "")) + str(container.get("command", ""))
