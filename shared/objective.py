"""What an objective is, and the registry that maps an experiment's objective name to code.

Workers never run code taken from the database: an experiment stores only the objective's
name, versions and plain settings (``ObjectiveSpec``), and each worker builds the objective
from the code installed with it. A name the worker does not know, or versions that differ
from the worker's own, fail with ``ObjectiveError`` saying which.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from shared.errors import ObjectiveError
from shared.jsontypes import JsonObject, non_json_path
from shared.trials import ObjectiveSpec, TrialResult


class Objective(Protocol):
    """A loaded objective, ready to evaluate trials (dataset read, engine started)."""

    @property
    def spec(self) -> ObjectiveSpec: ...

    def evaluate(self, params: JsonObject) -> TrialResult:
        """Evaluate one trial's plain parameters.

        Bad parameters or a failing image give a FAIL result with the reason; only
        failures of the objective itself (its engine gone) raise.
        """
        ...

    def close(self) -> None: ...


class ObjectiveKind(Protocol):
    """One kind of objective: its search space and how to load it on a worker."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str:
        """Changes whenever the same parameters could score differently."""
        ...

    @property
    def space_version(self) -> str:
        """Changes whenever the search space or the parameter format changes."""
        ...

    def space(self) -> Any:
        """The hyperopt search space (a pyll graph built with ``hyperopt.hp``)."""
        ...

    def plain_params(self, sample: Mapping[str, Any]) -> JsonObject:
        """Turn ``hyperopt.space_eval``'s output into the plain parameters workers read."""
        ...

    def load(self, spec: ObjectiveSpec, *, data_dir_override: Path | None = None
             ) -> Objective:
        """Build the objective a spec names; raises ObjectiveError if it cannot here.

        ``data_dir_override`` points at the same dataset mounted elsewhere on this machine;
        its fingerprint must still match the spec's.
        """
        ...


# name -> "module:attribute" of an ObjectiveKind; imported on first use so that a worker
# only pays for the libraries of the objectives it evaluates.
_KINDS: dict[str, str] = {
    "ocr": "shared.ocr_objective:OCR_OBJECTIVE",
    "sklearn": "shared.sklearn_objective:SKLEARN_OBJECTIVE",
}


def known_objectives() -> tuple[str, ...]:
    return tuple(sorted(_KINDS))


def register_objective(name: str, target: str) -> None:
    """Install another objective kind, named by ``"package.module:ATTRIBUTE"``.

    Worker evaluation processes inherit the registrations made before they start.
    """
    if ":" not in target:
        raise ObjectiveError(f"objective target {target!r} must read 'module:attribute'")
    _KINDS[name] = target


def registered_objectives() -> dict[str, str]:
    """Every registration, to hand to a child process."""
    return dict(_KINDS)


def objective_kind(name: str) -> ObjectiveKind:
    """The installed objective called ``name``; raises ObjectiveError if there is none."""
    target = _KINDS.get(name)
    if target is None:
        raise ObjectiveError(f"no objective called {name!r} is installed here; "
                             f"known objectives: {', '.join(known_objectives())}")
    module_name, _, attribute = target.partition(":")
    kind: ObjectiveKind = getattr(importlib.import_module(module_name), attribute)
    return kind


def check_compatible(spec: ObjectiveSpec) -> ObjectiveKind:
    """The kind for ``spec`` if this installation evaluates it exactly; else ObjectiveError."""
    kind = objective_kind(spec.name)
    diffs = [
        f"{label} is {theirs!r} in the experiment but {mine!r} here"
        for label, mine, theirs in (
            ("objective version", kind.version, spec.version),
            ("search-space version", kind.space_version, spec.space_version),
        )
        if mine != theirs
    ]
    if diffs:
        raise ObjectiveError(f"objective {spec.name!r}: {'; '.join(diffs)}. Run a worker "
                             "built from the same release as the coordinator")
    bad = non_json_path(dict(spec.settings), "settings")
    if bad is not None:
        raise ObjectiveError(f"objective {spec.name!r}: {bad} is not a plain JSON value, "
                             "which ocr-tune's coordinator never writes; recreate the "
                             "experiment with `coordinator run` under a new --exp-key")
    return kind
