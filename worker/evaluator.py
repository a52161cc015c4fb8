"""Evaluating trials in a child process that can be stopped at any moment.

The worker's own process keeps the lease, the heartbeats and the signals; the objective
(dataset in memory, one OCR engine) lives in one long-lived child. A trial past its time
limit, or one still running when the grace period after SIGTERM ends, is stopped by killing
the child's whole process group: that also ends any ``tesseract`` processes pytesseract
started, so no OCR process is left behind. The next trial starts a fresh child.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from shared.errors import (
    DatasetError,
    ObjectiveError,
    ObjectiveUnavailableError,
    OcrEngineError,
    OcrTuneError,
)
from shared.jsontypes import JsonObject
from shared.objective import (
    Objective,
    check_compatible,
    register_objective,
    registered_objectives,
)
from shared.trials import ObjectiveSpec, TrialResult

logger = logging.getLogger(__name__)

# How often the parent looks at its stop switch while a trial runs.
WAIT_SLICE_S = 0.05
# How long a terminated child may take to exit before it is killed outright.
TERMINATE_WAIT_S = 2.0
# How long a new child may take to start (import numpy, OpenCV, hyperopt) and say so.
# A trial's time limit only starts counting after that, so a loaded machine that starts
# processes slowly does not fail trials for it.
STARTUP_TIMEOUT_S = 120.0
# How long loading an objective (reading its dataset, starting its engine) may take.
LOAD_TIMEOUT_S = 300.0
_READY = "ready"
# Threads OpenCV may use in an evaluation process: one core per worker, as for Tesseract
# (OMP_THREAD_LIMIT, shared.ocr). OpenCV's own thread pool would spread non-local means
# over every core, so that two workers on two cores fought over them. Measured on the
# sample data, one thread also costs 14 % less CPU per trial than two (1.60 s against
# 1.86 s of denoising).
OPENCV_THREADS = 1
# Causes of a failed load that may pass: a file that could not be read, a dataset folder
# not mounted yet, an engine that did not start. Anything else (another objective, version,
# dataset fingerprint or settings) stays so whatever this machine does.
_TRANSIENT_CAUSES = (OSError, DatasetError, OcrEngineError)

# Processes are spawned, not forked: the parent runs threads (heartbeats, pymongo's
# monitors), and forking a threaded process can copy a lock in its held state.
_CONTEXT = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class _Job:
    spec: ObjectiveSpec
    params: JsonObject


@dataclass(frozen=True)
class _Loaded:
    """The objective is loaded; the trial's time limit starts now."""


@dataclass(frozen=True)
class _Refusal:
    """The child could not load the objective: nothing about the trial, all about here.

    ``transient`` when a later try may succeed (see ``_TRANSIENT_CAUSES``).
    """

    reason: str
    transient: bool = False


@dataclass(frozen=True)
class _Cancel:
    """When a wait for the child gives up: ``grace_s`` after ``event`` is set, or at once
    once ``hurry`` is set too."""

    event: threading.Event | None
    grace_s: float
    hurry: threading.Event | None

    def requested(self) -> bool:
        return self.event is not None and self.event.is_set()

    def due(self, waited_s: float) -> bool:
        """Whether to give up, ``waited_s`` after the request."""
        return waited_s >= self.grace_s or (self.hurry is not None and self.hurry.is_set())


class ProcessEvaluator:
    """Runs an objective in a child process, with a time limit and a cancel switch."""

    def __init__(self, *, data_dir: Path | None = None,
                 trial_timeout_s: float | None = None) -> None:
        self._data_dir = data_dir
        self._trial_timeout_s = trial_timeout_s
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: multiprocessing.connection.Connection | None = None

    def evaluate(self, spec: ObjectiveSpec, params: JsonObject, *,
                 cancel: threading.Event | None = None, grace_s: float = 0.0,
                 hurry: threading.Event | None = None) -> TrialResult | None:
        """The trial's result, or None when ``cancel`` was set and ``grace_s`` ran out (or
        ``hurry`` was set: no more grace).

        The time limit counts from when the objective is loaded (dataset read, engine
        started), so a slow first load does not fail a trial. Raises ObjectiveError when
        this machine cannot load the objective at all (unknown name, other versions, a
        dataset that differs), and its subclass ObjectiveUnavailableError when it cannot
        for now (the process did not start, the dataset could not be read, the engine did
        not start): the trial is not to blame either way.
        """
        conn = self._start()
        conn.send(_Job(spec, params))
        loaded = self._receive(LOAD_TIMEOUT_S, _Cancel(cancel, grace_s, hurry))
        if isinstance(loaded, _Refusal):
            raise (ObjectiveUnavailableError if loaded.transient else ObjectiveError)(
                loaded.reason)
        if not isinstance(loaded, _Loaded):
            return loaded
        result = self._receive(self._trial_timeout_s, _Cancel(cancel, grace_s, hurry))
        if result is None or isinstance(result, TrialResult):
            return result
        raise AssertionError(f"the evaluation process sent {result!r} instead of a result")

    def _receive(self, timeout_s: float | None, cancel: _Cancel
                 ) -> TrialResult | _Refusal | _Loaded | None:
        """The child's next message, or a FAIL result (timeout, death), or None (cancel)."""
        conn = self._conn
        started = time.monotonic()
        cancelled_at: float | None = None
        while conn is not None and not conn.poll(WAIT_SLICE_S):
            now = time.monotonic()
            if self._process is None or not self._process.is_alive():
                return self._died(started)
            if timeout_s is not None and now - started > timeout_s:
                self.stop()
                return TrialResult.failed(
                    f"timeout: the trial ran longer than {timeout_s:g} s and was stopped "
                    "(raise --trial-timeout if trials are slow)", duration_s=now - started)
            if cancel.requested():
                cancelled_at = cancelled_at or now
                if cancel.due(now - cancelled_at):
                    self.stop()
                    return None
        try:
            message: TrialResult | _Refusal | _Loaded = (
                conn.recv() if conn is not None else self._died(started))
        except EOFError:
            return self._died(started)
        return message

    def _died(self, started: float) -> TrialResult:
        code = None
        if self._process is not None:
            # The pipe closes a moment before the process is reaped: wait for its exit
            # code, or the reason would say "None" for a process the kernel killed.
            self._process.join(TERMINATE_WAIT_S)
            code = self._process.exitcode
        self.stop()
        return TrialResult.failed(
            f"the evaluation process died (exit code {code}); out of memory, or killed",
            duration_s=time.monotonic() - started)

    def _start(self) -> multiprocessing.connection.Connection:
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._conn
        self.stop()
        parent_end, child_end = _CONTEXT.Pipe()
        process = _CONTEXT.Process(target=_child_main,
                                   args=(child_end, self._data_dir, registered_objectives()),
                                   name="ocrtune-evaluator", daemon=True)
        process.start()
        child_end.close()
        self._process, self._conn = process, parent_end
        if not _await_ready(parent_end):
            self.stop()
            raise ObjectiveUnavailableError(f"the evaluation process did not start within "
                                            f"{STARTUP_TIMEOUT_S:g} s; is the machine out "
                                            "of memory?")
        logger.debug("Started evaluation process %s.", process.pid)
        return parent_end

    def stop(self) -> None:
        """End the child process and everything it started."""
        process, self._process = self._process, None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if process is None or process.pid is None:
            return
        if process.is_alive():
            _signal_group(process.pid, signal.SIGTERM)
            process.join(TERMINATE_WAIT_S)
        # Whatever the child started (tesseract processes) shares its process group.
        _signal_group(process.pid, signal.SIGKILL)
        process.join(TERMINATE_WAIT_S)

    def __enter__(self) -> ProcessEvaluator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _await_ready(conn: multiprocessing.connection.Connection) -> bool:
    try:
        return conn.poll(STARTUP_TIMEOUT_S) and conn.recv() == _READY
    except EOFError:  # it died while starting
        return False


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _child_main(conn: multiprocessing.connection.Connection, data_dir: Path | None,
                objectives: dict[str, str]) -> None:
    _become_evaluation_process()
    for name, target in objectives.items():
        register_objective(name, target)
    loaded: dict[str, Objective] = {}
    conn.send(_READY)
    try:
        while True:
            try:
                job: _Job = conn.recv()
            except EOFError:
                return  # the parent is gone
            objective = _load(job.spec, loaded, data_dir)
            if isinstance(objective, _Refusal):
                conn.send(objective)
                continue
            conn.send(_Loaded())
            conn.send(_evaluate(objective, job.params))
    finally:
        for objective in loaded.values():
            objective.close()


def _become_evaluation_process() -> None:
    """The process-wide settings of a child that evaluates trials, before any objective."""
    # Its own process group, so that stopping a trial can end the tesseract processes the
    # child starts, and so that Ctrl-C in a terminal reaches only the parent, which decides.
    os.setpgrp()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Imported here: only evaluation processes need OpenCV, never the worker's own.
    import cv2  # noqa: PLC0415

    cv2.setNumThreads(OPENCV_THREADS)


def _load(spec: ObjectiveSpec, loaded: dict[str, Objective], data_dir: Path | None
          ) -> Objective | _Refusal:
    # Specs hold a settings mapping, so they are not hashable; their JSON is.
    key = json.dumps(dataclasses.asdict(spec), sort_keys=True)
    objective = loaded.get(key)
    if objective is None:
        try:
            objective = check_compatible(spec).load(spec, data_dir_override=data_dir)
        except OcrTuneError as err:
            return _Refusal(str(err), transient=_is_transient(err))
        loaded[key] = objective
    return objective


def _is_transient(err: BaseException) -> bool:
    """Whether a failure to load has a cause that may pass, anywhere in its chain."""
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, _TRANSIENT_CAUSES):
            return True
        cause = cause.__cause__
    return False


def _evaluate(objective: Objective, params: JsonObject) -> TrialResult:
    started = time.monotonic()
    try:
        return objective.evaluate(params)
    except OcrTuneError as err:
        return TrialResult.failed(str(err), duration_s=time.monotonic() - started)
    except Exception as err:  # the boundary: record the failure on the trial, go on
        logger.exception("Evaluation failed with an unexpected error.")
        return TrialResult.failed(f"{type(err).__name__}: {err}",
                                  duration_s=time.monotonic() - started)
