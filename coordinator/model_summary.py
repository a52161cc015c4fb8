"""The scikit-learn objective's account of a best trial: its pipeline and held-out accuracy."""

from __future__ import annotations

from pathlib import Path

from shared.jsontypes import JsonObject
from shared.trials import ObjectiveSpec

# shared.sklearn_objective.OBJECTIVE_NAME, without importing scikit-learn (about a second)
# into every command that only compares names.
SKLEARN_NAME = "sklearn"


def model_summary(spec: ObjectiveSpec, params: JsonObject, *, data_dir: Path | None = None
                  ) -> str:
    """Two lines: the chosen pipeline, and its accuracy on the held-out split.

    The model is fitted on every training row, then scored once on the rows the search
    never saw (the write-up's 20 % split, random_state 123).
    """
    from shared.sklearn_objective import describe_pipeline, held_out_accuracy  # noqa: PLC0415

    accuracy = held_out_accuracy(spec, params, data_dir_override=data_dir)
    share = spec.settings.get("test_size")
    split = f"{share:.0%} " if isinstance(share, float) else ""
    return (f"Pipeline: {describe_pipeline(params)}\n"
            f"Held-out accuracy: {accuracy:.4f} on the {split}held-out split")
