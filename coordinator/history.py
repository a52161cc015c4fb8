"""hyperopt's view of an experiment: a ``hyperopt.Trials`` kept in step with the store.

hyperopt's suggest algorithms read a ``Trials`` object. The coordinator keeps one in
memory, builds it once from the store at start (so a restart resumes with the full
history) and updates it as trials finish, instead of re-reading everything each time.
"""

from __future__ import annotations

from typing import Any

import hyperopt

from shared.trials import Trial, TrialState


class HyperoptHistory:
    """The experiment's trials as hyperopt job documents, by trial id."""

    def __init__(self) -> None:
        self.trials = hyperopt.Trials()
        self._docs: dict[int, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._docs)

    def record(self, trials: list[Trial]) -> None:
        """Add new trials and update known ones, then let hyperopt re-index."""
        new_docs = []
        for trial in trials:
            doc = self._docs.get(trial.tid)
            if doc is None:
                doc = _job_doc(trial)
                self._docs[trial.tid] = doc
                new_docs.append(doc)
            else:
                doc["state"], doc["result"] = _job_state(trial), _job_result(trial)
        if new_docs:
            # The documents are built here from checked values; hyperopt's own
            # validation (insert_trial_docs) would only repeat those checks, slowly.
            self.trials._insert_trial_docs(new_docs)
        self.trials.refresh()


def _job_doc(trial: Trial) -> dict[str, Any]:
    misc = trial.hyperopt_misc
    return {
        "tid": trial.tid,
        "state": _job_state(trial),
        "spec": None,
        "result": _job_result(trial),
        "misc": {"tid": trial.tid, "cmd": None, "workdir": None,
                 "idxs": {k: list(v) for k, v in _mapping(misc, "idxs").items()},
                 "vals": {k: list(v) for k, v in _mapping(misc, "vals").items()}},
        "exp_key": None,
        "owner": None,
        "version": 0,
        "book_time": None,
        "refresh_time": None,
    }


def _mapping(misc: Any, key: str) -> dict[str, Any]:
    value = misc.get(key) or {}
    return dict(value)


def _job_state(trial: Trial) -> int:
    # hyperopt leaves ERROR trials out of its history; a failed evaluation we record as
    # ERROR is therefore shown to it as DONE with status "fail", which it reads as a
    # trial that exists but has no loss, and so never suggests near it on purpose.
    if trial.state is TrialState.ERROR:
        return int(TrialState.DONE)
    return int(trial.state)


def _job_result(trial: Trial) -> dict[str, Any]:
    loss = trial.loss
    if loss is not None:
        return {"status": hyperopt.STATUS_OK, "loss": loss}
    if trial.state.is_finished:
        return {"status": hyperopt.STATUS_FAIL}
    return {"status": hyperopt.STATUS_NEW}
