"""hyperopt's quantised mixture log-densities, computed over all components at once.

TPE scores each candidate by its log-density under two Gaussian mixtures, one component per
observed trial. For a quantised parameter (``quniform``, ``qloguniform``, ``uniformint``)
hyperopt 0.3 loops over the components in Python, which with thousands of trials is most
of a suggestion's time. These functions compute the same numbers with hyperopt's own cdf
functions broadcast over a (distinct candidates x components) matrix, and add the
components up in the same order (a cumulative sum), so every value is bit-for-bit the one
hyperopt's loop gives and TPE picks the same candidate.

They are registered in pyll's scope under their own names; ``coordinator.fast_tpe`` points
its private copy of the posterior graph at them. hyperopt's own functions are untouched.
Only the bounded quantised case is recomputed; every other case goes to hyperopt's function.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hyperopt import tpe
from hyperopt.pyll import scope

from coordinator.observations import FloatArray


# Their signatures are those of GMM1_lpdf and LGMM1_lpdf, since the graph passes some
# bounds by position (hence the noqa).
def ocrtune_gmm1_lpdf(  # noqa: PLR0917
        samples: Any, weights: Any, mus: Any, sigmas: Any, low: Any = None, high: Any = None,
        q: Any = None) -> Any:
    """Log-density of ``samples`` under a truncated, quantised normal mixture."""
    if q is None or low is None or high is None or np.size(samples) == 0:
        return tpe.GMM1_lpdf(samples, weights, mus, sigmas, low=low, high=high, q=q)
    samples, weights, mus, sigmas = _arrays(samples, weights, mus, sigmas)
    distinct, where = np.unique(samples.ravel(), return_inverse=True)
    upper = np.minimum(distinct + q / 2, high)[:, None]
    lower = np.maximum(distinct - q / 2, low)[:, None]
    terms = (weights * tpe.normal_cdf(upper, mus, sigmas)
             - weights * tpe.normal_cdf(lower, mus, sigmas))
    return _log_mass(terms, where, _p_accept(weights, mus, sigmas, low, high), samples.shape)


def ocrtune_lgmm1_lpdf(  # noqa: PLR0917
        samples: Any, weights: Any, mus: Any, sigmas: Any, low: Any = None, high: Any = None,
        q: Any = None) -> Any:
    """Log-density of ``samples`` under a truncated, quantised log-normal mixture."""
    if q is None or low is None or high is None or np.size(samples) == 0:
        return tpe.LGMM1_lpdf(samples, weights, mus, sigmas, low=low, high=high, q=q)
    samples, weights, mus, sigmas = _arrays(samples, weights, mus, sigmas)
    distinct, where = np.unique(samples.ravel(), return_inverse=True)
    upper = np.minimum(distinct + q / 2, np.exp(high))[:, None]
    lower = np.maximum(0, np.maximum(distinct - q / 2, np.exp(low)))[:, None]
    terms = (weights * tpe.lognormal_cdf(upper, mus, sigmas)
             - weights * tpe.lognormal_cdf(lower, mus, sigmas))
    return _log_mass(terms, where, _p_accept(weights, mus, sigmas, low, high), samples.shape)


def _arrays(*values: Any) -> tuple[FloatArray, ...]:
    return tuple(np.asarray(value) for value in values)


def _p_accept(weights: FloatArray, mus: FloatArray, sigmas: FloatArray, low: Any,
              high: Any) -> Any:
    """The mixture's mass inside [low, high], which the truncation renormalises by."""
    return np.sum(weights * (tpe.normal_cdf(high, mus, sigmas)
                             - tpe.normal_cdf(low, mus, sigmas)))


def _log_mass(terms: FloatArray, where: Any, p_accept: Any, shape: tuple[int, ...]
              ) -> FloatArray:
    # hyperopt adds component after component; a cumulative sum along the row keeps that
    # order of additions, where ``sum`` would pair them up and round differently.
    mass = np.cumsum(terms, axis=1)[:, -1]
    # The log is taken over one value per sample, as hyperopt does, not per distinct one.
    per_sample = np.ascontiguousarray(mass[where.ravel()])
    result: FloatArray = np.log(per_sample) - np.log(p_accept)
    return result.reshape(shape)


# pyll's scope is one table for the whole process: the prefix keeps these names from
# colliding with hyperopt's own.
scope.define(ocrtune_gmm1_lpdf)
scope.define(ocrtune_lgmm1_lpdf)

# What fast_tpe renames hyperopt's lpdf nodes to, by the name hyperopt gave them.
REPLACEMENTS = {"GMM1_lpdf": ocrtune_gmm1_lpdf.__name__,
                "LGMM1_lpdf": ocrtune_lgmm1_lpdf.__name__}
