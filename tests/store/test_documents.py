"""The documents both stores keep: hyperopt's job layout, exact round trips, named errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from shared.errors import StoreError
from shared.store.documents import (
    experiment_from_document,
    experiment_to_document,
    new_trial_document,
    result_to_document,
    reused_trial_document,
    trial_from_document,
    trial_to_document,
    worker_from_document,
    worker_to_document,
)
from shared.trials import LEASE_TIMEOUT_S, NewTrial, Trial, TrialResult, TrialState, WorkerInfo

from .contract_support import make_experiment

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MISC = {"idxs": {"glyph": [7]}, "vals": {"glyph": [24]}}


def running_trial() -> Trial:
    return Trial("exp-a", 7, TrialState.RUNNING, {"glyph": 24}, MISC, version=3, attempts=2,
                 owner="w1", book_time=T0, refresh_time=T0 + timedelta(seconds=30))


def done_trial() -> Trial:
    result = TrialResult.ok(0.25, duration_s=4.5, details={"mean_cer": 0.25})
    return Trial("exp-a", 7, TrialState.DONE, {"glyph": 24}, MISC, version=4, attempts=2,
                 owner="w1", book_time=T0, refresh_time=T0, end_time=T0, result=result)


def test_a_trial_document_keeps_hyperopts_job_layout() -> None:
    # Given a queued trial
    # When it becomes a document
    doc = new_trial_document("exp-a", NewTrial(7, {"glyph": 24}, MISC))

    # Then it reads like a hyperopt job, plus our own fields
    assert doc == {
        "tid": 7, "exp_key": "exp-a", "state": 0, "owner": None, "book_time": None,
        "refresh_time": None, "end_time": None, "spec": {"glyph": 24},
        "result": {"status": "new"},
        "misc": {"tid": 7, "idxs": {"glyph": [7]}, "vals": {"glyph": [24]}, "cmd": None,
                 "workdir": None},
        "version": 0, "attempts": 0, "config_key": NewTrial(7, {"glyph": 24}, MISC).config_key,
        "reused_from": None}


def test_a_recorded_result_keeps_the_objectives_details_beside_the_loss() -> None:
    # Given a finished trial / When it becomes a document / Then the result is flat
    assert trial_to_document(done_trial())["result"] == {
        "status": "ok", "loss": 0.25, "error": None, "duration_s": 4.5, "mean_cer": 0.25}


@pytest.mark.parametrize("trial", [running_trial(), done_trial()], ids=["running", "done"])
def test_a_trial_comes_back_from_its_document_unchanged(trial: Trial) -> None:
    assert trial_from_document(trial_to_document(trial)) == trial


def test_a_document_with_extra_keys_and_naive_times_reads_them_as_utc() -> None:
    # Given a document as pymongo returns it without tz_aware: an _id and naive UTC times
    doc = trial_to_document(running_trial())
    doc["_id"] = "5f0c0ffee"
    doc["book_time"] = T0.replace(tzinfo=None)

    # When it is read / Then the _id is ignored and the time is UTC
    assert trial_from_document(doc) == running_trial()


def test_times_in_other_zones_are_stored_as_utc() -> None:
    # Given a lease booked at 14:00 in UTC+2
    trial = Trial("exp-a", 1, TrialState.RUNNING, {}, {}, owner="w1",
                  book_time=datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))))

    # When it becomes a document / Then the time is 12:00 UTC
    assert trial_to_document(trial)["book_time"] == T0
    assert trial_to_document(trial)["book_time"].tzinfo is UTC


def test_a_time_without_a_zone_cannot_be_stored() -> None:
    trial = Trial("exp-a", 1, TrialState.RUNNING, {}, {}, owner="w1",
                  book_time=datetime(2024, 5, 1, 12, 0))
    with pytest.raises(StoreError, match=r"trial 1 of experiment 'exp-a': book_time"):
        trial_to_document(trial)


def test_details_that_use_a_result_field_name_are_refused_naming_it() -> None:
    result = TrialResult.ok(0.5, details={"loss": 0.5, "cer": 0.1})
    with pytest.raises(StoreError, match=r"trial 3.*named loss"):
        result_to_document(result, where="trial 3 of experiment 'exp-a'")


@pytest.mark.parametrize(("field", "value", "named"), [
    ("state", 9, "state"),
    ("state", "running", "state"),
    ("version", True, "version"),
    ("spec", [1, 2], "spec"),
    ("owner", 12, "owner"),
    ("end_time", "2024-05-01", "end_time"),
    ("result", {"status": "ok", "loss": None, "error": None, "duration_s": 1.0}, "result"),
    ("result", {"status": "ok", "loss": 0.5, "error": None}, "result.duration_s"),
    ("result", {"status": "maybe"}, "result"),
])
def test_a_malformed_trial_document_raises_store_error_naming_trial_and_field(
        field: str, value: Any, named: str) -> None:
    # Given a trial document with one field spoiled
    doc = trial_to_document(done_trial())
    doc[field] = value

    # When it is read / Then the error names the trial and the field
    with pytest.raises(StoreError) as raised:
        trial_from_document(doc)
    assert "trial 7 of experiment 'exp-a'" in str(raised.value)
    assert f"'{named}'" in str(raised.value)


def test_a_trial_document_missing_a_field_names_it() -> None:
    doc = trial_to_document(done_trial())
    del doc["attempts"]
    with pytest.raises(StoreError, match=r"trial 7 .*'attempts' is missing"):
        trial_from_document(doc)


def test_a_reused_trial_document_is_done_with_the_source_result() -> None:
    # Given a finished source / When a suggestion reuses it
    doc = reused_trial_document("exp-a", NewTrial(9, {"glyph": 24}, MISC), done_trial(), T0)

    # Then the new trial is DONE with the same result, pointing at the source
    reused = trial_from_document(doc)
    assert (reused.state, reused.result, reused.reused_from, reused.end_time) == (
        TrialState.DONE, done_trial().result, 7, T0)


def test_only_a_done_trial_with_a_loss_can_be_reused() -> None:
    with pytest.raises(StoreError, match="cannot reuse trial 7"):
        reused_trial_document("exp-a", NewTrial(9, {}, {}), running_trial(), T0)


def test_an_experiment_comes_back_from_its_document_unchanged() -> None:
    stamped = replace(make_experiment("exp-a", seed=3), created_at=T0)
    doc = experiment_to_document(stamped)
    assert doc["objective"]["settings"]["lang"] == "eng"
    assert experiment_from_document(doc) == stamped


def test_an_experiment_document_round_trips_its_lease_timeout() -> None:
    # Given an experiment created with a 4 s lease
    experiment = replace(make_experiment("exp-a"), created_at=T0, lease_timeout_s=4.0)

    # When it is stored and read back
    doc = experiment_to_document(experiment)
    read = experiment_from_document(doc)

    # Then the document holds the lease and the experiment reads back with it
    assert doc["lease_timeout_s"] == 4.0
    assert read == experiment


def test_an_experiment_document_without_a_lease_timeout_reads_as_the_default() -> None:
    # Given a document stored before experiments recorded their lease
    doc = experiment_to_document(make_experiment("exp-a"))
    del doc["lease_timeout_s"]

    # When it is read
    read = experiment_from_document(doc)

    # Then its lease is the default 60 s every party used then
    assert read.lease_timeout_s == LEASE_TIMEOUT_S == 60.0


@pytest.mark.parametrize("stored", [0, -5.0, "60", None])
def test_an_experiment_document_with_a_bad_lease_timeout_names_the_field(stored: object
                                                                          ) -> None:
    # Given a document whose lease is not a positive number
    doc = experiment_to_document(make_experiment("exp-a"))
    doc["lease_timeout_s"] = stored

    # When it is read, then the error names the experiment and the field
    with pytest.raises(StoreError, match=r"experiment 'exp-a': field 'lease_timeout_s'"):
        experiment_from_document(doc)


def test_a_malformed_experiment_document_names_the_nested_field() -> None:
    doc = experiment_to_document(make_experiment("exp-a"))
    doc["objective"]["fingerprint"] = None
    with pytest.raises(StoreError, match=r"experiment 'exp-a': field 'objective.fingerprint'"):
        experiment_from_document(doc)


def test_a_worker_comes_back_from_its_document_unchanged() -> None:
    info = WorkerInfo("w1", "host-1", 4242, T0, None, ("ocr",))
    doc = worker_to_document(info)
    assert doc["objectives"] == ["ocr"]
    assert worker_from_document(doc) == info


def test_a_worker_document_with_bad_objectives_names_the_worker() -> None:
    doc = worker_to_document(WorkerInfo("w1", "host-1", 4242, T0))
    doc["objectives"] = "ocr"
    with pytest.raises(StoreError, match=r"worker 'w1': field 'objectives'"):
        worker_from_document(doc)
