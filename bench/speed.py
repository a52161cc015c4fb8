"""The speed benchmark of issue 6, in one run: writes a Markdown report.

    python -m bench.speed [--quick] [--mongo URI] [--photos DIR] [--out FILE]

(a) OCR cost per trial and per image, the write-up's pytesseract path against ours;
(b) trials per second with 1 and 2 workers on the MongoDB path, and parallel efficiency;
(c) the queue's cost per trial; plus each worker's peak resident memory; (d) the
coordinator's time per suggestion with 100, 1000 and 4000 trials in history against plain
hyperopt, with search quality over seeds; (e) repeated configurations. Every target is a
ratio or rate measured in the same run, and the report says whether it is met.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click

from bench.configs import sample_configs
from bench.docs_page import replace_report
from bench.ocr_engines import VARIANTS, EngineCost, measure
from bench.ocr_quality import OcrQuality, compare_on_data, ocr_quality_table, tpe_pipelines
from bench.suggest_speed import FULL as SUGGEST_FULL
from bench.suggest_speed import QUICK as SUGGEST_QUICK
from bench.suggest_speed import measure_and_report
from bench.workers import QueueCost, Throughput, queue_cost, server, throughput
from shared.store.uri import redact_uri

logger = logging.getLogger(__name__)

SAMPLE_DATA = Path(__file__).resolve().parents[1] / "data"
# Issue 6's targets.
MAX_TRIAL_COST_RATIO = 0.25  # ours against the write-up's, CPU seconds per trial
MIN_TWO_WORKER_SPEEDUP = 1.8
MAX_WORKER_RSS_MB = 300.0
CORES = os.cpu_count() or 1
RANDOM = "random"
TPE_CHOSEN = "TPE-chosen"


@dataclass(frozen=True)
class Sizes:
    engine_configs: int  # pipelines timed per engine, of each kind, alone on the machine
    loaded_configs: int  # of those, timed again in one process per core at once
    throughput_trials: int
    latency_samples: int
    quality_seeds: tuple[int, ...]  # real-OCR searches, ours and fmin's, per seed
    quality_trials: int


QUICK = Sizes(engine_configs=3, loaded_configs=1, throughput_trials=10, latency_samples=5,
              quality_seeds=(0,), quality_trials=30)
FULL = Sizes(engine_configs=8, loaded_configs=3, throughput_trials=40, latency_samples=30,
             quality_seeds=(0, 1, 2), quality_trials=60)


@click.command()
@click.option("--quick", is_flag=True, help="Small sizes, for CI (a few minutes).")
@click.option("--mongo", envvar="OCRTUNE_TEST_MONGO_URI", metavar="URI",
              help="A real MongoDB; without it, the tests' stand-in.")
@click.option("--photos", type=click.Path(path_type=Path, file_okay=False, exists=True),
              envvar="OCRTUNE_PHOTOS", help="Real photos (images/, texts/) for part (a).")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the report here.")
@click.option("--docs", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Also put the report in this page's report section (docs/benchmarks.md).")
def main(*, quick: bool, mongo: str | None, photos: Path | None, out: Path | None,
         docs: Path | None) -> None:
    """Measure and print the Markdown report."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    sizes = QUICK if quick else FULL
    started = time.perf_counter()
    lines = _report(sizes, mongo=mongo, photos=photos, quick=quick)
    lines += ["", f"Command: `{_command(quick=quick, mongo=mongo, photos=photos)}`; the "
              f"whole run took {time.perf_counter() - started:.0f} s."]
    report = "\n".join(lines)
    click.echo(report)
    if out is not None:
        out.write_text(report + "\n", encoding="utf-8")
    if docs is not None:
        replace_report(docs, report)


def _command(*, quick: bool, mongo: str | None, photos: Path | None) -> str:
    """The command that measures the same things (the password left out of a URI)."""
    words = ["python -m bench.speed"]
    words += ["--quick"] if quick else []
    words += [f"--mongo '{redact_uri(mongo)}'"] if mongo else []
    words += [f"--photos {photos}"] if photos is not None and not quick else []
    return " ".join(words)


def _report(sizes: Sizes, *, mongo: str | None, photos: Path | None, quick: bool
            ) -> list[str]:
    quality = compare_on_data(SAMPLE_DATA, seeds=sizes.quality_seeds,
                              trials=sizes.quality_trials)
    costs = _engine_costs(sizes, quality, photos=None if quick else photos)
    with server(mongo) as uri:
        chosen = tpe_pipelines(quality, sizes.throughput_trials)
        runs = [throughput(uri, SAMPLE_DATA, chosen, workers=n) for n in (1, 2)]
        queue = queue_cost(uri, SAMPLE_DATA, samples=sizes.latency_samples)
    where = "a real MongoDB" if mongo else "the wire-protocol stand-in (tests/standin)"
    return [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{'quick' if quick else 'full'} sizes, MongoDB path on {where}.",
        "", *_engine_table(costs), "", *_throughput_table(runs), "",
        *_queue_table(queue), "", *_targets(costs, runs), "",
        *ocr_quality_table(quality), "",
        measure_and_report(SUGGEST_QUICK if quick else SUGGEST_FULL),
    ]


def _engine_costs(sizes: Sizes, quality: OcrQuality, *, photos: Path | None
                  ) -> list[EngineCost]:
    """Every engine on the same pipelines: alone, then with every core busy.

    On the sample data, random and TPE-chosen pipelines; on the photos, random ones.
    """
    sample = {RANDOM: sample_configs(sizes.engine_configs),
              TPE_CHOSEN: tpe_pipelines(quality, sizes.engine_configs)}
    plans = [(SAMPLE_DATA, kind, pipelines, 1) for kind, pipelines in sample.items()]
    if photos is not None:
        plans.append((photos, RANDOM, sample_configs(sizes.engine_configs), 1))
    plans += [(SAMPLE_DATA, kind, pipelines[:sizes.loaded_configs], CORES)
              for kind, pipelines in sample.items()]
    return [measure(variant, data, pipelines, kind=kind, copies=copies)
            for data, kind, pipelines, copies in plans for variant in VARIANTS]


def _engine_table(costs: list[EngineCost]) -> list[str]:
    rows = ["(a) OCR cost, the same pipelines for every engine (random: drawn from the "
            "space; TPE-chosen: from the real-OCR searches below, after TPE's random "
            f"start). At once: 1 is a trial alone on the machine; {CORES} is one process "
            "per core, each with about one core, as when a worker runs on every core:", "",
            "| data | pipelines | way | at once | trials | wall s/trial | CPU s/trial "
            "| OCR s/image | mean loss |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    rows += [f"| {Path(c.data).name} | {c.pipelines} | {c.variant} | {c.copies} | "
             f"{c.trials} | {c.wall_s_per_trial:.2f} | {c.cpu_s_per_trial:.2f} | "
             f"{c.ocr_s_per_image:.3f} | {c.loss_mean:.3f} |" for c in costs]
    return rows


def _throughput_table(runs: list[Throughput]) -> list[str]:
    one = runs[0].trials_per_s
    rows = ["(b) Workers on the MongoDB path, the same TPE-chosen pipelines queued for each "
            "count, timed from the first result to the last:", "",
            "| workers | trials timed | seconds | trials/s | speed-up | efficiency "
            "| peak RSS MB |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    rows += [f"| {r.workers} | {r.trials} | {r.seconds:.1f} | {r.trials_per_s:.3f} | "
             f"{r.trials_per_s / one:.2f} | {r.trials_per_s / one / r.workers:.0%} | "
             f"{r.peak_rss_mb:.0f} |" for r in runs]
    return rows


def _queue_table(queue: QueueCost) -> list[str]:
    return ["(c) The queue's cost per trial (medians):", "",
            "| queued to reserved (idle worker) | reserve round trip | record round trip |",
            "| --- | --- | --- |",
            f"| {queue.queued_to_reserved_ms:.0f} ms | {queue.reserve_round_trip_ms:.1f} ms | "
            f"{queue.record_round_trip_ms:.1f} ms |"]


def _targets(costs: list[EngineCost], runs: list[Throughput]) -> list[str]:
    by = {(Path(c.data).name, c.pipelines, c.variant, c.copies): c for c in costs}
    sample = SAMPLE_DATA.name

    def ratio(kind: str, copies: int, seconds: Callable[[EngineCost], float]) -> float:
        return (seconds(by[sample, kind, "tesserocr", copies])
                / seconds(by[sample, kind, "writeup", copies]))

    speedup = runs[1].trials_per_s / runs[0].trials_per_s
    rss = max(r.peak_rss_mb for r in runs)
    checks = []
    for kind in (RANDOM, TPE_CHOSEN):
        busy = ratio(kind, CORES, lambda c: c.wall_s_per_trial)
        alone = ratio(kind, 1, lambda c: c.cpu_s_per_trial)
        checks += [
            (f"trial cost per core <= {MAX_TRIAL_COST_RATIO:.2f} of the write-up's, {kind} "
             "pipelines, every core busy (wall s per trial per core)", f"{busy:.2f}",
             busy <= MAX_TRIAL_COST_RATIO),
            ("the same, a trial alone on the machine (CPU s per trial)", f"{alone:.2f}",
             alone <= MAX_TRIAL_COST_RATIO)]
    checks += [
        (f"2 workers >= {MIN_TWO_WORKER_SPEEDUP}x one", f"{speedup:.2f}x",
         speedup >= MIN_TWO_WORKER_SPEEDUP),
        (f"worker RSS <= {MAX_WORKER_RSS_MB:.0f} MB", f"{rss:.0f} MB",
         rss <= MAX_WORKER_RSS_MB),
    ]
    lines = ["Targets:", "", "| target | measured | met |", "| --- | --- | --- |"]
    lines += [f"| {name} | {shown} | {'yes' if met else 'NO'} |" for name, shown, met in checks]
    return lines


if __name__ == "__main__":
    main()
