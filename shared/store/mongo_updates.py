"""The MongoDB filters and update documents that move a trial between states.

Each update is applied in one single-document operation whose filter says what must
still hold, so MongoDB applies it atomically and only if no other process got there first.
Versions follow the contract of ``shared.store.base``: every state change adds one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.store.documents import Document, result_to_document, unreadable_trial_document
from shared.store.leases import HeldLease, expired_reason
from shared.trials import Trial, TrialResult, TrialState

Update = dict[str, dict[str, Any]]


def bson_time(value: datetime) -> datetime:
    """``value`` in UTC, cut to the millisecond: all a BSON datetime keeps.

    Cutting before storing means the trial a call returns equals the one read back later.
    """
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def lease_filter(trial: Trial) -> Document:
    """Matches the stored trial only while ``trial``'s lease (owner, version) holds it."""
    return {"exp_key": trial.exp_key, "tid": trial.tid, "state": int(TrialState.RUNNING),
            "owner": trial.owner, "version": trial.version}


def reserve_update(worker_id: str, now: datetime) -> Update:
    return {"$set": {"state": int(TrialState.RUNNING), "owner": worker_id,
                     "book_time": now, "refresh_time": now},
            "$inc": {"attempts": 1, "version": 1}}


def heartbeat_update(now: datetime) -> Update:
    return {"$set": {"refresh_time": now}}


def finish_update(trial: Trial, result: TrialResult, now: datetime) -> Update:
    state = TrialState.DONE if result.is_ok else TrialState.ERROR
    where = f"trial {trial.tid} of experiment {trial.exp_key!r}"
    return {"$set": {"state": int(state), "end_time": now,
                     "result": result_to_document(result, where=where)},
            "$inc": {"version": 1}}


def applied_finish(held: Mapping[str, Any], trial: Trial, update: Update) -> bool:
    """True if the stored ``held`` is ``trial`` as ``update`` (a finish) left it.

    Over a network a finish can be applied and its reply lost; the worker's retry then
    finds its own result in place. Only this lease's holder moves the trial to exactly this
    version, state and result, so the match cannot be another worker's or the reaper's.
    """
    wanted = update["$set"]
    return (held.get("owner") == trial.owner and held.get("version") == trial.version + 1
            and held.get("state") == wanted["state"] and held.get("result") == wanted["result"])


def requeue_update() -> Update:
    """Back in the queue, nobody's; the new version voids the old lease."""
    return {"$set": {"state": int(TrialState.NEW), "owner": None, "book_time": None,
                     "refresh_time": None},
            "$inc": {"version": 1}}


def release_update() -> Update:
    """Handed back: requeued, and the attempt reserve counted is given back."""
    update = requeue_update()
    update["$inc"]["attempts"] = -1
    return update


def expire_update(trial: Trial, max_attempts: int, now: datetime) -> Update:
    """Failed, because the lease expired on every one of its ``max_attempts``."""
    return finish_update(trial, TrialResult.failed(expired_reason(trial, max_attempts)), now)


def unreadable_update(reason: str, now: datetime) -> Update:
    """Failed with ``reason`` where it lies: a job just reserved that is no trial and has
    no trial id either, so that no readable trial can stand in for it."""
    return {"$set": {"state": int(TrialState.ERROR), "end_time": now,
                     "result": result_to_document(TrialResult.failed(reason))},
            "$inc": {"version": 1}}


def unreadable_replacement(found: Mapping[str, Any], reason: str, now: datetime
                           ) -> Document | None:
    """The readable ERROR trial to store in place of ``found``, a job just reserved (so
    owned, its version and attempts raised) that is no trial; None without a trial id."""
    exp_key, tid, attempts = found.get("exp_key"), found.get("tid"), found.get("attempts")
    if not isinstance(exp_key, str) or type(tid) is not int:
        return None
    kept = {key: value for key, value in found.items() if key != "_id"}
    return unreadable_trial_document(
        exp_key, tid, found=kept, reason=reason, owner=found["owner"],
        version=int(found["version"]) + 1,
        attempts=attempts if type(attempts) is int else 1, now=now)


def held_lease(held: Mapping[str, Any] | None) -> HeldLease | None:
    """Who holds the stored job ``held``, for ``lease_lost_message``."""
    if held is None:
        return None
    state = held.get("state")
    state_name = TrialState(state).name if state in set(TrialState) else repr(state)
    return HeldLease(state=state_name, owner=held.get("owner"), version=held.get("version"))
