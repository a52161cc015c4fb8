"""hyperopt's TPE, with its posterior graph built once and the history read from arrays.

``hyperopt.tpe.suggest`` spends most of each call on work that does not change between
calls or grows with the history in Python: it rebuilds the posterior pyll graph, converts
every job document to per-label lists, splits each label's values into the good and the
bad trials with a Python loop, and adds up one mixture component at a time. ``FastTpe``
builds hyperopt's posterior graph once, gives it the split computed with numpy from
``Observations``, and evaluates it as a ``PyllProgram`` with the vectorised densities of
``coordinator.mixture_lpdf``. The graph, its random draws and their order, the
distributions and the candidate chosen are hyperopt's: for the same history and seed,
``FastTpe.suggest`` returns what ``tpe.suggest`` returns (tests/test_suggest.py checks).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any

import hyperopt
import numpy as np
from hyperopt import pyll, rand, tpe
from hyperopt.base import miscs_update_idxs_vals

from coordinator.mixture_lpdf import REPLACEMENTS
from coordinator.observations import Observations
from coordinator.pyll_program import PyllProgram


def _tpe_default(name: str) -> Any:
    return inspect.signature(tpe.suggest).parameters[name].default


@dataclass(frozen=True)
class TpeSettings:
    """TPE's knobs; the defaults are read from ``tpe.suggest`` so they stay hyperopt's."""

    prior_weight: float = _tpe_default("prior_weight")
    n_startup_jobs: int = _tpe_default("n_startup_jobs")
    n_ei_candidates: int = _tpe_default("n_EI_candidates")
    gamma: float = _tpe_default("gamma")
    # At most this many trials count as good, however long the history (hyperopt's cap).
    good_cap: int = tpe.DEFAULT_LF


class FastTpe:
    """Suggests one trial at a time from ``Observations``, as ``tpe.suggest`` would."""

    def __init__(self, domain: hyperopt.base.Domain, posterior: Any,
                 split_nodes: dict[str, Any], settings: TpeSettings) -> None:
        self._domain = domain
        self._split_nodes = split_nodes
        self._program = PyllProgram(
            posterior, [domain.s_new_ids, domain.s_rng, *split_nodes.values()])
        self._settings = settings
        self._int_labels = {label for label, node in domain.params.items()
                            if node.name == "randint"}
        # hyperopt shifts randint(low, high) values by low after sampling; so do we.
        self._offsets = {label: node.pos_args[0].obj for label, node in domain.params.items()
                         if node.name == "randint" and len(node.pos_args) == 2}

    @classmethod
    def create(cls, domain: hyperopt.base.Domain, settings: TpeSettings | None = None
               ) -> FastTpe | None:
        """A FastTpe for ``domain``, or None if hyperopt built a graph of unknown shape."""
        settings = settings or TpeSettings()
        _, _, posterior = tpe.build_posterior_wrapper(domain, settings.prior_weight,
                                                      settings.gamma)
        nodes = pyll.dfs(pyll.as_apply(posterior))
        split_nodes = _split_nodes_by_label(nodes)
        if (split_nodes is None or set(split_nodes) != set(domain.params)
                or not PyllProgram.supports(posterior)):
            return None
        for node in nodes:
            # This graph is this object's own (build_posterior made it just now), so
            # pointing its density nodes elsewhere changes nothing else in hyperopt.
            if node.name in REPLACEMENTS:
                node.name = REPLACEMENTS[node.name]
        return cls(domain, posterior, split_nodes, settings)

    def suggest(self, tid: int, observations: Observations, seed: int) -> dict[str, Any]:
        """hyperopt's ``misc`` (``idxs`` and ``vals``) for trial ``tid``."""
        if len(observations) < self._settings.n_startup_jobs:
            docs = rand.suggest([tid], self._domain, hyperopt.Trials(), seed)
            misc: dict[str, Any] = docs[0]["misc"]
            return misc
        first_fake = max(observations.max_tid(), tid) + 2 if len(observations) else tid + 2
        fake_ids = list(range(first_fake, first_fake + self._settings.n_ei_candidates))
        idxs, vals = self._program.evaluate({self._domain.s_new_ids: fake_ids,
                                             self._domain.s_rng: np.random.default_rng(seed),
                                             **self._splits(observations)})
        for label, offset in self._offsets.items():
            vals[label] = [value + offset for value in vals[label]]
        misc = {"tid": tid, "cmd": self._domain.cmd, "workdir": self._domain.workdir}
        miscs_update_idxs_vals([misc], idxs, vals, idxs_map={fake_ids[0]: tid},
                               assert_all_vals_used=False)
        return misc

    def _splits(self, observations: Observations) -> dict[Any, tuple[Any, Any]]:
        """Each label's values in the good trials and in the others, by split node."""
        losses = observations.losses()
        n_good = min(math.ceil(self._settings.gamma * math.sqrt(len(losses))),
                     self._settings.good_cap)
        good_rows = np.zeros(len(losses), dtype=bool)
        # The same argsort call on the same array as hyperopt's: ties break the same way.
        good_rows[np.argsort(losses)[:n_good]] = True
        splits = {}
        for label, node in self._split_nodes.items():
            rows, values = observations.label(label)
            typed = values.astype(np.int64) if label in self._int_labels else values
            is_good = good_rows[rows]
            splits[node] = (_as_hyperopt(typed[is_good]), _as_hyperopt(typed[~is_good]))
        return splits


def _split_nodes_by_label(nodes: list[Any]) -> dict[str, Any] | None:
    """The ``ap_split_trials`` node of each label: its first input is ``observed[label]``."""
    found = {}
    for node in nodes:
        if node.name != "ap_split_trials":
            continue
        key = node.pos_args[0]
        if key.name != "getitem" or not isinstance(key.pos_args[1], pyll.Literal):
            return None
        found[key.pos_args[1].obj] = node
    return found


def _as_hyperopt(values: Any) -> Any:
    # hyperopt builds these from Python lists: an empty one comes out as float64.
    return values if len(values) else np.asarray([])
