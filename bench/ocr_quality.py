"""Search quality on real OCR: our search against hyperopt's fmin, on the same images.

Both search the OCR space with the real objective (Tesseract reading a dataset after each
trial's preprocessing), one trial at a time, each scored before the next is suggested,
with the same experiment seeds. As with the synthetic loss (bench/suggest_quality.py),
they do not take the same path, since fmin draws per-trial seeds from its own generator,
so the best losses are compared seed by seed and in the mean. A configuration met again
in one run is scored from that run's earlier result: OCR of the same image gives the same
text, and the coordinator reuses such results the same way.

The pipelines our searches evaluated are also what part (a) times as "TPE-chosen
pipelines": the mix a real search spends its time on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from hyperopt import STATUS_FAIL, STATUS_OK, Trials, fmin, tpe

from coordinator.history import HyperoptHistory
from coordinator.suggest import Suggester
from shared.jsontypes import JsonObject
from shared.ocr_objective import OCR_OBJECTIVE, OcrObjective, ocr_spec
from shared.space import build_space, plain_params
from shared.trials import Trial, TrialResult, TrialState, config_key
from worker.evaluator import OPENCV_THREADS

logger = logging.getLogger(__name__)

# hyperopt's tpe.suggest draws its first 20 trials at random (n_startup_jobs).
STARTUP_TRIALS = 20


@dataclass(frozen=True)
class OcrSearch:
    """One sequential search on real OCR: each trial's loss (None: failed) and pipeline."""

    seed: int
    losses: list[float | None]
    pipelines: list[JsonObject]
    evaluations: int  # trials actually evaluated (the rest repeated an earlier pipeline)
    seconds: float

    def best_at(self, trials: int) -> float:
        scored = [loss for loss in self.losses[:trials] if loss is not None]
        return min(scored) if scored else float("inf")


@dataclass(frozen=True)
class OcrQuality:
    data: Path
    ours: list[OcrSearch]
    plain: list[OcrSearch]

    @property
    def trials(self) -> int:
        return len(self.ours[0].losses)


class _Scorer:
    """Evaluates pipelines on the loaded objective, once per distinct configuration."""

    def __init__(self, objective: OcrObjective) -> None:
        self._objective = objective
        self._results: dict[str, TrialResult] = {}

    @property
    def evaluations(self) -> int:
        return len(self._results)

    def __call__(self, params: JsonObject) -> TrialResult:
        key = config_key(params)
        if key not in self._results:
            self._results[key] = self._objective.evaluate(params)
        return self._results[key]


def _our_search(objective: OcrObjective, seed: int, trials: int) -> OcrSearch:
    """The coordinator's suggester, as the search loop drives it, one trial at a time."""
    suggester = Suggester(OCR_OBJECTIVE, algo="tpe", seed=seed)
    history = HyperoptHistory()
    score = _Scorer(objective)
    losses: list[float | None] = []
    pipelines: list[JsonObject] = []
    started = time.perf_counter()
    for tid in range(trials):
        new = suggester.suggest(tid, history)
        result = score(new.params)
        history.record([Trial("bench", tid, TrialState.DONE if result.is_ok
                              else TrialState.ERROR, new.params, new.hyperopt_misc,
                              result=result)])
        losses.append(result.loss if result.is_ok else None)
        pipelines.append(new.params)
    return OcrSearch(seed, losses, pipelines, score.evaluations,
                     time.perf_counter() - started)


def _fmin_search(objective: OcrObjective, seed: int, trials: int) -> OcrSearch:
    """Plain hyperopt: fmin with TPE and in-memory Trials, on the same objective."""
    score = _Scorer(objective)
    pipelines: list[JsonObject] = []

    def evaluate(sample: Any) -> dict[str, Any]:
        params = plain_params(sample)
        pipelines.append(params)
        result = score(params)
        if not result.is_ok:
            return {"status": STATUS_FAIL}
        return {"status": STATUS_OK, "loss": result.loss}

    history = Trials()
    started = time.perf_counter()
    fmin(evaluate, build_space(), algo=tpe.suggest, max_evals=trials, trials=history,
         rstate=np.random.default_rng(seed), show_progressbar=False)
    losses = [None if loss is None else float(loss) for loss in history.losses()]
    return OcrSearch(seed, losses, pipelines, score.evaluations,
                     time.perf_counter() - started)


def compare_on_data(data: Path, *, seeds: tuple[int, ...], trials: int) -> OcrQuality:
    """Run both searches for every seed on the dataset in ``data``."""
    cv2.setNumThreads(OPENCV_THREADS)  # as in a worker's evaluation process
    objective = OCR_OBJECTIVE.load(ocr_spec(data))
    try:
        ours = _each_seed("ours", _our_search, objective, seeds, trials)
        plain = _each_seed("fmin", _fmin_search, objective, seeds, trials)
    finally:
        objective.close()
    return OcrQuality(data, ours, plain)


def _each_seed(name: str, search: Callable[[OcrObjective, int, int], OcrSearch],
               objective: OcrObjective, seeds: tuple[int, ...], trials: int
               ) -> list[OcrSearch]:
    runs = []
    for seed in seeds:
        run = search(objective, seed, trials)
        logger.info("Real-OCR search, %s, seed %d: best loss %.4f after %d trials "
                    "(%d evaluated) in %.0f s.", name, seed, run.best_at(trials), trials,
                    run.evaluations, run.seconds)
        runs.append(run)
    return runs


def tpe_pipelines(quality: OcrQuality, count: int) -> list[JsonObject]:
    """``count`` pipelines TPE chose in our searches, evenly spread over runs and trials.

    TPE's first ``STARTUP_TRIALS`` are random draws, so they are left out.
    """
    chosen = [params for run in quality.ours for params in run.pipelines[STARTUP_TRIALS:]]
    picks = np.linspace(0, len(chosen) - 1, num=min(count, len(chosen))).round().astype(int)
    return [chosen[index] for index in picks]


def ocr_quality_table(quality: OcrQuality) -> list[str]:
    """Best loss per seed at a few trial counts, ours against fmin, as Markdown lines."""
    checkpoints = sorted({min(quality.trials, at) for at in (STARTUP_TRIALS, 40, 60)}
                         | {quality.trials})
    lines = [f"(d) Search quality on real OCR ({quality.data.name}, loss summed over its "
             "images; lower is better), ours against fmin, same seeds:", "",
             "| trials | " + " | ".join(f"seed {run.seed} ours / fmin" for run in quality.ours)
             + " | mean ours / fmin | seeds ours <= fmin |",
             "| --- | " + "--- | " * len(quality.ours) + "--- | --- |"]
    for at in checkpoints:
        ours = [run.best_at(at) for run in quality.ours]
        plain = [run.best_at(at) for run in quality.plain]
        cells = [f"{o:.4f} / {p:.4f}" for o, p in zip(ours, plain, strict=True)]
        wins = sum(o <= p for o, p in zip(ours, plain, strict=True))
        lines.append(f"| {at} | " + " | ".join(cells)
                     + f" | {np.mean(ours):.4f} / {np.mean(plain):.4f} | {wins}/{len(ours)} |")
    evaluated = sum(run.evaluations for run in quality.ours + quality.plain)
    seconds = sum(run.seconds for run in quality.ours + quality.plain)
    lines += ["", f"{evaluated} evaluations in {seconds:.0f} s "
              f"({seconds / max(evaluated, 1):.2f} s each, one process)."]
    return lines
