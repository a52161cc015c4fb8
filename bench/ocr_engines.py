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
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.configs import sample_configs
from shared.scoring import scores_from_details

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
    trials: int
    images: int
    wall_s_per_trial: float
    cpu_s_per_trial: float
    ocr_s_per_image: float
    loss_mean: float


def measure(variant: str, data: Path, *, configs: int, seed: int = 0) -> EngineCost:
    """Run ``variant`` in a fresh process and return what it measured."""
    _, threads = VARIANTS[variant]
    env = {**os.environ, "OMP_THREAD_LIMIT": threads}
    completed = subprocess.run(
        [sys.executable, "-m", "bench.ocr_engines", variant, str(data), str(configs),
         str(seed)], env=env, capture_output=True, text=True, check=True)
    return EngineCost(**json.loads(completed.stdout.strip().splitlines()[-1]))


def _measure_here(variant: str, data: Path, configs: int, seed: int) -> EngineCost:
    from shared.ocr_objective import OCR_OBJECTIVE, ocr_spec  # after the environment is set

    engine, _ = VARIANTS[variant]
    objective = OCR_OBJECTIVE.load(ocr_spec(data, engine=engine))
    objective.evaluate(sample_configs(1, seed=seed + 1)[0])  # warm up: caches, first read
    wall = cpu = ocr = loss = 0.0
    images = 0
    for params in sample_configs(configs, seed=seed):
        cpu_before, started = _cpu_s(), time.perf_counter()
        result = objective.evaluate(params)
        wall += time.perf_counter() - started
        cpu += _cpu_s() - cpu_before
        scores = scores_from_details(result.details)
        ocr += sum(score.ocr_seconds for score in scores)
        images += len(scores)
        loss += result.loss or 0.0
    objective.close()
    return EngineCost(variant, engine, str(data), configs, images // configs,
                      wall / configs, cpu / configs, ocr / max(images, 1), loss / configs)


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    variant_arg, data_arg, configs_arg, seed_arg = sys.argv[1:5]
    cost = _measure_here(variant_arg, Path(data_arg), int(configs_arg), int(seed_arg))
    print(json.dumps(asdict(cost)))
