"""Turning hyperopt's suggestions into queued trials with plain parameters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import hyperopt
import numpy as np
from hyperopt import anneal, rand, tpe

from coordinator.history import HyperoptHistory
from shared.errors import ConfigError
from shared.objective import ObjectiveKind
from shared.trials import NewTrial

SuggestFn = Callable[[list[int], Any, hyperopt.Trials, int], list[dict[str, Any]]]

ALGORITHMS: dict[str, SuggestFn] = {
    "tpe": tpe.suggest,
    "rand": rand.suggest,
    "anneal": anneal.suggest,
}


def _never_called(_: object) -> float:
    raise AssertionError("the coordinator never evaluates trials; workers do")


class Suggester:
    """Asks a hyperopt algorithm for the next configuration of an experiment."""

    def __init__(self, kind: ObjectiveKind, *, algo: str, seed: int) -> None:
        try:
            self._suggest = ALGORITHMS[algo]
        except KeyError:
            raise ConfigError(f"--algo {algo!r} is not one of: {', '.join(ALGORITHMS)}"
                              ) from None
        self._kind = kind
        self._space = kind.space()
        self._domain = hyperopt.base.Domain(_never_called, self._space)
        self._seed = seed

    def suggest(self, tid: int, history: HyperoptHistory) -> NewTrial:
        """The configuration for trial ``tid`` given everything in ``history``."""
        docs = self._suggest([tid], self._domain, history.trials, self.seed_for(tid))
        misc = docs[0]["misc"]
        idxs = {label: [int(i) for i in ids] for label, ids in misc["idxs"].items()}
        vals = {label: [_plain(v) for v in values] for label, values in misc["vals"].items()}
        point = {label: values[0] for label, values in vals.items() if values}
        params = self._kind.plain_params(hyperopt.space_eval(self._space, point))
        return NewTrial(tid=tid, params=params, hyperopt_misc={"idxs": idxs, "vals": vals})

    def seed_for(self, tid: int) -> int:
        """Each trial's own seed, from the experiment's: a resumed run suggests the same."""
        return int(np.random.SeedSequence([self._seed, tid]).generate_state(1)[0] >> 1)


def _plain(value: Any) -> Any:
    """hyperopt hands back numpy scalars; documents store plain Python numbers."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value
