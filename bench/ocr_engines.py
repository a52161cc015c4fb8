"""(a) What a trial costs with each OCR engine, on the same pipelines and images.

Three ways to read, each in a fresh process so its environment holds from the start:

- ``writeup``: pytesseract with Tesseract free to use every core (OpenMP unrestricted),
  as the write-up ran it;
- ``pytesseract-1``: pytesseract with ``OMP_THREAD_LIMIT=1``;
- ``tesserocr``: Tesseract in-process through tesserocr, one thread (our default).

Per trial it measures wall seconds and CPU seconds (this process and its children: the
``tesseract`` commands), and per image the OCR seconds. "Per core" compares CPU seconds:
what a trial takes from the machine, however many cores it spread over.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.configs import sample_configs
from shared.jsontypes import JsonObject
from shared.scoring import scores_from_details

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


def measure(variant: str, data: Path, pipelines: list[JsonObject], *, kind: str
            ) -> EngineCost:
    """Run ``variant`` on ``pipelines`` in a fresh process and return what it measured.

    ``kind`` names the pipelines in the report ("random", "TPE-chosen").
    """
    _, threads = VARIANTS[variant]
    env = {**os.environ, "OMP_THREAD_LIMIT": threads}
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as listing:
        json.dump(pipelines, listing)
        listing.flush()
        completed = subprocess.run(
            [sys.executable, "-m", "bench.ocr_engines", variant, str(data), listing.name,
             kind], env=env, capture_output=True, text=True, check=True)
    return EngineCost(**json.loads(completed.stdout.strip().splitlines()[-1]))


def _measure_here(variant: str, data: Path, pipelines: list[JsonObject], kind: str
                  ) -> EngineCost:
    from shared.ocr_objective import OCR_OBJECTIVE, ocr_spec  # after the environment is set

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
