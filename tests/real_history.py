"""A small real history for the command tests: OCR trials on the shipped sample data.

Trials are queued, reserved and finished through the store API, with results from the
real OCR objective (Tesseract reading the six sample images), so every command reads what
a search would have left. The parameters are chosen to be quick (no denoising): the four
evaluations take a few seconds together. The results are computed once per session and
replayed into any store, SQLite or MongoDB.

Experiment ``ocr-sample`` holds, by tid:

- 0, 1, 3: DONE with real losses (3 is the best); 2: ERROR (parameters out of range);
- 4: DONE, reusing trial 0's result; 5: RUNNING, reserved by ``WORKER_ID``; 6: NEW.

``ocr-empty`` has no trials; every trial of ``ocr-all-failed`` failed.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from coordinator.cli import cli
from shared.jsontypes import JsonObject
from shared.ocr_objective import OCR_OBJECTIVE, ocr_spec
from shared.store.base import TrialStore
from shared.store.sqlite import SqliteTrialStore
from shared.store.uri import MongoTarget
from shared.trials import Experiment, NewTrial, ObjectiveSpec, TrialResult, WorkerInfo

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
EXP_KEY = "ocr-sample"
EMPTY_KEY = "ocr-empty"
FAILED_KEY = "ocr-all-failed"
WORKER_ID = "worker-test-1"
BEST_TID = 3


def _params(glyph_height_px: int, binarise: JsonObject | None = None,
            erode_kernel: int | None = None) -> JsonObject:
    return {"resize": {"glyph_height_px": glyph_height_px}, "binarise": binarise,
            "denoise": None, "erode_kernel": erode_kernel, "dilate_kernel": None}


# Evaluated in tid order 0-3. Measured on the sample data: losses about 1.97, 1.52, and
# 0.80 for the third, the best; 99 px is outside the allowed glyph heights, so it fails.
EVALUATED: tuple[JsonObject, ...] = (
    _params(20),
    _params(30, {"method": "gaussian", "block_size": 21, "c": 11}),
    _params(99),
    _params(14, {"method": "mean", "block_size": 15, "c": 9}, erode_kernel=3),
)
PENDING: tuple[JsonObject, ...] = (_params(24), _params(26))


@dataclass(frozen=True)
class RealHistory:
    path: Path  # the SQLite history file
    results: tuple[TrialResult, ...]  # of EVALUATED, in order

    def copy(self, folder: Path) -> Path:
        """A copy of the history file, for a test that changes it."""
        folder.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(self.path, folder / self.path.name))


@functools.cache
def sample_spec() -> ObjectiveSpec:
    return ocr_spec(DATA_DIR)


@functools.cache
def evaluated_results() -> tuple[TrialResult, ...]:
    objective = OCR_OBJECTIVE.load(sample_spec())
    try:
        return tuple(objective.evaluate(params) for params in EVALUATED)
    finally:
        objective.close()


def _new(tid: int, params: JsonObject) -> NewTrial:
    return NewTrial(tid=tid, params=params, hyperopt_misc={"idxs": {}, "vals": {}})


def fill(store: TrialStore, results: tuple[TrialResult, ...]) -> None:
    """Record the three experiments in ``store``, with ``results`` for EVALUATED."""
    for key in (EXP_KEY, EMPTY_KEY, FAILED_KEY):
        store.ensure_experiment(Experiment(exp_key=key, objective=sample_spec(),
                                           created_at=datetime.now(UTC)))
    tids = store.next_tids(EXP_KEY, 7)
    store.enqueue(EXP_KEY, [_new(tid, p) for tid, p in zip(tids, EVALUATED, strict=False)])
    for result in results:
        reserved = store.reserve(WORKER_ID, [EXP_KEY])
        assert reserved is not None
        store.finish(reserved, result)
    source = store.trials(EXP_KEY, tids=[0])[0]
    store.insert_reused(EXP_KEY, _new(tids[4], EVALUATED[0]), source)
    store.enqueue(EXP_KEY, [_new(tids[5], PENDING[0]), _new(tids[6], PENDING[1])])
    store.reserve(WORKER_ID, [EXP_KEY])
    announce(store)
    failing = results[2]
    for tid in store.next_tids(FAILED_KEY, 2):
        store.enqueue(FAILED_KEY, [_new(tid, EVALUATED[2])])
        reserved = store.reserve(WORKER_ID, [FAILED_KEY])
        assert reserved is not None
        store.finish(reserved, failing)


def announce(store: TrialStore) -> None:
    """Say, now, that the test worker is alive."""
    store.announce_worker(WorkerInfo(worker_id=WORKER_ID, host=socket.gethostname(),
                                     pid=os.getpid(), last_seen=datetime.now(UTC)))


_built: dict[Path, RealHistory] = {}


def real_history(factory: pytest.TempPathFactory) -> RealHistory:
    """The session's history file, built on first use (each test module asks for it)."""
    folder = factory.getbasetemp() / "real-history"
    if folder not in _built:
        folder.mkdir(exist_ok=True)
        path = folder / "history.sqlite"
        with SqliteTrialStore(path) as store:
            fill(store, evaluated_results())
        _built[folder] = RealHistory(path, evaluated_results())
    return _built[folder]


def mongo_uri(target: MongoTarget) -> str:
    """A URI naming the target's server and its database, for ``--mongo``."""
    scheme, _, rest = target.uri.partition("://")
    hosts = rest.split("/", 1)[0].split("?", 1)[0]
    query = rest.partition("?")[2]
    return f"{scheme}://{hosts}/{target.database}" + (f"?{query}" if query else "")


def invoke(*args: str | Path) -> Result:
    """Run ``python -m coordinator --log-level WARNING ARGS`` in this process.

    Exceptions other than the command's own user errors propagate, so a traceback fails
    the test. ``output`` has standard output and error; ``stdout`` standard output only.
    """
    argv = ["--log-level", "WARNING", *(str(arg) for arg in args)]
    return CliRunner().invoke(cli, argv, catch_exceptions=False)
