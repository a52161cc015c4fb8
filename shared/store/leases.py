"""What every store says about leases: none to refresh, expired for good, or lost.

One wording for both stores, so that a worker's log reads the same whichever it uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import IllegalTransitionError
from shared.trials import Trial, TrialState


@dataclass(frozen=True)
class HeldLease:
    """Who holds a stored trial now, as far as its stored form can say.

    ``state`` is the state's name (or the stored value, when it is no state); ``version``
    is whatever the store holds, so a damaged document can still be described.
    """

    state: str
    owner: object
    version: object


def check_leased(trial: Trial) -> None:
    """IllegalTransitionError unless ``trial`` is RUNNING: only then has it a lease."""
    if trial.state is not TrialState.RUNNING:
        raise IllegalTransitionError(
            f"trial {trial.tid} of experiment {trial.exp_key!r} is {trial.state.name}; "
            "only a RUNNING trial that reserve returned has a lease to refresh")


def held_by(stored: Trial | None) -> HeldLease | None:
    """Who holds ``stored``, a trial read back from the store (None: there is none)."""
    if stored is None:
        return None
    return HeldLease(state=stored.state.name, owner=stored.owner, version=stored.version)


def expired_reason(trial: Trial, max_attempts: int) -> str:
    """Why ``trial`` is failed: its lease expired on every one of its ``max_attempts``."""
    last_beat = trial.refresh_time.isoformat() if trial.refresh_time else "never"
    return (f"the lease expired on each of its {trial.attempts} attempts "
            f"(max_attempts is {max_attempts}); the last holder {trial.owner!r} sent "
            f"its last heartbeat at {last_beat}")


def lease_lost_message(trial: Trial, held: HeldLease | None) -> str:
    """Why a write with ``trial``'s lease changed nothing; ``held`` is None when the store
    has no such trial."""
    mine = f"trial {trial.tid} of experiment {trial.exp_key!r}"
    if held is None:
        return f"{mine} is not in the store; drop it and reserve another"
    return (f"worker {trial.owner!r} no longer holds the lease on {mine} (version "
            f"{trial.version}): the store has it {held.state}, owned by {held.owner!r} "
            f"at version {held.version}, because the lease expired or the result was "
            "already recorded; drop it and reserve another")
