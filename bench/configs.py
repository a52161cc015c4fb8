"""Fixed trial configurations for benchmarks: the same seed gives the same pipelines."""

from __future__ import annotations

import numpy as np
from hyperopt.pyll import stochastic

from shared.jsontypes import JsonObject
from shared.space import build_space, plain_params


def sample_configs(count: int, *, seed: int = 0) -> list[JsonObject]:
    """``count`` pipelines drawn from the search space, as the random search would."""
    rng = np.random.default_rng(seed)
    space = build_space()
    return [plain_params(stochastic.sample(space, rng=rng)) for _ in range(count)]
