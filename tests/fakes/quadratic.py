"""A tiny objective for testing the search machinery without OCR.

Loss ``(x - 1)^2`` over ``x`` in [-5, 5], plus a categorical ``shade`` that does not matter.
Its ``settings`` make it misbehave on purpose: ``sleep_s`` delays each trial, ``hang_at``
makes a trial with ``x`` above that value sleep for an hour, ``fail_all`` fails every trial,
``discrete`` replaces ``x`` with a choice of three values (for repeated configurations),
``report_opencv_threads`` adds the threads OpenCV may use in the evaluating process to the
result's details.
Loading misbehaves too: ``unreadable_once`` (a file path) fails the first load as an
unreadable dataset would, creating the file, ``unreadable`` fails every load so, and
``refuse_load`` fails every load as a dataset of another fingerprint would.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hyperopt import hp

from shared.errors import DatasetError, ObjectiveError
from shared.jsontypes import JsonObject
from shared.objective import Objective, register_objective
from shared.trials import ObjectiveSpec, TrialResult

NAME = "quadratic"
VERSION = "quadratic-1"
SPACE_VERSION = "quadratic-space-1"


class QuadraticKind:
    name = NAME
    version = VERSION
    space_version = SPACE_VERSION

    def __init__(self, *, discrete: bool = False) -> None:
        self._discrete = discrete

    def space(self) -> Any:
        x = hp.choice("x", [-1.0, 0.0, 1.0]) if self._discrete else hp.uniform("x", -5, 5)
        return {"x": x, "shade": hp.choice("shade", ["light", "dark"])}

    def plain_params(self, sample: Mapping[str, Any]) -> JsonObject:
        return {"x": float(sample["x"]), "shade": str(sample["shade"])}

    def load(self, spec: ObjectiveSpec, *, data_dir_override: Path | None = None
             ) -> Objective:
        _misbehave_on_load(spec.settings)
        return QuadraticObjective(spec)


def _misbehave_on_load(settings: Mapping[str, Any]) -> None:
    marker = settings.get("unreadable_once")
    if settings.get("unreadable") or (marker is not None and not Path(marker).exists()):
        if marker is not None:
            Path(marker).touch()
        cause = DatasetError("images/page.png: cannot be read (Input/output error), on "
                             "purpose")
        # Wrapped as the OCR objective wraps its dataset's errors.
        raise ObjectiveError(f"cannot load the experiment's dataset here: {cause}") from cause
    if settings.get("refuse_load"):
        raise ObjectiveError("the dataset here has fingerprint other, but the experiment's "
                             "has none: its files differ (on purpose)")


class QuadraticObjective:
    def __init__(self, spec: ObjectiveSpec) -> None:
        self._spec = spec

    @property
    def spec(self) -> ObjectiveSpec:
        return self._spec

    def evaluate(self, params: JsonObject) -> TrialResult:
        settings = self._spec.settings
        x = float(params["x"])  # type: ignore[arg-type]
        time.sleep(float(settings.get("sleep_s", 0.0)))  # type: ignore[arg-type]
        hang_at = settings.get("hang_at")
        if hang_at is not None and x > float(hang_at):  # type: ignore[arg-type]
            time.sleep(3600)
        if settings.get("fail_all"):
            return TrialResult.failed("this objective fails every trial on purpose")
        details: dict[str, int] = {"pid": os.getpid()}
        if settings.get("report_opencv_threads"):
            import cv2

            details["opencv_threads"] = cv2.getNumThreads()
        return TrialResult.ok((x - 1.0) ** 2, details=details)

    def close(self) -> None:
        pass


QUADRATIC = QuadraticKind()
DISCRETE_QUADRATIC = QuadraticKind(discrete=True)


def quadratic_spec(**settings: Any) -> ObjectiveSpec:
    return ObjectiveSpec(name=NAME, version=VERSION, space_version=SPACE_VERSION,
                         fingerprint="none", settings=settings)


def register() -> None:
    register_objective(NAME, "tests.fakes.quadratic:QUADRATIC")
