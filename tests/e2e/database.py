"""The test's side of the database: its URI for the programs, and trials set up directly.

Tests arrange what a coordinator would not produce (an experiment of another version,
trials with chosen or broken parameters) through the store API or, for documents no store
would write, through pymongo itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from shared.jsontypes import JsonObject
from shared.ocr_objective import ocr_spec
from shared.store.mongo import MongoTrialStore
from shared.store.uri import MongoTarget
from shared.trials import Experiment, NewTrial, Trial, TrialState
from tests.e2e.programs import LEASE_TIMEOUT_S

# Waits for a server the test knows is up; a stand-in on a busy machine can be slow.
SERVER_SELECTION_TIMEOUT_MS = 15_000
# Parameters that read the sample data in a second or two: small glyphs, no denoising.
QUICK_PARAMS: JsonObject = {"resize": {"glyph_height_px": 16}, "binarise": None,
                            "denoise": None, "erode_kernel": None, "dilate_kernel": None}
# Parameters that keep a trial on the sample data busy for many seconds: non-local-means
# denoising, with its widest windows, of images scaled up to the tallest glyphs.
SLOW_PARAMS: JsonObject = {"resize": {"glyph_height_px": 40}, "binarise": None,
                           "denoise": {"h": 9, "template_window": 15, "search_window": 27},
                           "erode_kernel": None, "dilate_kernel": None}


def uri_with_database(target: MongoTarget) -> str:
    """``target``'s URI naming ``target.database``, for a program's ``--mongo``.

    A URI with credentials but no authSource authenticated against the database in its
    path; that database is kept as the authSource, so that changing the path does not
    change where the user is looked up.
    """
    scheme, _, rest = target.uri.partition("://")
    before_query, _, query = rest.partition("?")
    hosts, _, old_database = before_query.partition("/")
    options = [option for option in query.split("&") if option]
    if target.username and target.auth_source is None:
        options.append(f"authSource={old_database or 'admin'}")
    suffix = f"?{'&'.join(options)}" if options else ""
    return f"{scheme}://{hosts}/{target.database}{suffix}"


def open_store(target: MongoTarget) -> MongoTrialStore:
    return MongoTrialStore(target, server_selection_timeout_ms=SERVER_SELECTION_TIMEOUT_MS)


def create_ocr_experiment(store: MongoTrialStore, exp_key: str, data_dir: Path, *,
                          engine: str = "tesserocr", version: str | None = None,
                          space_version: str | None = None) -> Experiment:
    """An OCR experiment as the tests' coordinator would create it (with the tests' short
    lease); ``version`` and ``space_version`` override the spec's (an experiment made by
    another release)."""
    spec = ocr_spec(data_dir, engine=engine)
    spec = replace(spec, version=version or spec.version,
                   space_version=space_version or spec.space_version)
    return store.ensure_experiment(Experiment(exp_key=exp_key, objective=spec,
                                              created_at=datetime.now(UTC),
                                              lease_timeout_s=LEASE_TIMEOUT_S))


def queue_params(store: MongoTrialStore, exp_key: str, params: Sequence[JsonObject]
                 ) -> list[int]:
    """Queue one trial per parameter set, as the coordinator would; returns their tids."""
    tids = store.next_tids(exp_key, len(params))
    store.enqueue(exp_key, [NewTrial(tid, dict(p), {"idxs": {}, "vals": {}})
                            for tid, p in zip(tids, params, strict=True)])
    return tids


def trial(store: MongoTrialStore, exp_key: str, tid: int) -> Trial:
    (found,) = store.trials(exp_key, tids=[tid])
    return found


def running_trial_of(store: MongoTrialStore, exp_key: str, owner: str) -> Trial | None:
    running = store.trials(exp_key, states=[TrialState.RUNNING])
    return next((t for t in running if t.owner == owner), None)


def finished_count(store: MongoTrialStore, exp_key: str) -> int:
    counts = store.state_counts(exp_key)
    return counts[TrialState.DONE] + counts[TrialState.ERROR]
