"""hyperopt's view of an experiment: a ``hyperopt.Trials`` kept in step with the store.

hyperopt's suggest algorithms read a ``Trials`` object. The coordinator keeps one in
memory, builds it once from the store at start (so a restart resumes with the full
history) and updates it as trials finish, instead of re-reading everything each time.
The same trials are also kept as ``Observations`` (numpy columns), which the fast TPE
suggester reads instead of the job documents.
"""

from __future__ import annotations

from typing import Any

import hyperopt

from coordinator.observations import Observations
from shared.trials import Trial, TrialState


class HyperoptHistory:
    """The experiment's trials as hyperopt job documents, by trial id."""

    def __init__(self) -> None:
        self._trials = hyperopt.Trials()
        self._docs: dict[int, dict[str, Any]] = {}
        self._stale = False
        self.observations = Observations()

    def __len__(self) -> int:
        return len(self._docs)

    @property
    def trials(self) -> hyperopt.Trials:
        """The trials as hyperopt reads them, re-indexed if anything changed since."""
        # Re-indexing walks every document; done on each record it cost the fast TPE
        # path, which never reads these documents, milliseconds per trial.
        if self._stale:
            self._trials.refresh()
            self._stale = False
        return self._trials

    def record(self, trials: list[Trial]) -> None:
        """Add new trials and update known ones."""
        new_docs = []
        for trial in trials:
            doc = self._docs.get(trial.tid)
            if doc is None and not trial.hyperopt_misc:
                # A trial without hyperopt's record of its parameters (a damaged document,
                # failed in its place): nothing to learn from, and hyperopt's anneal cannot
                # read a trial that lacks the space's labels.
                continue
            if doc is None:
                doc = _job_doc(trial)
                self._docs[trial.tid] = doc
                new_docs.append(doc)
                self.observations.add(trial.tid, trial.loss, _active_values(doc["misc"]))
            else:
                doc["state"], doc["result"] = _job_state(trial), _job_result(trial)
                self.observations.set_loss(trial.tid, trial.loss)
        if new_docs:
            # The documents are built here from checked values; hyperopt's own
            # validation (insert_trial_docs) would only repeat those checks, slowly.
            self._trials._insert_trial_docs(new_docs)
        self._stale = True


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


def _active_values(misc: dict[str, Any]) -> dict[str, float]:
    """The value of each label the trial used (a label with no value was inactive)."""
    return {label: values[0] for label, values in misc["vals"].items() if values}


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
