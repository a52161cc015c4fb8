"""Issue 6 (d) and (e): the coordinator's suggestions against plain hyperopt.

(d) Seconds per suggestion with 100, 1000 and 4000 trials in the history: ours (the
    coordinator's Suggester, each suggestion recorded as queued and then as finished, as
    the search loop does, over many suggestions in a row), hyperopt's ``tpe.suggest``
    alone on the same history, and hyperopt's ``fmin`` with in-memory ``Trials`` holding
    the same history. Histories are random configurations of the OCR space scored by a
    synthetic loss (bench/synthetic_ocr.py), so no OCR runs. Then search quality: the best
    loss after 50, 100 (and 200) trials, ours against fmin, over several seeds.
(e) How many suggestions repeat a configuration already evaluated: in the quality runs,
    and in a real local search (coordinator, SQLite store, one worker), which reuses them.

From the repository root::

    python -m bench.suggest_speed --quick --out bench-suggest.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import hyperopt
import numpy as np
from hyperopt import tpe
from tabulate import tabulate

from bench.suggest_quality import QualityResult, ReuseResult, compare_quality, search_with_reuse
from bench.synthetic_ocr import SYNTHETIC_OCR, random_history, synthetic_loss
from coordinator.history import HyperoptHistory
from coordinator.suggest import Suggester
from shared.space import build_space, plain_params
from shared.trials import Trial, TrialResult, TrialState

TARGET_PER_S = 50.0  # issue 6: at least 50 suggestions a second with 4000 in the history


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...]
    ours_in_a_row: int  # our suggestions timed per history size
    plain_repeats: int  # tpe.suggest calls, and fmin trials, timed per history size
    seeds: tuple[int, ...]
    trials: int  # per quality run
    checkpoints: tuple[int, ...]
    same_path_trials: int  # compared one by one between fast TPE and hyperopt's
    search_trials: int  # in the real search that counts reuse


QUICK = Plan((100, 1000, 4000), 50, 1, (0, 1, 2), 100, (50, 100), 50, 30)
FULL = Plan((100, 1000, 4000), 300, 5, tuple(range(20)), 200, (50, 100, 200), 200, 200)


@dataclass(frozen=True)
class SpeedRow:
    history: int
    ours_s: float
    ours_cpu_s: float
    ours_p95_s: float
    tpe_suggest_s: float
    fmin_s: float


def measure_speed(trials: list[Trial], size: int, plan: Plan) -> SpeedRow:
    history = HyperoptHistory()
    history.record(trials[:size])
    tpe_s = _time_tpe_suggest(history, size, plan.plain_repeats)
    fmin_s = _time_fmin(trials[:size], plan.plain_repeats)
    wall, cpu, each = _time_ours(history, size, plan.ours_in_a_row)
    return SpeedRow(size, wall, cpu, float(np.percentile(each, 95)), tpe_s, fmin_s)


def _time_ours(history: HyperoptHistory, size: int, count: int
               ) -> tuple[float, float, list[float]]:
    """Wall and CPU seconds per suggestion over ``count`` in a row, and each call's time."""
    suggester = Suggester(SYNTHETIC_OCR, algo="tpe", seed=0)
    each = []
    wall, cpu = time.perf_counter(), time.process_time()
    for tid in range(size, size + count):
        started = time.perf_counter()
        new = suggester.suggest(tid, history)
        history.record([Trial("bench", tid, TrialState.NEW, new.params, new.hyperopt_misc)])
        each.append(time.perf_counter() - started)
        history.record([Trial("bench", tid, TrialState.DONE, new.params, new.hyperopt_misc,
                              result=TrialResult.ok(synthetic_loss(new.params)))])
    return ((time.perf_counter() - wall) / count, (time.process_time() - cpu) / count, each)


def _time_tpe_suggest(history: HyperoptHistory, size: int, repeats: int) -> float:
    domain = hyperopt.base.Domain(lambda _: 0.0, build_space())
    started = time.perf_counter()
    for offset in range(repeats):
        tpe.suggest([size + offset], domain, history.trials, offset)
    return (time.perf_counter() - started) / repeats


def _time_fmin(trials: list[Trial], repeats: int) -> float:
    """fmin's seconds per trial for ``repeats`` more trials on top of ``trials``."""
    history = hyperopt.Trials()
    docs = history.new_trial_docs(
        [t.tid for t in trials], [None] * len(trials),
        [{"status": hyperopt.STATUS_OK, "loss": t.loss} for t in trials],
        [{"tid": t.tid, "cmd": None, "workdir": None, **t.hyperopt_misc} for t in trials])
    for doc in docs:
        doc["state"] = hyperopt.JOB_STATE_DONE
    history.insert_trial_docs(docs)
    history.refresh()
    started = time.perf_counter()
    hyperopt.fmin(lambda sample: synthetic_loss(plain_params(sample)), build_space(),
                  algo=tpe.suggest, max_evals=len(trials) + repeats, trials=history,
                  rstate=np.random.default_rng(0), show_progressbar=False)
    return (time.perf_counter() - started) / repeats


def speed_table(rows: list[SpeedRow]) -> str:
    return tabulate(
        [(row.history, f"{row.ours_s * 1e3:.1f}", f"{row.ours_cpu_s * 1e3:.1f}",
          f"{row.ours_p95_s * 1e3:.1f}", f"{1 / row.ours_s:.0f}",
          f"{row.tpe_suggest_s * 1e3:.0f}", f"{row.fmin_s * 1e3:.0f}",
          f"{1 / row.fmin_s:.1f}", f"{row.fmin_s / row.ours_s:.0f}x") for row in rows],
        headers=["trials in history", "ours ms/suggestion", "ours CPU ms", "ours p95 ms",
                 "ours per s", "tpe.suggest ms", "fmin ms/trial", "fmin per s",
                 "speed-up vs fmin"],
        tablefmt="github")


def quality_table(result: QualityResult, checkpoints: Sequence[int]) -> str:
    rows = []
    for at in checkpoints:
        ours = [run.best_at(at) for run in result.ours]
        plain = [run.best_at(at) for run in result.plain]
        wins = sum(o <= p for o, p in zip(ours, plain, strict=True))
        rows.append((at, f"{statistics.mean(ours):.4f}", f"{statistics.median(ours):.4f}",
                     f"{statistics.mean(plain):.4f}", f"{statistics.median(plain):.4f}",
                     f"{wins}/{len(ours)}"))
    return tabulate(rows, headers=["trials", "ours mean best", "ours median best",
                                   "fmin mean best", "fmin median best",
                                   "seeds ours <= fmin"], tablefmt="github")


def repeats_table(result: QualityResult, reuse: ReuseResult) -> str:
    trials = len(result.ours[0].losses)
    rows = [(f"quality runs, ours ({len(result.ours)} x {trials} trials)",
             sum(run.repeats for run in result.ours), len(result.ours) * trials, "-"),
            (f"quality runs, fmin ({len(result.plain)} x {trials} trials)",
             sum(run.repeats for run in result.plain), len(result.plain) * trials, "-"),
            ("local search (coordinator + 1 worker, SQLite)", reuse.repeats, reuse.trials,
             f"{reuse.reused} reused (status said {reuse.reused_in_status}), "
             f"{reuse.repeats - reuse.reused} evaluated again (the first still pending); "
             f"{reuse.evaluated} evaluations; {reuse.trials / reuse.seconds:.1f} trials/s")]
    return tabulate(rows, headers=["search", "repeated configurations", "trials",
                                   "what the search did"], tablefmt="github")


def report(plan: Plan, speed: list[SpeedRow], quality: QualityResult, reuse: ReuseResult,
           seconds: float) -> str:
    at_4000 = next((row for row in speed if row.history == 4000), speed[-1])
    rate = 1 / at_4000.ours_s
    verdict = "met" if rate >= TARGET_PER_S else f"missed by {TARGET_PER_S - rate:.0f}/s"
    return "\n".join([
        "## Suggestion speed (issue 6 d)", "", speed_table(speed), "",
        f"Target: at least {TARGET_PER_S:.0f} suggestions a second with "
        f"{at_4000.history} trials in the history: {rate:.0f}/s, {verdict}.", "",
        "## Search quality, synthetic loss on the OCR space", "",
        quality_table(quality, plan.checkpoints), "",
        f"Our loop with hyperopt's tpe.suggest in place of the fast one (seed "
        f"{plan.seeds[0]}): {quality.same_path_equal} of {quality.same_path_trials} "
        "suggestions identical. Our loop fed the seeds fmin draws: the same trials as fmin "
        f"on {quality.fmin_retraced} of {len(quality.plain)} seeds.", "",
        "## Repeated configurations (issue 6 e)", "", repeats_table(quality, reuse), "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end; Python {platform.python_version()}, "
        f"hyperopt {hyperopt.__version__}, numpy {np.__version__}; parts (d) and (e) "
        f"took {seconds:.0f} s.", ""])


def measure_and_report(plan: Plan) -> str:
    """Run parts (d) and (e) with ``plan``'s sizes and return the Markdown report."""
    started = time.perf_counter()
    trials = random_history(max(plan.sizes), seed=0)
    speed = [measure_speed(trials, size, plan) for size in plan.sizes]
    quality = compare_quality(plan.seeds, plan.trials, plan.same_path_trials)
    reuse = search_with_reuse(plan.search_trials)
    return report(plan, speed, quality, reuse, time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats, seeds and trials: under a minute, for CI")
    parser.add_argument("--out", type=Path, help="also write the Markdown report here")
    args = parser.parse_args(argv)
    text = measure_and_report(QUICK if args.quick else FULL)
    text += f"Command: `python -m bench.suggest_speed {' '.join(sys.argv[1:])}`.\n"
    sys.stdout.write(text)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
