"""Turning hyperopt's suggestions into queued trials with plain parameters.

``tpe`` runs through ``FastTpe``: hyperopt's TPE with its posterior graph built once and
the history read from numpy columns, so a suggestion with thousands of trials in the
history takes milliseconds instead of most of a second. ``rand`` and ``anneal`` are
hyperopt's own functions, reading the history's ``hyperopt.Trials``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import hyperopt
import numpy as np
from hyperopt import anneal, pyll, rand, tpe

from coordinator.fast_tpe import FastTpe
from coordinator.history import HyperoptHistory
from shared.errors import ConfigError
from shared.jsontypes import to_plain
from shared.objective import ObjectiveKind
from shared.trials import NewTrial

logger = logging.getLogger(__name__)

SuggestFn = Callable[[list[int], Any, hyperopt.Trials, int], list[dict[str, Any]]]

# Each algorithm's hyperopt function. "tpe" goes through FastTpe instead, unless FastTpe
# cannot read the space or the caller asks for hyperopt's own (fast_tpe=False).
ALGORITHMS: dict[str, SuggestFn] = {
    "tpe": tpe.suggest,
    "rand": rand.suggest,
    "anneal": anneal.suggest,
}


def _never_called(_: object) -> float:
    raise AssertionError("the coordinator never evaluates trials; workers do")


class Suggester:
    """Asks a hyperopt algorithm for the next configuration of an experiment."""

    def __init__(self, kind: ObjectiveKind, *, algo: str, seed: int,
                 fast_tpe: bool = True) -> None:
        """``fast_tpe=False`` runs hyperopt's own tpe.suggest, to compare against."""
        try:
            self._suggest = ALGORITHMS[algo]
        except KeyError:
            raise ConfigError(f"--algo {algo!r} is not one of: {', '.join(ALGORITHMS)}"
                              ) from None
        self._kind = kind
        self._space = pyll.as_apply(kind.space())
        self._params_by_label = _params_by_label(self._space)
        self._domain = hyperopt.base.Domain(_never_called, self._space)
        self._seed = seed
        self._fast_tpe = FastTpe.create(self._domain) if algo == "tpe" and fast_tpe else None
        if algo == "tpe" and fast_tpe and self._fast_tpe is None:
            logger.warning("The search space of objective %r builds a TPE graph the fast "
                           "suggester does not recognise; using hyperopt's tpe.suggest, "
                           "which is slower with a long history.", kind.name)

    def suggest(self, tid: int, history: HyperoptHistory) -> NewTrial:
        """The configuration for trial ``tid`` given everything in ``history``."""
        misc = self._misc(tid, history)
        idxs = {label: [int(i) for i in ids] for label, ids in misc["idxs"].items()}
        vals = {label: [to_plain(v) for v in values] for label, values in misc["vals"].items()}
        params = self._kind.plain_params(self._space_eval(vals))
        return NewTrial(tid=tid, params=params, hyperopt_misc={"idxs": idxs, "vals": vals})

    def _misc(self, tid: int, history: HyperoptHistory) -> dict[str, Any]:
        if self._fast_tpe is not None:
            return self._fast_tpe.suggest(tid, history.observations, self.seed_for(tid))
        docs = self._suggest([tid], self._domain, history.trials, self.seed_for(tid))
        misc: dict[str, Any] = docs[0]["misc"]
        return misc

    def _space_eval(self, vals: Mapping[str, list[Any]]) -> Any:
        """What ``hyperopt.space_eval`` gives, without re-sorting the space every time."""
        memo = {self._params_by_label[label]: values[0]
                for label, values in vals.items() if values}
        return pyll.rec_eval(self._space, memo=memo)

    def seed_for(self, tid: int) -> int:
        """Each trial's own seed, from the experiment's: a resumed run suggests the same."""
        return int(np.random.SeedSequence([self._seed, tid]).generate_state(1)[0] >> 1)


def _params_by_label(space: Any) -> dict[str, Any]:
    return {node.arg["label"].obj: node for node in pyll.dfs(space)
            if node.name == "hyperopt_param"}
