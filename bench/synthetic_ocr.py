"""A stand-in objective over the OCR search space whose loss needs no OCR.

The suggester benchmarks need thousands of scored trials and whole searches in seconds.
This objective has the OCR space's labels, bounds and conditions (it is the same space),
and a loss that behaves like OCR loss does in the ways TPE can see: a best glyph height
near 22 px with loss rising on a log scale either side, a binarisation that helps only
with the right window and offset, morphology that mostly hurts, denoising that helps a
little at moderate strength. It is deterministic, so a repeated configuration scores the
same, as it would on the same photos.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from coordinator.history import HyperoptHistory
from coordinator.suggest import Suggester
from shared.jsontypes import JsonObject
from shared.objective import Objective, register_objective
from shared.space import SPACE_VERSION, build_space, plain_params
from shared.trials import ObjectiveSpec, Trial, TrialResult, TrialState

NAME = "synthetic-ocr"
VERSION = "synthetic-ocr-1"


def synthetic_loss(params: Mapping[str, Any]) -> float:
    """A loss in [0, ~1.5] for plain OCR pipeline parameters; 0 at the best pipeline."""
    loss = 0.25 * math.log(params["resize"]["glyph_height_px"] / 22.0) ** 2
    binarise = params["binarise"]
    if binarise is None:
        loss += 0.20
    else:
        loss += 0.15 * ((binarise["block_size"] - 21) / 8) ** 2
        loss += 0.10 * ((binarise["c"] - 10) / 5) ** 2
        loss += 0.05 if binarise["method"] == "mean" else 0.0
        loss += {None: 0.0, 1: 0.01, 3: 0.12}[params["erode_kernel"]]
        loss += {None: 0.0, 1: 0.01, 3: 0.04}[params["dilate_kernel"]]
    denoise = params["denoise"]
    if denoise is None:
        loss += 0.05
    else:
        loss += 0.06 * ((denoise["h"] - 3) / 6) ** 2
        loss += 0.02 * ((denoise["template_window"] - 7) / 8) ** 2
        loss += 0.02 * ((denoise["search_window"] - 21) / 14) ** 2
    return loss


class SyntheticOcrKind:
    """The OCR search space, scored by ``synthetic_loss``."""

    name = NAME
    version = VERSION
    space_version = SPACE_VERSION

    def space(self) -> Any:
        return build_space()

    def plain_params(self, sample: Mapping[str, Any]) -> JsonObject:
        return plain_params(sample)

    def load(self, spec: ObjectiveSpec, *, data_dir_override: Path | None = None
             ) -> Objective:
        return SyntheticOcrObjective(spec)


class SyntheticOcrObjective:
    def __init__(self, spec: ObjectiveSpec) -> None:
        self._spec = spec

    @property
    def spec(self) -> ObjectiveSpec:
        return self._spec

    def evaluate(self, params: JsonObject) -> TrialResult:
        return TrialResult.ok(synthetic_loss(params))

    def close(self) -> None:
        pass


SYNTHETIC_OCR = SyntheticOcrKind()


def synthetic_spec() -> ObjectiveSpec:
    return ObjectiveSpec(name=NAME, version=VERSION, space_version=SPACE_VERSION,
                         fingerprint="none")


def register() -> None:
    """Install the objective, for workers (their evaluation processes inherit it)."""
    register_objective(NAME, f"{__name__}:SYNTHETIC_OCR")


def random_history(count: int, *, seed: int) -> list[Trial]:
    """``count`` finished trials sampled at random from the space, scored synthetically."""
    sampler = Suggester(SYNTHETIC_OCR, algo="rand", seed=seed)
    empty = HyperoptHistory()  # random search ignores the history
    trials = []
    for tid in range(count):
        new = sampler.suggest(tid, empty)
        trials.append(Trial(exp_key="bench", tid=tid, state=TrialState.DONE,
                            params=new.params, hyperopt_misc=new.hyperopt_misc,
                            result=TrialResult.ok(synthetic_loss(new.params))))
    return trials


def best_so_far(losses: list[float]) -> list[float]:
    """The best loss after each trial."""
    return [float(value) for value in np.minimum.accumulate(losses)]
