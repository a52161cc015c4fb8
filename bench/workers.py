"""(b) Trials per second with 1 and 2 workers on the MongoDB path, (c) the queue's cost per
trial, and each worker's resident memory.

The same pipelines are queued for each worker count, so the counts compare like with
like; workers are real ``python -m worker`` processes. The server is the one ``--mongo``
names, or else the tests' wire-protocol stand-in (it is not MongoDB: its round trips say
nothing about a real server's, only about our code's share).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.configs import sample_configs
from shared.jsontypes import JsonObject
from shared.ocr_objective import ocr_spec
from shared.store.mongo import MongoTrialStore
from shared.store.uri import parse_mongo_uri
from shared.trials import Experiment, NewTrial, Trial, TrialResult, TrialState

POLL_S = 0.05


@dataclass(frozen=True)
class Throughput:
    workers: int
    trials: int
    seconds: float
    peak_rss_mb: float  # the largest worker, its evaluation process included

    @property
    def trials_per_s(self) -> float:
        return self.trials / self.seconds


@dataclass(frozen=True)
class QueueCost:
    queued_to_reserved_ms: float  # median, an idle worker polling every --poll-interval
    reserve_round_trip_ms: float  # median of store.reserve calls
    record_round_trip_ms: float  # median of store.finish calls


@contextmanager
def server(mongo: str | None) -> Iterator[str]:
    """The URI to use: ``mongo``, or a stand-in started for the benchmark."""
    if mongo:
        yield mongo
        return
    from tests.standin import StandinServer  # only without a real server

    with StandinServer() as standin:
        yield standin.uri + "/ocrtune_bench"


def throughput(uri: str, data: Path, pipelines: list[JsonObject], *, workers: int
               ) -> Throughput:
    """Queue ``pipelines``, start ``workers`` workers, time until all are done.

    Throughput is counted from the first result to the last, over the trials finished in
    between: the workers' start (an evaluation process, the dataset, Tesseract) is left
    out, as it is paid once per worker, not per trial. Pipelines of similar cost keep the
    last trial from running alone for long, which would count against more workers.
    """
    exp_key = f"bench-{workers}w-{time.time_ns()}"
    trials = len(pipelines)
    with MongoTrialStore(parse_mongo_uri(uri)) as store:
        store.ensure_experiment(Experiment(exp_key=exp_key, objective=ocr_spec(data)))
        tids = store.next_tids(exp_key, trials)
        store.enqueue(exp_key, [NewTrial(tid, params, {"idxs": {}, "vals": {}})
                                for tid, params in zip(tids, pipelines, strict=True)])
        processes = [_start_worker(uri, exp_key) for _ in range(workers)]
        peak = _watch_until_done(store, exp_key, trials, processes)
        done = store.trials(exp_key)
    ends = sorted(t.end_time for t in done if t.end_time)
    return Throughput(workers, len(ends) - 1, (ends[-1] - ends[0]).total_seconds(), peak)


def _start_worker(uri: str, exp_key: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "worker", "--mongo", uri, "--exp-key", exp_key,
         "--reserve-timeout", "2", "--poll-interval", str(POLL_S), "--log-level", "WARNING"])


def _watch_until_done(store: MongoTrialStore, exp_key: str, trials: int,
                      processes: list[subprocess.Popen[bytes]]) -> float:
    peak = 0.0
    while store.state_counts(exp_key)[TrialState.DONE] + \
            store.state_counts(exp_key)[TrialState.ERROR] < trials:
        peak = max(peak, *(_tree_rss_mb(p.pid) for p in processes))
        time.sleep(0.5)
    for process in processes:
        process.wait(timeout=60)
    return peak


def _tree_rss_mb(pid: int) -> float:
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
        return sum(p.memory_info().rss for p in tree) / 2**20
    except psutil.NoSuchProcess:
        return 0.0


def queue_cost(uri: str, data: Path, *, samples: int) -> QueueCost:
    """Queued-to-reserved latency with one idle worker, and the store's round trips."""
    return QueueCost(_queued_to_reserved_ms(uri, data, samples),
                     *_round_trips_ms(uri, data, samples))


def _queued_to_reserved_ms(uri: str, data: Path, samples: int) -> float:
    exp_key = f"bench-latency-{time.time_ns()}"
    config = sample_configs(1, seed=99)[0]
    latencies = []
    with MongoTrialStore(parse_mongo_uri(uri)) as store:
        store.ensure_experiment(Experiment(exp_key=exp_key, objective=ocr_spec(data)))
        worker = _start_worker(uri, exp_key)
        try:
            for _ in range(samples):
                (tid,) = store.next_tids(exp_key, 1)
                queued_at = time.time()
                store.enqueue(exp_key, [NewTrial(tid, config, {"idxs": {}, "vals": {}})])
                (trial,) = _wait_finished(store, exp_key, tid)
                assert trial.book_time is not None
                latencies.append((trial.book_time.timestamp() - queued_at) * 1000)
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    return statistics.median(latencies)


def _wait_finished(store: MongoTrialStore, exp_key: str, tid: int) -> list[Trial]:
    while True:
        found = store.trials(exp_key, tids=[tid], states=[TrialState.DONE, TrialState.ERROR])
        if found:
            return found
        time.sleep(0.02)


def _round_trips_ms(uri: str, data: Path, samples: int) -> tuple[float, float]:
    exp_key = f"bench-roundtrip-{time.time_ns()}"
    reserve_ms, record_ms = [], []
    with MongoTrialStore(parse_mongo_uri(uri)) as store:
        store.ensure_experiment(Experiment(exp_key=exp_key, objective=ocr_spec(data)))
        tids = store.next_tids(exp_key, samples)
        store.enqueue(exp_key, [NewTrial(tid, {"x": tid}, {"idxs": {}, "vals": {}})
                                for tid in tids])
        for _ in tids:
            started = time.perf_counter()
            trial = store.reserve("bench", [exp_key])
            reserve_ms.append((time.perf_counter() - started) * 1000)
            assert trial is not None
            started = time.perf_counter()
            store.finish(trial, TrialResult.ok(1.0))
            record_ms.append((time.perf_counter() - started) * 1000)
    return statistics.median(reserve_ms), statistics.median(record_ms)


