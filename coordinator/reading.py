"""Opening a store to look at its experiments, for the commands that only read.

Two differences from ``shared.store.factory.open_store``, both so that a mistake is
reported at once instead of after a wait or with a side effect:

- A history file that does not exist is an error here. Opening it would create an empty
  file, and every command would then report an experiment it cannot find.
- A ``serverSelectionTimeoutMS`` in the MongoDB URI is honoured. The store passes its own
  timeout to ``MongoClient`` as a keyword, and pymongo lets keywords override the URI's
  options, so without this an unreachable server would take the store's 30 s to report.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

from shared.errors import ConfigError
from shared.store.base import TrialStore
from shared.store.mongo import SERVER_SELECTION_TIMEOUT_MS, MongoTrialStore
from shared.store.sqlite import SqliteTrialStore
from shared.store.uri import parse_mongo_uri
from shared.trials import Experiment

_TIMEOUT_OPTION = "serverselectiontimeoutms"  # URI option names are case-insensitive


def open_for_reading(*, mongo: str | None, history: Path) -> TrialStore:
    """The MongoDB store when ``mongo`` is a URI, else the existing SQLite file ``history``.

    Raises ConfigError for a missing history file or a malformed URI, and
    StoreUnavailableError when the server cannot be reached.
    """
    if mongo:
        target = parse_mongo_uri(mongo)
        return MongoTrialStore(target, server_selection_timeout_ms=_timeout_ms(target.uri),
                               read_only=True)
    if not history.is_file():
        raise ConfigError(f"there is no history file {history}; run `python -m coordinator "
                          "run` to make one, pass --history with its path, or --mongo URI "
                          "for trials kept in MongoDB")
    return SqliteTrialStore(history, read_only=True)


def _timeout_ms(uri: str) -> int:
    """The URI's server selection timeout, else the store's default."""
    query = uri.partition("?")[2]
    for name, value in parse_qsl(query):
        if name.lower() == _TIMEOUT_OPTION and value.isdigit():
            return int(value)
    return SERVER_SELECTION_TIMEOUT_MS


def pick_experiment(store: TrialStore, exp_key: str | None) -> Experiment:
    """The experiment ``exp_key`` names; without a key, the store's only experiment.

    Raises UnknownExperimentError for an unknown key, ConfigError when no key is given and
    the store holds no experiment or several.
    """
    if exp_key is not None:
        return store.get_experiment(exp_key)
    experiments = store.list_experiments()
    if len(experiments) == 1:
        return experiments[0]
    if not experiments:
        raise ConfigError("the store holds no experiment yet; start one with `python -m "
                          "coordinator run`")
    keys = ", ".join(experiment.exp_key for experiment in experiments)
    raise ConfigError(f"the store holds {len(experiments)} experiments ({keys}); choose "
                      "one with --exp-key")
