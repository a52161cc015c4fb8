"""Whether a stored experiment is the one a caller asks for, in one wording for both stores."""

from __future__ import annotations

from shared.errors import ExperimentMismatchError
from shared.trials import Experiment


def require_same_objective(stored: Experiment, wanted: Experiment, *, where: str) -> Experiment:
    """``stored``, if it evaluates what ``wanted`` does; else ExperimentMismatchError.

    ``where`` names the store, e.g. the history file or the redacted MongoDB URI.
    """
    differences = stored.objective.differences(wanted.objective)
    if differences:
        raise ExperimentMismatchError(
            f"experiment {wanted.exp_key!r} in {where} evaluates something else "
            f"(stored != requested): {'; '.join(differences)}. Use another experiment key, "
            "or the stored objective, dataset and settings")
    return stored
