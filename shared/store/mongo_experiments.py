"""The MongoDB store's ``experiments`` collection: creating, reading and listing experiments."""

from __future__ import annotations

import logging

from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from shared.errors import UnknownExperimentError
from shared.store.documents import Document, experiment_from_document, experiment_to_document
from shared.store.experiment_match import require_same_objective
from shared.store.mongo_errors import store_errors
from shared.store.uri import MongoTarget
from shared.trials import Experiment

logger = logging.getLogger(__name__)


class MongoExperiments:
    """The experiments in ``collection``, on the server ``target`` names.

    Remembers the keys of the experiments it has seen stored, so that ``require`` asks the
    server only once per key: an idle coordinator's every poll would otherwise begin each
    of its calls with a lookup. Experiments are never deleted (no command deletes one), so
    a key seen once stays valid; one deleted by hand is still taken as known here.
    """

    def __init__(self, collection: Collection[Document], target: MongoTarget) -> None:
        self._collection = collection
        self._target = target
        # Only ever added to; adding to a set is atomic, so threads may share it unlocked.
        self._known: set[str] = set()

    def ensure(self, experiment: Experiment) -> Experiment:
        """Store ``experiment`` (its ``created_at`` set), or return the matching stored one."""
        doc = experiment_to_document(experiment)
        with store_errors(self._target, f"storing experiment {experiment.exp_key!r}"):
            try:
                self._collection.insert_one(doc)
            except DuplicateKeyError:
                stored = self.get(experiment.exp_key)
            else:
                logger.info("Created experiment %s in %s.", experiment.exp_key,
                            self._target.redacted)
                self._known.add(experiment.exp_key)
                return experiment_from_document(doc)
        return require_same_objective(stored, experiment, where=self._target.redacted)

    def get(self, exp_key: str) -> Experiment:
        with store_errors(self._target, f"reading experiment {exp_key!r}"):
            doc = self._collection.find_one({"exp_key": exp_key})
            if doc is None:
                known = self._collection.distinct("exp_key")
                raise UnknownExperimentError(
                    f"no experiment {exp_key!r} in {self._target.redacted} (it has "
                    f"{', '.join(map(repr, sorted(known))) or 'none'}); check the key or "
                    "create it first")
        experiment = experiment_from_document(doc)
        self._known.add(exp_key)
        return experiment

    def require(self, exp_key: str) -> None:
        """UnknownExperimentError unless the experiment exists; asks once per key."""
        if exp_key not in self._known:
            self.get(exp_key)

    def all(self) -> list[Experiment]:
        """Every experiment, oldest first."""
        with store_errors(self._target, "listing the experiments"):
            docs = list(self._collection.find().sort([("created_at", ASCENDING),
                                                      ("_id", ASCENDING)]))
        return [experiment_from_document(doc) for doc in docs]
