"""When a trial about to be stored is one the store holds already: what both stores compare.

A write whose first try lands but whose reply is lost (an outage mid-call) is tried again
by its caller. Trial ids come from ``next_tids``, which never hands one out twice, so a
stored trial with the same tid and the same configuration can only be that first try's
own write: it is skipped, whatever it has become since (reserved, even finished). A tid
that holds another configuration is a caller's mistake and is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from shared.errors import StoreError
from shared.store.documents import Document

logger = logging.getLogger(__name__)

# What makes two trial documents the same trial. ``reused_from`` tells a reused trial
# from a queued one of the same parameters.
IDENTITY_FIELDS = ("exp_key", "tid", "config_key", "reused_from")


def is_same_trial(stored: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True if the stored document records the trial ``new`` describes, in any state."""
    return all(stored.get(field) == new.get(field) for field in IDENTITY_FIELDS)


def unstored(new: Sequence[Document], stored: Mapping[int, Mapping[str, Any]], *,
             where: str) -> list[Document]:
    """Those of the trial documents ``new`` whose tid is not among ``stored`` (by tid).

    Raises StoreError naming each tid given twice in ``new``, or stored with another trial.
    All of ``new`` belong to one experiment. ``where`` names the store in messages.
    """
    if not new:
        return []
    exp_key = new[0]["exp_key"]
    tids = [doc["tid"] for doc in new]
    repeated = sorted({tid for tid in tids if tids.count(tid) > 1})
    if repeated:
        raise StoreError(
            f"trial {_listed(repeated)} of experiment {exp_key!r} is given more than once in "
            "one call; give each trial its own id from next_tids")
    taken = [doc for doc in new
             if doc["tid"] in stored and not is_same_trial(stored[doc["tid"]], doc)]
    if taken:
        differences = "; ".join(_differences(stored[doc["tid"]], doc) for doc in taken)
        raise StoreError(
            f"trial {_listed([doc['tid'] for doc in taken])} of experiment {exp_key!r} is "
            f"already in {where} with another configuration ({differences}); allocate "
            "trial ids with next_tids, which never hands one out twice")
    kept = [tid for tid in tids if tid in stored]
    if kept:
        logger.info("Trials %s of experiment %s are in %s already, stored by an earlier try "
                    "of this call; they are left as they are.", kept, exp_key, where)
    return [doc for doc in new if doc["tid"] not in stored]


def _differences(stored: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """How the stored trial differs from the one given, e.g. "trial 3: config_key 'ab12'
    stored, 'cd34' given"."""
    fields = [f"{field} {stored.get(field)!r} stored, {new.get(field)!r} given"
              for field in IDENTITY_FIELDS if stored.get(field) != new.get(field)]
    return f"trial {new['tid']}: {', '.join(fields)}"


def _listed(tids: Sequence[int]) -> str:
    return ", ".join(map(str, tids))
