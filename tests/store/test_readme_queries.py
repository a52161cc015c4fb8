"""The README's history queries: its pymongo code, run on documents the MongoDB store wrote.

Runs against the server ``mongo_target`` gives (a real one when OCRTUNE_TEST_MONGO_URI is
set, else the stand-in). The mongosh forms cannot run here; they are checked to be the
queries docs/deploy.md gives, word for word.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from shared.store.mongo import MongoTrialStore
from shared.store.uri import MongoTarget
from shared.trials import NewTrial, TrialResult

from .contract_support import make_experiment, new_trial

ROOT = Path(__file__).resolve().parents[2]
SECTION_START = "**Querying the history.**"
SECTION_END = "## Tests"


def readme_blocks(language: str) -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(SECTION_START)
    section = readme[start:readme.index(SECTION_END, start)]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


def printed(code: str, jobs: Any) -> list[list[str]]:
    """What a README block prints with ``jobs`` bound, as lines of words."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(code, {"jobs": jobs})
    return [line.split(maxsplit=3) for line in output.getvalue().splitlines()]


@pytest.fixture
def jobs(mongo_target: MongoTarget) -> Iterator[Any]:
    """The jobs collection after a small search: two workers, a failure, a reused trial."""
    with MongoTrialStore(mongo_target, server_selection_timeout_ms=10_000) as store:
        store.ensure_experiment(make_experiment("sample"))
        store.ensure_experiment(make_experiment("other"))
        store.enqueue("sample", [new_trial(tid) for tid in store.next_tids("sample", 4)])
        results = [("host-a:1", TrialResult.ok(0.5)), ("host-b:2", TrialResult.ok(0.2)),
                   ("host-a:1", TrialResult.failed("timeout: the trial ran too long")),
                   ("host-b:2", TrialResult.ok(0.9))]
        finished = []
        for worker_id, result in results:
            trial = store.reserve(worker_id, ["sample"])
            assert trial is not None
            finished.append(store.finish(trial, result))
        (tid,) = store.next_tids("sample", 1)
        store.insert_reused("sample", NewTrial(tid, finished[1].params, {}), finished[1])
        store.enqueue("other", [new_trial(tid) for tid in store.next_tids("other", 1)])
        other = store.reserve("host-c:3", ["other"])
        assert other is not None
        store.finish(other, TrialResult.ok(0.01))
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_target.uri)
    yield client[mongo_target.database].jobs
    client.close()


def test_the_readme_connects_to_the_jobs_collection_of_the_ocrtune_database() -> None:
    # Given the README's connection code
    (connect, *_queries) = readme_blocks("python")
    namespace: dict[str, Any] = {}

    # When it runs (pymongo connects only when a query is sent)
    exec(connect, namespace)

    # Then it names the collection the queries use
    assert namespace["jobs"].full_name == "ocrtune.jobs"
    namespace["jobs"].database.client.close()


def test_the_readme_ten_best_query_lists_the_experiments_done_trials_lowest_loss_first(
        jobs: Any) -> None:
    # Given trials with losses 0.5, 0.2, 0.9, a failure and a reuse of the 0.2 trial
    (_connect, best, _failed, _per_worker) = readme_blocks("python")

    # When the README's first query runs
    rows = printed(best, jobs)

    # Then it lists the done trials of that experiment only, lowest loss first
    assert [float(row[1]) for row in rows] == [0.2, 0.2, 0.5, 0.9]
    assert {int(row[0]) for row in rows} == {0, 1, 3, 4}
    assert {row[2] for row in rows} == {"host-a:1", "host-b:2", "None"}


def test_the_readme_failed_query_gives_each_failed_trial_with_its_worker_and_reason(
        jobs: Any) -> None:
    (_connect, _best, failed, _per_worker) = readme_blocks("python")

    rows = printed(failed, jobs)

    assert rows == [["2", "host-a:1", "1", "timeout: the trial ran too long"]]


def test_the_readme_per_worker_query_counts_done_and_failed_trials_by_worker(
        jobs: Any) -> None:
    (_connect, _best, _failed, per_worker) = readme_blocks("python")

    rows = printed(per_worker, jobs)

    assert sorted(rows) == [["None", "1", "0"], ["host-a:1", "1", "1"],
                            ["host-b:2", "2", "0"]]
    assert rows[0] == ["host-b:2", "2", "0"]  # most done first


def test_the_readme_mongosh_queries_are_the_ones_docs_deploy_gives() -> None:
    # Given the mongosh queries of the README and of docs/deploy.md
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")

    # When each README query is looked for there
    queries = readme_blocks("js")

    # Then there are three, and each is there word for word
    assert len(queries) == 3
    assert [query for query in queries if f"```js\n{query}```" not in deploy] == []
