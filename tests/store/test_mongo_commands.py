"""What the MongoDB store sends the server: nothing written when it opens to read only, and
one lookup per experiment however often its calls name it.

Commands are counted with pymongo's command monitoring, on the server ``mongo_target``
gives (the stand-in, or the real one OCRTUNE_TEST_MONGO_URI names).
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

import pytest
from pymongo import MongoClient, monitoring

import shared.store.mongo_client
from shared.errors import UnknownExperimentError
from shared.store.mongo import MongoTrialStore
from shared.store.uri import MongoTarget

from .contract_support import FakeClock, make_experiment, queue_trials

# Commands pymongo sends on its own, to learn the server's state and end sessions.
_HOUSEKEEPING = frozenset({"hello", "ismaster", "isMaster", "endSessions"})


class _Commands(monitoring.CommandListener):
    """The (command, collection) of every command a client sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name not in _HOUSEKEEPING:
            self.sent.append((event.command_name, event.command.get(event.command_name)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> _Commands:
    """Every command of the stores the test opens from now on."""
    listener = _Commands()
    monkeypatch.setattr(shared.store.mongo_client, "MongoClient",
                        functools.partial(MongoClient, event_listeners=[listener]))
    return listener


def _collections(mongo_target: MongoTarget) -> list[str]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_target.uri)
    try:
        return sorted(client[mongo_target.database].list_collection_names())
    finally:
        client.close()


def test_a_store_opened_to_read_only_creates_no_index_and_writes_nothing(
        mongo_target: MongoTarget, commands: _Commands) -> None:
    # Given an empty database
    # When a store opens it to read only and lists its experiments
    with MongoTrialStore(mongo_target, read_only=True) as store:
        assert store.list_experiments() == []

    # Then it sent one read besides hello (which also reads the server's clock), no
    # createIndexes, and the database stays empty
    assert [name for name, _ in commands.sent] == ["find"]
    assert _collections(mongo_target) == []


def test_a_store_opened_to_read_only_reads_what_another_store_wrote(
        mongo_target: MongoTarget) -> None:
    # Given a database with an experiment and trials
    with MongoTrialStore(mongo_target) as writer:
        writer.ensure_experiment(make_experiment("exp-a"))
        queue_trials(writer, "exp-a", 2)

    # When a store opens it to read only / Then it reads them
    with MongoTrialStore(mongo_target, read_only=True) as reader:
        assert [t.tid for t in reader.trials("exp-a")] == [0, 1]


def test_an_idle_poll_looks_the_experiment_up_once_and_then_not_again(
        mongo_target: MongoTarget, commands: _Commands) -> None:
    # Given an experiment made by another store, and a store that has not named it yet
    with MongoTrialStore(mongo_target) as writer:
        writer.ensure_experiment(make_experiment("exp-a"))
        queue_trials(writer, "exp-a", 1)
    clock = FakeClock()
    with MongoTrialStore(mongo_target, clock=clock) as store:
        commands.sent.clear()

        # When it makes an idle coordinator's poll calls three times
        for _ in range(3):
            store.requeue_stale("exp-a", older_than=clock.now, max_attempts=3)
            store.trials("exp-a", tids=[0])
            store.state_counts("exp-a")
            store.live_workers(seen_since=clock.now - timedelta(seconds=60), exp_key="exp-a")

    # Then the experiment was looked up once, and each pass made one command a call
    lookups = [sent for sent in commands.sent if sent == ("find", "experiments")]
    assert len(lookups) == 1
    assert len(commands.sent) == 1 + 3 * 4


def test_an_unknown_experiment_is_still_refused_once_another_is_known(
        mongo_target: MongoTarget) -> None:
    # Given a store that knows experiment exp-a
    with MongoTrialStore(mongo_target) as store:
        store.ensure_experiment(make_experiment("exp-a"))
        store.state_counts("exp-a")

        # When a call names one that does not exist / Then it is refused, naming it
        with pytest.raises(UnknownExperimentError, match=r"'missing'.*'exp-a'"):
            store.state_counts("missing")

        # And once that one is made, the same store finds it
        store.ensure_experiment(make_experiment("missing"))
        assert store.next_tids("missing", 2) == [0, 1]
