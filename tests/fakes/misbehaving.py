"""An objective whose trials misbehave as their parameters say, to test the worker's boundary.

Each trial's ``how`` picks one misbehaviour: ``raise`` (an error no objective should let
out), ``die`` (the evaluation process is killed, as the kernel's out-of-memory killer
would), ``nan``, ``inf`` and ``text`` (losses that are not finite numbers, passed through
``TrialResult.from_loss``), ``ok-nan`` (a buggy objective building an OK result with a NaN
loss), or ``ok`` (a loss of ``OK_LOSS``).
"""

from __future__ import annotations

import math
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shared.jsontypes import JsonObject
from shared.objective import Objective, register_objective
from shared.trials import ObjectiveSpec, TrialResult

NAME = "misbehaving"
VERSION = "misbehaving-1"
SPACE_VERSION = "misbehaving-space-1"
OK_LOSS = 0.25
MISBEHAVIOURS = ("raise", "die", "nan", "inf", "text", "ok-nan")


class MisbehavingKind:
    name = NAME
    version = VERSION
    space_version = SPACE_VERSION

    def space(self) -> Any:
        from hyperopt import hp

        return {"how": hp.choice("how", [*MISBEHAVIOURS, "ok"])}

    def plain_params(self, sample: Mapping[str, Any]) -> JsonObject:
        return {"how": str(sample["how"])}

    def load(self, spec: ObjectiveSpec, *, data_dir_override: Path | None = None
             ) -> Objective:
        return MisbehavingObjective(spec)


class MisbehavingObjective:
    def __init__(self, spec: ObjectiveSpec) -> None:
        self._spec = spec

    @property
    def spec(self) -> ObjectiveSpec:
        return self._spec

    def evaluate(self, params: JsonObject) -> TrialResult:
        how = params.get("how")
        if how == "raise":
            raise RuntimeError("the objective broke on purpose")
        if how == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        losses: dict[object, object] = {"nan": math.nan, "inf": math.inf, "text": "0.5"}
        if how in losses:
            return TrialResult.from_loss(losses[how])
        if how == "ok-nan":
            return TrialResult.ok(math.nan)
        return TrialResult.ok(OK_LOSS)

    def close(self) -> None:
        pass


MISBEHAVING = MisbehavingKind()


def misbehaving_spec() -> ObjectiveSpec:
    return ObjectiveSpec(name=NAME, version=VERSION, space_version=SPACE_VERSION,
                         fingerprint="none")


def register() -> None:
    register_objective(NAME, "tests.fakes.misbehaving:MISBEHAVING")
