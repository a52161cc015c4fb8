"""Security (issue 7, item 5) with workers and coordinators as processes: what the database
holds is data, never code; passwords stay out of their logs and output; the dataset is only
read. One process's side of the same is in tests/test_security.py.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import signal
import socket
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from bson import Binary
from pymongo import MongoClient
from pymongo.database import Database

from shared.ocr_objective import ocr_spec
from shared.store.documents import experiment_to_document, new_trial_document
from shared.store.mongo import MongoTrialStore
from shared.store.uri import MongoTarget
from shared.trials import Experiment, NewTrial, ObjectiveSpec, TrialState
from tests.e2e.database import QUICK_PARAMS, create_ocr_experiment, queue_params, trial
from tests.e2e.programs import SAMPLE_DATA, Launcher, Program
from tests.e2e.runs import STEP_TIMEOUT_S, stop_workers
from tests.e2e.waiting import wait_until
from tests.fakes.import_marker import MARKER_ENV
from tests.standin import StandinServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "hunter2-Zq9"
MODULE_NAMES = ("tests.fakes.import_marker:KIND", "tests.fakes.import_marker")
# A program retrying an unreachable server logs lines like "try 2 in 0.5 s".
RETRY_PHRASE = "; try 2 in "


class _Payload:
    """Unpickling it creates the folder ``marker``: proof that something unpickled it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.marker),))


def pickled(marker: Path) -> Binary:
    return Binary(pickle.dumps(_Payload(marker)))


@pytest.fixture
def raw_db(mongo_target: MongoTarget) -> Iterator[Database[dict[str, Any]]]:
    """The test's database through pymongo, to store what no release would write."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_target.uri)
    try:
        yield client[mongo_target.database]
    finally:
        client.close()


def job(exp_key: str, tid: int, **fields: Any) -> dict[str, Any]:
    """A queued job of ``QUICK_PARAMS`` as the store writes it, with ``fields`` replaced."""
    document = new_trial_document(exp_key, NewTrial(tid, QUICK_PARAMS,
                                                    {"idxs": {}, "vals": {}}))
    return {**document, **fields}


def insert_experiment(raw_db: Database[dict[str, Any]], exp_key: str, spec: ObjectiveSpec,
                      **settings: Any) -> None:
    """Store an experiment of ``spec`` with ``settings`` replaced, as no release would."""
    document = experiment_to_document(Experiment(exp_key=exp_key, objective=spec))
    document["objective"]["settings"].update(settings)
    raw_db["experiments"].insert_one(document)


def test_a_worker_never_imports_or_unpickles_what_the_database_holds(
        launcher: Launcher, store: MongoTrialStore, raw_db: Database[dict[str, Any]],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given experiments whose objective is named like code, or whose engine setting is
    monkeypatch.setenv(MARKER_ENV, str(tmp_path / "imported"))
    for exp_key, name in zip(("module-attr", "module"), MODULE_NAMES, strict=True):
        store.ensure_experiment(Experiment(exp_key=exp_key, objective=ObjectiveSpec(
            name=name, version="1", space_version="1", fingerprint="none")))
        queue_params(store, exp_key, [QUICK_PARAMS])
    ocr = ocr_spec(SAMPLE_DATA)
    store.ensure_experiment(Experiment(exp_key="engine-as-code", objective=replace(
        ocr, settings={**ocr.settings, "engine": MODULE_NAMES[0]})))
    queue_params(store, "engine-as-code", [QUICK_PARAMS])
    # and an experiment whose settings hold a pickle
    markers = [tmp_path / f"unpickled-{n}" for n in range(4)]
    insert_experiment(raw_db, "pickled-settings", ocr, data_dir=pickled(markers[3]))
    queue_params(store, "pickled-settings", [QUICK_PARAMS])
    # and jobs holding pickles: as the whole spec, inside it, and beside it in misc, where
    # hyperopt's own jobs point at their pickled domain; then hyperopt's own job layout
    create_ocr_experiment(store, "pickles", SAMPLE_DATA)
    raw_db["jobs"].insert_many([
        job("pickles", 0, spec=pickled(markers[0])),
        job("pickles", 1, spec={**QUICK_PARAMS, "resize": pickled(markers[1])}),
        job("pickles", 2, misc={"tid": 2, "cmd": ["domain_attachment", "FMinIter_Domain"],
                                "workdir": None, "idxs": {}, "vals": {},
                                "domain": pickled(markers[2])}),
        {"tid": 3, "exp_key": "pickles", "state": 0, "owner": None, "version": 0,
         "spec": None, "result": {"status": "new"}, "book_time": None,
         "refresh_time": None, "misc": {"tid": 3, "cmd": ["domain_attachment",
                                                           "FMinIter_Domain"]}},
    ])

    # When a worker serving every experiment has been through them
    worker = launcher.worker()
    wait_until(lambda: all(doc["state"] != TrialState.NEW
                           for doc in raw_db["jobs"].find({"exp_key": "pickles"}))
               and "pickled-settings" in worker.log(),
               what="every job with a pickle to be taken", timeout_s=STEP_TIMEOUT_S,
               watch=[worker])
    (code,) = stop_workers([worker])

    # Then nothing was imported or unpickled; experiments named like code were refused,
    # their trials left as they were; each job holding a pickle as its parameters failed
    # saying what is wrong, and the one with a pickle beside them was evaluated
    assert code == 0, worker.tail()
    assert not (tmp_path / "imported").exists()
    assert [marker for marker in markers if marker.exists()] == []
    log = worker.log()
    for exp_key, name in zip(("module-attr", "module"), MODULE_NAMES, strict=True):
        assert (f"Refusing the trials of experiment {exp_key!r}: no objective called "
                f"{name!r} is installed here") in log
        assert [(t.state, t.attempts) for t in store.trials(exp_key)] == [(TrialState.NEW, 0)]
    assert "Refusing the trials of experiment 'engine-as-code'" in log
    assert [(t.state, t.attempts) for t in store.trials("engine-as-code")] == [
        (TrialState.NEW, 0)]
    jobs = {doc["tid"]: doc for doc in raw_db["jobs"].find({"exp_key": "pickles"})}
    assert "field 'spec' is " in jobs[0]["result"]["error"]
    assert "resize" in jobs[1]["result"]["error"]
    assert [jobs[tid]["state"] for tid in (0, 1, 3)] == [TrialState.ERROR] * 3
    assert trial(store, "pickles", 2).loss is not None
    assert bytes(jobs[2]["misc"]["domain"]) == bytes(pickled(markers[2]))


def test_an_experiment_whose_settings_are_not_json_is_refused_and_its_trials_kept(
        launcher: Launcher, store: MongoTrialStore, raw_db: Database[dict[str, Any]],
        tmp_path: Path) -> None:
    # Given an OCR experiment whose data folder setting holds a pickle, and a good one
    insert_experiment(raw_db, "pickled-settings", ocr_spec(SAMPLE_DATA),
                      data_dir=pickled(tmp_path / "unpickled"))
    (kept,) = queue_params(store, "pickled-settings", [QUICK_PARAMS])
    create_ocr_experiment(store, "good", SAMPLE_DATA)
    (good,) = queue_params(store, "good", [QUICK_PARAMS])

    # When a worker serving every experiment has evaluated the good one
    worker = launcher.worker()
    wait_until(lambda: trial(store, "good", good).state is TrialState.DONE,
               what="the good experiment's trial", timeout_s=STEP_TIMEOUT_S, watch=[worker])
    (code,) = stop_workers([worker])

    # Then the other experiment was refused saying why, its trial back in the queue
    assert code == 0
    assert "Refusing the trials of experiment 'pickled-settings'" in worker.log()
    assert "settings.data_dir is not a plain JSON value" in worker.log()
    stored = trial(store, "pickled-settings", kept)
    assert (stored.state, stored.attempts) == (TrialState.NEW, 0)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


def _start(launcher: Launcher, kind: str, uri_name: str, uri: str) -> Program:
    """A worker, or a coordinator searching Iris, on ``uri``, logging everything."""
    if kind == "worker":
        argv = ["-m", "worker", "--log-level", "DEBUG", "--mongo", uri]
    else:
        argv = ["-m", "coordinator", "--log-level", "DEBUG", "run", "--mongo", uri,
                "--objective", "sklearn", "--dataset", "iris", "--max-evals", "1"]
    return launcher.start(f"{kind}-{uri_name}", argv)


def _stop_once_retrying(program: Program) -> int:
    wait_until(lambda: RETRY_PHRASE in program.log(), what=f"{program.name} to retry",
               timeout_s=STEP_TIMEOUT_S, watch=[program])
    program.send(signal.SIGTERM)
    return program.wait()


def test_no_program_logs_the_password_of_an_unreachable_or_refusing_database(
        launcher: Launcher) -> None:
    # Given URIs with a password: one where nothing listens, one where logins are refused
    unreachable = (f"mongodb://alice:{PASSWORD}@127.0.0.1:{_closed_port()}/trials"
                   "?serverSelectionTimeoutMS=300")
    kinds = ("worker", "coordinator")
    with StandinServer() as standin:
        refusing = f"mongodb://alice:{PASSWORD}@127.0.0.1:{standin.port}/trials"

        # When a worker and a coordinator try each, the retrying ones stopped by SIGTERM
        programs = {(kind, uri_name): _start(launcher, kind, uri_name, uri) for kind in kinds
                    for uri_name, uri in (("unreachable", unreachable),
                                          ("refusing", refusing))}
        refused = [programs[kind, "refusing"].wait() for kind in kinds]
    stopped = [_stop_once_retrying(programs[kind, "unreachable"]) for kind in kinds]

    # Then the refused ones exit 1 saying to check the credentials, the stopped ones exit
    # as after any stop, and no log line or output shows the password, only the user
    assert (refused, stopped) == ([1, 1], [0, 130])
    for (_, uri_name), program in programs.items():
        shown = program.log() + program.output()
        assert PASSWORD not in shown, program.tail()
        assert "alice:***@127.0.0.1" in shown, program.tail()
        if uri_name == "refusing":
            assert "check the user, password and authSource" in shown, program.tail()


def _snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every entry under ``folder``: mode, modification time and content hash."""
    return {str(path.relative_to(folder)): (
        path.stat().st_mode, path.stat().st_mtime_ns,
        hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "")
        for path in sorted(folder.rglob("*"))}


@pytest.fixture
def read_only_data(tmp_path: Path) -> Iterator[Path]:
    """A copy of the sample dataset with every write permission taken away."""
    folder = tmp_path / "data"
    folders = [folder, folder / "images", folder / "texts"]
    for sub in folders[1:]:
        sub.mkdir(parents=True)
        for path in (SAMPLE_DATA / sub.name).iterdir():
            (sub / path.name).write_bytes(path.read_bytes())
            (sub / path.name).chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    for path in folders:
        path.chmod(0o555)
    yield folder
    for path in folders:
        path.chmod(0o755)  # so that pytest can remove it


def test_a_worker_evaluates_a_read_only_dataset_and_changes_nothing_in_it(
        launcher: Launcher, store: MongoTrialStore, read_only_data: Path) -> None:
    # Given trials on a dataset nobody may write to (root still can: the snapshot tells)
    create_ocr_experiment(store, "read-only", read_only_data)
    tids = queue_params(store, "read-only", [QUICK_PARAMS] * 2)
    before = _snapshot(read_only_data)

    # When a worker evaluates them
    worker = launcher.worker("--exp-key", "read-only")
    wait_until(lambda: all(trial(store, "read-only", tid).state is TrialState.DONE
                           for tid in tids),
               what="both trials on the read-only dataset", timeout_s=STEP_TIMEOUT_S,
               watch=[worker])
    (code,) = stop_workers([worker])

    # Then both have a loss, and no file or folder of the dataset changed
    assert code == 0
    assert all(trial(store, "read-only", tid).loss is not None for tid in tids)
    assert _snapshot(read_only_data) == before
