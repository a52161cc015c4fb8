"""Search quality of our TPE against hyperopt's fmin, and how often suggestions repeat.

Both search the OCR space scored by ``synthetic_loss``, one trial at a time, with the same
seeds. They do not take the same path (fmin draws each trial's seed from its own
generator; the coordinator derives it from the experiment's seed and the trial id), so
they are compared over several seeds. Two checks that the fast TPE is hyperopt's: our
loop with hyperopt's tpe.suggest in place of the fast one must suggest the very same
trials, and our loop fed the per-trial seeds fmin draws must retrace fmin's search.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hyperopt import STATUS_OK, Trials, fmin, tpe

from bench.synthetic_ocr import (
    SYNTHETIC_OCR,
    best_so_far,
    register,
    synthetic_loss,
    synthetic_spec,
)
from coordinator.history import HyperoptHistory
from coordinator.local import run_local
from coordinator.settings import SearchSettings
from coordinator.suggest import Suggester
from shared.space import build_space, plain_params
from shared.store.sqlite import SqliteTrialStore
from shared.trials import Experiment, Trial, TrialResult, TrialState, config_key
from worker import WorkerSettings


@dataclass(frozen=True)
class SearchRun:
    """One sequential search: each trial's loss and configuration, in order."""

    losses: list[float]
    configs: list[str]

    def best_at(self, trials: int) -> float:
        return best_so_far(self.losses)[trials - 1]

    @property
    def repeats(self) -> int:
        """Trials whose configuration an earlier trial of the run already had."""
        return len(self.configs) - len(set(self.configs))


class FminSeededSuggester(Suggester):
    """Our suggester given, for each trial, the seed fmin would pass to tpe.suggest."""

    def __init__(self, seed: int, trials: int) -> None:
        super().__init__(SYNTHETIC_OCR, algo="tpe", seed=seed)
        # fmin draws one seed per trial from its generator, in trial order.
        draws = np.random.default_rng(seed)
        self._seeds = [int(draws.integers(2**31 - 1)) for _ in range(trials)]

    def seed_for(self, tid: int) -> int:
        return self._seeds[tid]


def our_search(seed: int, trials: int, *, fast: bool = True,
               suggester: Suggester | None = None) -> SearchRun:
    """The coordinator's suggester, one trial at a time, each scored before the next."""
    suggester = suggester or Suggester(SYNTHETIC_OCR, algo="tpe", seed=seed, fast_tpe=fast)
    history = HyperoptHistory()
    losses, configs = [], []
    for tid in range(trials):
        new = suggester.suggest(tid, history)
        loss = synthetic_loss(new.params)
        history.record([Trial("bench", tid, TrialState.DONE, new.params, new.hyperopt_misc,
                              result=TrialResult.ok(loss))])
        losses.append(loss)
        configs.append(new.config_key)
    return SearchRun(losses, configs)


def fmin_search(seed: int, trials: int) -> SearchRun:
    """Plain hyperopt: fmin with TPE and in-memory Trials."""
    configs: list[str] = []

    def objective(sample: Any) -> dict[str, Any]:
        params = plain_params(sample)
        configs.append(config_key(params))
        return {"status": STATUS_OK, "loss": synthetic_loss(params)}

    history = Trials()
    fmin(objective, build_space(), algo=tpe.suggest, max_evals=trials, trials=history,
         rstate=np.random.default_rng(seed), show_progressbar=False)
    return SearchRun([float(loss) for loss in history.losses()], configs)


@dataclass(frozen=True)
class QualityResult:
    ours: list[SearchRun]
    plain: list[SearchRun]
    same_path_trials: int  # trials of seed 0 compared between fast and hyperopt's TPE
    same_path_equal: int  # of which the suggestions were identical
    fmin_retraced: int  # seeds on which ours, fed fmin's seeds, suggested what fmin did


def compare_quality(seeds: tuple[int, ...], trials: int, same_path_trials: int
                    ) -> QualityResult:
    ours = [our_search(seed, trials) for seed in seeds]
    plain = [fmin_search(seed, trials) for seed in seeds]
    reference = our_search(seeds[0], same_path_trials, fast=False)
    fast = our_search(seeds[0], same_path_trials)
    equal = sum(a == b for a, b in zip(fast.configs, reference.configs, strict=True))
    retraced = sum(
        our_search(seed, trials, suggester=FminSeededSuggester(seed, trials)) == run
        for seed, run in zip(seeds, plain, strict=True))
    return QualityResult(ours, plain, same_path_trials, equal, retraced)


@dataclass(frozen=True)
class ReuseResult:
    """A real search (coordinator, SQLite store, one local worker) and what it reused."""

    trials: int
    repeats: int  # trials whose configuration an earlier trial had
    reused: int  # trials the store records as reusing an earlier result
    reused_in_status: int  # what the search's status line said
    evaluated: int
    seconds: float


def search_with_reuse(trials: int, *, seed: int = 0) -> ReuseResult:
    """Run ``coordinator.local`` on the synthetic objective and count reused results."""
    register()
    with tempfile.TemporaryDirectory() as folder, \
            SqliteTrialStore(Path(folder) / "history.sqlite") as store:
        experiment = store.ensure_experiment(Experiment(
            exp_key="bench-reuse", objective=synthetic_spec(), algo="tpe", seed=seed))
        started = time.perf_counter()
        outcome = run_local(store, experiment, SYNTHETIC_OCR,
                            SearchSettings(max_evals=trials, poll_interval_s=0.01),
                            workers=1, stop=threading.Event(),
                            worker_settings=WorkerSettings(exp_key="bench-reuse",
                                                           poll_interval_s=0.01))
        seconds = time.perf_counter() - started
        stored = store.trials("bench-reuse")
    reused = sum(1 for trial in stored if trial.reused_from is not None)
    repeats = len(stored) - len({trial.config_key for trial in stored})
    return ReuseResult(len(stored), repeats, reused, outcome.snapshot.reused,
                       len(stored) - reused, seconds)
