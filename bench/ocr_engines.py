"""(a) What a trial costs with each OCR engine, on the same pipelines and images.

Three ways to read, each in a fresh process so its environment holds from the start:

- ``writeup``: pytesseract with Tesseract free to use every core (OpenMP unrestricted),
  as the write-up ran it;
- ``pytesseract-1``: pytesseract with ``OMP_THREAD_LIMIT=1``;
- ``tesserocr``: Tesseract in-process through tesserocr, one thread (our default).

Per trial it measures wall seconds and CPU seconds (this process and its children: the
``tesseract`` commands), and per image the OCR seconds, in two conditions:

- alone: one process on an idle machine. CPU seconds are what a trial takes from the
  machine, however many cores it spread over.
- every core busy: one process per core at once, as when a worker runs on every core.
  Each then has about a core, so its wall seconds per trial are seconds per trial per
  core. Here the write-up's way suffers most: each Tesseract starts a thread per core,
  and OpenMP threads that outnumber the cores spin while they wait for one another.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2

from bench.configs import sample_configs
from shared.jsontypes import JsonObject
from shared.scoring import scores_from_details
from worker.evaluator import OPENCV_THREADS

WARM_UP_SEED = 1_000  # a pipeline outside any measured set

VARIANTS = {
    "writeup": ("pytesseract", str(os.cpu_count() or 1)),
    "pytesseract-1": ("pytesseract", "1"),
    "tesserocr": ("tesserocr", "1"),
}


@dataclass(frozen=True)
class EngineCost:
    variant: str
    engine: str
    data: str
    pipelines: str  # which: "random" or "TPE-chosen"
    trials: int
    images: int
    wall_s_per_trial: float
    cpu_s_per_trial: float
    ocr_s_per_image: float
    loss_mean: float
    copies: int = 1  # processes measured at once


def measure(variant: str, data: Path, pipelines: list[JsonObject], *, kind: str,
            copies: int = 1) -> EngineCost:
    """Run ``variant`` on ``pipelines`` in ``copies`` fresh processes at once.

    One copy measures a trial alone on the machine. As many copies as cores measure it
    with every core busy, as when a worker runs on each core: each copy then has about one
    core, so its seconds per trial are seconds per trial per core. ``kind`` names the
    pipelines in the report ("random", "TPE-chosen"). Returns the copies' mean.
    """
    _, threads = VARIANTS[variant]
    env = {**os.environ, "OMP_THREAD_LIMIT": threads}
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as listing:
        json.dump(pipelines, listing)
        listing.flush()
        command = [sys.executable, "-m", "bench.ocr_engines", variant, str(data),
                   listing.name, kind]
        running = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
                   for _ in range(copies)]
        outputs = [process.communicate()[0] for process in running]
    if any(process.returncode for process in running):
        raise RuntimeError(f"measuring {variant} on {data} failed; its error is above")
    costs = [EngineCost(**json.loads(out.strip().splitlines()[-1])) for out in outputs]
    return _mean(costs, copies)


def _mean(costs: list[EngineCost], copies: int) -> EngineCost:
    first = costs[0]
    return EngineCost(
        first.variant, first.engine, first.data, first.pipelines, first.trials, first.images,
        statistics.fmean(c.wall_s_per_trial for c in costs),
        statistics.fmean(c.cpu_s_per_trial for c in costs),
        statistics.fmean(c.ocr_s_per_image for c in costs),
        statistics.fmean(c.loss_mean for c in costs), copies)


def _measure_here(variant: str, data: Path, pipelines: list[JsonObject], kind: str
                  ) -> EngineCost:
    from shared.ocr_objective import OCR_OBJECTIVE, ocr_spec  # after the environment is set

    cv2.setNumThreads(OPENCV_THREADS)  # as in a worker's evaluation process
    engine, _ = VARIANTS[variant]
    objective = OCR_OBJECTIVE.load(ocr_spec(data, engine=engine))
    objective.evaluate(sample_configs(1, seed=WARM_UP_SEED)[0])  # caches, first read
    wall = cpu = ocr = loss = 0.0
    images = 0
    for params in pipelines:
        cpu_before, started = _cpu_s(), time.perf_counter()
        result = objective.evaluate(params)
        wall += time.perf_counter() - started
        cpu += _cpu_s() - cpu_before
        scores = scores_from_details(result.details)
        ocr += sum(score.ocr_seconds for score in scores)
        images += len(scores)
        loss += result.loss or 0.0
    objective.close()
    count = len(pipelines)
    return EngineCost(variant, engine, str(data), kind, count, images // count, wall / count,
                      cpu / count, ocr / max(images, 1), loss / count)


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    variant_arg, data_arg, listing_arg, kind_arg = sys.argv[1:5]
    chosen = json.loads(Path(listing_arg).read_text(encoding="utf-8"))
    cost = _measure_here(variant_arg, Path(data_arg), chosen, kind_arg)
    sys.stdout.write(json.dumps(asdict(cost)) + "\n")
