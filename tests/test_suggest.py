"""The suggester: valid, reproducible suggestions, and fast TPE that is hyperopt's TPE."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hyperopt import hp, pyll, tpe

from coordinator.fast_tpe import TpeSettings
from coordinator.history import HyperoptHistory
from coordinator.mixture_lpdf import ocrtune_gmm1_lpdf, ocrtune_lgmm1_lpdf
from coordinator.observations import Observations
from coordinator.pyll_program import PyllProgram
from coordinator.suggest import Suggester
from shared.errors import ConfigError
from shared.jsontypes import JsonObject
from shared.objective import Objective, ObjectiveKind
from shared.ocr_objective import OCR_OBJECTIVE
from shared.params import PipelineParams
from shared.trials import NewTrial, ObjectiveSpec, Trial, TrialResult, TrialState
from tests.fakes.quadratic import QUADRATIC


class MixedKind:
    """A space with every distribution TPE treats differently, nested under a choice."""

    name = "mixed"
    version = "mixed-1"
    space_version = "mixed-space-1"

    def space(self) -> Any:
        return {
            "a": hp.loguniform("a", -3, 2), "b": hp.qnormal("b", 0, 4, 1),
            "c": hp.normal("c", 1, 2), "d": hp.randint("d", 3, 9), "i": hp.randint("i", 4),
            "e": hp.pchoice("e", [(0.2, "x"), (0.8, "y")]),
            "f": hp.choice("f", [None, {"g": hp.lognormal("g", 0, 1),
                                        "h": hp.qloguniform("h", 0, 3, 2)}]),
            "j": hp.quniform("j", -2, 2, 0.5), "k": hp.qlognormal("k", 1, 0.5, 1),
        }

    def plain_params(self, sample: Mapping[str, Any]) -> JsonObject:
        return {key: _python(value) for key, value in sample.items()}

    def load(self, spec: ObjectiveSpec, *, data_dir_override: Path | None = None
             ) -> Objective:
        raise NotImplementedError("the suggester never loads objectives")


def _python(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _python(item) for key, item in value.items()}
    return value.item() if isinstance(value, np.generic) else value


def plain_tpe(kind: ObjectiveKind, seed: int) -> Suggester:
    """A suggester that calls hyperopt's own tpe.suggest, for comparison."""
    return Suggester(kind, algo="tpe", seed=seed, fast_tpe=False)


def random_trials(kind: ObjectiveKind, count: int, *, seed: int, pending: int = 0,
                  failed_every: int = 0) -> list[Trial]:
    """``count`` random trials with random losses; the last ``pending`` not finished yet."""
    sampler = Suggester(kind, algo="rand", seed=seed)
    losses = np.random.default_rng(seed)
    trials = []
    for tid in range(count):
        new = sampler.suggest(tid, HyperoptHistory())
        loss = float(losses.random())
        if tid >= count - pending:
            trials.append(Trial("exp", tid, TrialState.NEW, new.params, new.hyperopt_misc))
        elif failed_every and tid % failed_every == 1:
            trials.append(Trial("exp", tid, TrialState.ERROR, new.params, new.hyperopt_misc,
                                result=TrialResult.failed("failed on purpose")))
        else:
            trials.append(Trial("exp", tid, TrialState.DONE, new.params, new.hyperopt_misc,
                                result=TrialResult.ok(loss)))
    return trials


def history_of(trials: list[Trial]) -> HyperoptHistory:
    history = HyperoptHistory()
    history.record(trials)
    return history


def finished(new: NewTrial, loss: float) -> Trial:
    return Trial("exp", new.tid, TrialState.DONE, new.params, new.hyperopt_misc,
                 result=TrialResult.ok(loss))


# -- valid and reproducible ---------------------------------------------------------------


@pytest.mark.parametrize("algo", ["tpe", "rand", "anneal"])
def test_every_suggestion_on_the_ocr_space_is_a_valid_pipeline(algo: str) -> None:
    # given a history past TPE's random start-up trials
    history = history_of(random_trials(OCR_OBJECTIVE, 60, seed=1, pending=2))
    suggester = Suggester(OCR_OBJECTIVE, algo=algo, seed=5)

    # when trials are suggested
    suggestions = [suggester.suggest(tid, history) for tid in range(60, 90)]

    # then each is a checked pipeline whose hyperopt encoding names its own tid
    for new in suggestions:
        assert PipelineParams.from_json(new.params).to_json() == new.params
        idxs = new.hyperopt_misc["idxs"]
        assert isinstance(idxs, dict)
        assert all(ids in ([], [new.tid]) for ids in idxs.values())


@pytest.mark.parametrize("algo", ["tpe", "rand", "anneal"])
def test_the_same_seed_and_tid_give_the_same_suggestion_and_another_tid_another(
        algo: str) -> None:
    history = history_of(random_trials(OCR_OBJECTIVE, 40, seed=2))

    first = Suggester(OCR_OBJECTIVE, algo=algo, seed=9).suggest(40, history)
    again = Suggester(OCR_OBJECTIVE, algo=algo, seed=9).suggest(40, history)
    others = [Suggester(OCR_OBJECTIVE, algo=algo, seed=9).suggest(tid, history)
              for tid in range(41, 46)]

    assert again == first
    assert any(other.params != first.params for other in others)


def test_a_resumed_history_built_in_another_order_suggests_the_same() -> None:
    # given trials as the store returns them, and the same trials recorded in another
    # order and in two batches (first queued, then finished), as after a restart
    trials = random_trials(OCR_OBJECTIVE, 120, seed=3, pending=3, failed_every=17)
    resumed = HyperoptHistory()
    shuffled = list(trials)
    np.random.default_rng(0).shuffle(shuffled)
    resumed.record([Trial("exp", t.tid, TrialState.NEW, t.params, t.hyperopt_misc)
                    for t in shuffled])
    resumed.record([t for t in shuffled if t.state.is_finished])

    # when a fresh suggester suggests from each
    original = Suggester(OCR_OBJECTIVE, algo="tpe", seed=4).suggest(120, history_of(trials))
    after_restart = Suggester(OCR_OBJECTIVE, algo="tpe", seed=4).suggest(120, resumed)

    # then the suggestions are the same
    assert after_restart == original


def test_an_unknown_algorithm_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="'bayes' is not one of: tpe, rand, anneal"):
        Suggester(OCR_OBJECTIVE, algo="bayes", seed=0)


# -- fast TPE is hyperopt's TPE --------------------------------------------------------------


@pytest.mark.parametrize("kind", [OCR_OBJECTIVE, QUADRATIC, MixedKind()],
                         ids=lambda kind: kind.name)
@pytest.mark.parametrize("count", [5, 21, 80, 400])
def test_fast_tpe_suggests_exactly_what_hyperopt_tpe_suggest_does_on_the_same_history(
        kind: ObjectiveKind, count: int) -> None:
    # given a history with finished, failed and pending trials (5 is still start-up)
    history = history_of(random_trials(kind, count, seed=count, pending=2, failed_every=9))

    # when both suggest the next trials with the same seeds
    fast = Suggester(kind, algo="tpe", seed=count)
    plain = plain_tpe(kind, count)
    tids = range(count, count + 6)

    # then every suggestion is the same, value for value
    assert [fast.suggest(tid, history) for tid in tids] == [
        plain.suggest(tid, history) for tid in tids]


def quadratic_path(suggester: Suggester, count: int) -> list[float]:
    """The x of each trial of a sequential search of (x - 1)^2."""
    history = HyperoptHistory()
    xs = []
    for tid in range(count):
        new = suggester.suggest(tid, history)
        x = float(new.params["x"])  # type: ignore[arg-type]
        history.record([finished(new, (x - 1.0) ** 2)])
        xs.append(x)
    return xs


def test_on_the_quadratic_both_tpes_take_the_same_path_and_gather_near_the_minimum() -> None:
    # given sequential searches of 100 trials with fast TPE, hyperopt's TPE and random search
    fast = quadratic_path(Suggester(QUADRATIC, algo="tpe", seed=11), 100)
    plain = quadratic_path(plain_tpe(QUADRATIC, 11), 100)
    random = quadratic_path(Suggester(QUADRATIC, algo="rand", seed=11), 100)

    # then both TPEs suggested the same x every time, and after the 20 random start-up
    # trials put three times as many within 0.5 of x = 1 as random search did
    # (measured: 17 of 80 against 5 of 80)
    assert fast == plain
    near = {name: int(np.sum(np.abs(np.array(path[20:]) - 1.0) < 0.5))
            for name, path in (("tpe", fast), ("rand", random))}
    assert near["tpe"] >= 3 * near["rand"]


def test_fast_tpe_keeps_hyperopts_default_settings() -> None:
    settings = TpeSettings()

    assert (settings.prior_weight, settings.n_startup_jobs, settings.n_ei_candidates,
            settings.gamma, settings.good_cap) == (1.0, 20, 24, 0.25, 25)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("lpdf", ["GMM1_lpdf", "LGMM1_lpdf"])
def test_vectorised_quantised_densities_equal_hyperopts_bit_for_bit(lpdf: str, seed: int
                                                                     ) -> None:
    # given a mixture of many components, wide and narrow (narrow ones far from a
    # candidate are left out of the sum), and candidates with repeats
    rng = np.random.default_rng(seed)
    components = 800
    low, high = (np.log(2.0), np.log(60.0)) if lpdf == "LGMM1_lpdf" else (2.0, 60.0)
    mus = rng.uniform(low, high, components)
    sigmas = (high - low) * np.exp(rng.uniform(-8, 0, components))
    weights = rng.random(components)
    weights /= weights.sum()
    samples = np.round(rng.uniform(2, 60, 24))
    samples[12:] = samples[:12]
    ours = ocrtune_lgmm1_lpdf if lpdf == "LGMM1_lpdf" else ocrtune_gmm1_lpdf

    # when both compute the log-densities
    fast = ours(samples, weights, mus, sigmas, low, high, q=1.0)
    reference = getattr(tpe, lpdf)(samples, weights, mus, sigmas, low, high, q=1.0)

    # then they are identical
    assert np.array_equal(fast, reference)


# -- the parts ------------------------------------------------------------------------------


def test_a_pyll_program_draws_what_rec_eval_draws_from_the_same_generator() -> None:
    # given a graph of several random draws sharing one generator node
    rng = pyll.Literal("rng")
    graph = pyll.stochastic.recursive_set_rng_kwarg(pyll.as_apply(
        {"u": hp.uniform("u", 0, 1), "n": hp.normal("n", 0, 1), "r": hp.randint("r", 10),
         "v": hp.uniform("v", 0, 1)}), rng)
    program = PyllProgram(graph, [rng])

    # when it is evaluated twice, like rec_eval, each time with a fresh generator
    expected = [pyll.rec_eval(graph, memo={rng: np.random.default_rng(seed)})
                for seed in (3, 4)]
    got = [program.evaluate({rng: np.random.default_rng(seed)}) for seed in (3, 4)]

    # then the draws are the same numbers in the same places
    assert PyllProgram.supports(graph)
    assert got == expected
    assert got[0] != got[1]


def test_a_space_with_a_lazy_choice_is_not_supported_by_a_fixed_program() -> None:
    space = hp.choice("c", [hp.uniform("a", 0, 1), hp.uniform("b", 0, 1)])

    assert not PyllProgram.supports(space)


def test_observations_put_trials_recorded_out_of_order_back_in_tid_order() -> None:
    # given trials recorded as 2, 0, 1 with a label active in 2 and 1 only
    observations = Observations()
    observations.add(2, 0.5, {"x": 20.0})
    observations.add(0, None, {})
    observations.add(1, 0.1, {"x": 10.0})

    # when the losses change and the columns are read
    observations.set_loss(0, 0.3)
    rows, values = observations.label("x")

    # then rows follow tids, and each label value sits on its trial's row
    assert observations.losses().tolist() == [0.3, 0.1, 0.5]
    assert rows.tolist() == [1, 2]
    assert values.tolist() == [10.0, 20.0]
    assert observations.max_tid() == 2


def test_a_pending_or_failed_trial_counts_as_an_infinite_loss() -> None:
    history = history_of(random_trials(QUADRATIC, 6, seed=0, pending=2, failed_every=3))

    losses = history.observations.losses()

    assert np.isinf(losses[[1, 4, 5]]).all()
    assert np.isfinite(losses[[0, 2, 3]]).all()


def test_hyperopt_trials_show_what_was_recorded_since_they_were_last_read() -> None:
    trials = random_trials(QUADRATIC, 4, seed=0)
    history = history_of(trials[:2])
    assert len(history.trials.trials) == 2

    history.record(trials[2:])

    assert [doc["tid"] for doc in history.trials.trials] == [0, 1, 2, 3]


@pytest.mark.parametrize("algo", ["tpe", "rand", "anneal"])
def test_a_trial_without_parameters_is_left_out_of_the_history_and_suggestions_go_on(
        algo: str) -> None:
    # Given a history whose first trial lost its parameters (a damaged document a worker
    # failed in its place), then trials the suggester made
    suggester = Suggester(QUADRATIC, algo=algo, seed=1)
    history = HyperoptHistory()
    history.record([Trial("exp", 0, TrialState.ERROR, {}, {},
                          result=TrialResult.failed("field 'spec' is damaged"))])
    for tid in range(1, 6):
        new = suggester.suggest(tid, history)
        history.record([Trial("exp", tid, TrialState.DONE, new.params, new.hyperopt_misc,
                              result=TrialResult.ok(float(tid)))])

    # When the next trial is suggested
    suggestion = suggester.suggest(6, history)

    # Then hyperopt saw only the trials with parameters, and suggested a valid one
    assert len(history) == 5
    assert -5 <= float(suggestion.params["x"]) <= 5  # type: ignore[arg-type]
