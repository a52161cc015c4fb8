"""hyperopt's quantised mixture log-densities, computed without its per-component loop.

TPE scores each candidate by its log-density under two Gaussian mixtures, one component per
observed trial. For a quantised parameter (``quniform``, ``qloguniform``, ``uniformint``)
the density of a value is the mass each component puts between the value's rounding
bounds; hyperopt 0.3 adds those masses up in a Python loop over the components, which with
thousands of trials is most of a suggestion's time. These functions give the same numbers,
bit for bit, so TPE picks the same candidate:

- the mass is computed once per distinct candidate value (24 candidates of a quantised
  parameter share a handful of values), with hyperopt's own cdf functions on vectors;
- a component whose cdf is exactly 0 or exactly 1 at both bounds (its centre more than
  ``_SKIP_BEYOND`` widths away; hyperopt's erf saturates well before that) adds exactly
  +0.0, which leaves a sum unchanged, so it is left out;
- the other masses are added in component order with a cumulative sum, as the loop does
  (``np.sum`` would pair them up and round differently).

They are registered in pyll's scope under their own names; ``coordinator.fast_tpe`` points
its private copy of the posterior graph at them. hyperopt's own functions are untouched.
Only the bounded quantised case is recomputed; every other case goes to hyperopt's function.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from hyperopt import tpe
from hyperopt.pyll import scope

from coordinator.observations import FloatArray, IntArray

CdfFn = Callable[[FloatArray, FloatArray, FloatArray], FloatArray]


class _Mixture(NamedTuple):
    weights: FloatArray
    mus: FloatArray
    sigmas: FloatArray


def _cdfs_saturate_at(widths: float) -> bool:
    """Whether both of hyperopt's cdfs are exactly 0 and 1 ``widths`` from the centre."""
    x = np.array([-widths, widths]) * math.sqrt(2)  # hyperopt's width is sqrt(2) sigma
    normal: list[float] = tpe.normal_cdf(x, 0.0, 1.0).tolist()
    lognormal: list[float] = tpe.lognormal_cdf(np.exp(x), 0.0, 1.0).tolist()
    return normal == lognormal == [0.0, 1.0]


# erf(z) rounds to exactly 1.0 from z of about 6 on; 9 leaves room for the rounding of the
# test below. Should some erf not saturate, nothing is skipped.
_SKIP_BEYOND = 9.0 if _cdfs_saturate_at(7.0) else math.inf


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
    upper = np.minimum(distinct + q / 2, high)
    lower = np.maximum(distinct - q / 2, low)
    mass = _mass_between(tpe.normal_cdf, (upper, lower), (upper, lower),
                         _Mixture(weights, mus, sigmas))
    return _log_density(mass, where, _p_accept(weights, mus, sigmas, low, high),
                        samples.shape)


def ocrtune_lgmm1_lpdf(  # noqa: PLR0917
        samples: Any, weights: Any, mus: Any, sigmas: Any, low: Any = None, high: Any = None,
        q: Any = None) -> Any:
    """Log-density of ``samples`` under a truncated, quantised log-normal mixture."""
    if q is None or low is None or high is None or np.size(samples) == 0:
        return tpe.LGMM1_lpdf(samples, weights, mus, sigmas, low=low, high=high, q=q)
    samples, weights, mus, sigmas = _arrays(samples, weights, mus, sigmas)
    distinct, where = np.unique(samples.ravel(), return_inverse=True)
    upper = np.minimum(distinct + q / 2, np.exp(high))
    lower = np.maximum(0, np.maximum(distinct - q / 2, np.exp(low)))
    # The components live in log space, where lognormal_cdf compares the bounds.
    in_log = (np.log(np.maximum(upper, tpe.EPS)), np.log(np.maximum(lower, tpe.EPS)))
    mass = _mass_between(tpe.lognormal_cdf, (upper, lower), in_log,
                         _Mixture(weights, mus, sigmas))
    return _log_density(mass, where, _p_accept(weights, mus, sigmas, low, high),
                        samples.shape)


def _arrays(*values: Any) -> tuple[FloatArray, ...]:
    return tuple(np.asarray(value) for value in values)


def _mass_between(cdf: CdfFn, bounds: tuple[FloatArray, FloatArray],
                  bounds_at_mus: tuple[FloatArray, FloatArray], mixture: _Mixture
                  ) -> FloatArray:
    """Per pair of bounds, the sum over components of w * (cdf(upper) - cdf(lower)).

    ``bounds_at_mus`` are the bounds on the scale of the components' centres, used only
    to leave out the components that add exactly nothing.
    """
    upper, lower = bounds
    weights, mus, sigmas = mixture
    reach = _SKIP_BEYOND * np.maximum(math.sqrt(2) * sigmas, tpe.EPS)
    near = ((bounds_at_mus[0][:, None] > mus - reach)
            & (bounds_at_mus[1][:, None] < mus + reach))
    rows, cols = np.nonzero(near)  # row by row, components in their order
    if not len(rows):
        return np.zeros(len(upper))
    w, mu, sigma = weights[cols], mus[cols], sigmas[cols]
    terms = w * cdf(upper[rows], mu, sigma) - w * cdf(lower[rows], mu, sigma)
    return _sums_in_order(rows, terms, len(upper))


def _sums_in_order(rows: IntArray, terms: FloatArray, n_rows: int) -> FloatArray:
    """Each row's terms added one after another, first to last (``rows`` is sorted)."""
    counts = np.bincount(rows, minlength=n_rows)
    slots = np.arange(len(rows)) - (np.cumsum(counts) - counts)[rows]
    # Rows padded with +0.0 at their end: adding it changes no sum.
    padded = np.zeros((n_rows, int(counts.max())))
    padded[rows, slots] = terms
    sums: FloatArray = np.cumsum(padded, axis=1)[:, -1]
    return sums


def _p_accept(weights: FloatArray, mus: FloatArray, sigmas: FloatArray, low: Any,
              high: Any) -> Any:
    """The mixture's mass inside [low, high], which the truncation renormalises by."""
    return np.sum(weights * (tpe.normal_cdf(high, mus, sigmas)
                             - tpe.normal_cdf(low, mus, sigmas)))


def _log_density(mass: FloatArray, where: Any, p_accept: Any, shape: tuple[int, ...]
                 ) -> FloatArray:
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
