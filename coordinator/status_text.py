"""``coordinator status`` output: one block of plain text per experiment."""

from __future__ import annotations

from coordinator.hints import StoreOptions
from coordinator.status import ExperimentStatus, TimeLeft
from shared.trials import TrialState


def describe_status(status: ExperimentStatus, *, window_s: float,
                    store: StoreOptions) -> str:
    """A few lines saying where the experiment stands, for people to read; ``store`` is
    how the user named the store, for the command a line may suggest."""
    experiment = status.experiment
    created = (experiment.created_at.strftime("%Y-%m-%d %H:%M UTC")
               if experiment.created_at else "unknown")
    lines = [
        f"Experiment {experiment.exp_key} ({experiment.objective.name}, {experiment.algo}, "
        f"seed {experiment.seed}, created {created})",
        "  trials:     " + _counts(status),
        "  best loss:  " + _best(status, store),
        "  pace:       " + _pace(status, window_s),
        "  time left:  " + _time_left(status.time_left, workers=len(status.workers)),
        f"  workers:    {len(status.workers)} live" + (":" if status.workers else ""),
    ]
    lines += [f"    {w.worker_id} on {w.host} (pid {w.pid}), seen {duration(w.last_seen_age_s)}"
              " ago" for w in status.workers]
    lines += [f"  running:    trial {r.tid} on {r.owner or 'no worker'}, heartbeat "
              f"{_ago(r.heartbeat_age_s)}" for r in status.running]
    return "\n".join(lines)


def _counts(status: ExperimentStatus) -> str:
    if not any(count for _, count in status.counts):
        return "none yet"
    done = f"{status.count(TrialState.DONE)} done"
    if status.reused:
        done += f" ({status.reused} reusing an earlier result)"
    others = [f"{status.count(state)} {state.name.lower()}" for state in
              (TrialState.ERROR, TrialState.RUNNING, TrialState.NEW)]
    return ", ".join([done, *others])


def _best(status: ExperimentStatus, store: StoreOptions) -> str:
    if status.best is not None and status.best.loss is not None:
        return f"{status.best.loss:.4f} (trial {status.best.tid})"
    failed = status.count(TrialState.ERROR)
    if failed and failed == sum(count for _, count in status.counts):
        errors = store.command("history", "--exp-key", status.experiment.exp_key,
                               "--state", "error")
        return f"none: every trial failed (see `{errors}`)"
    return "none yet"


def _pace(status: ExperimentStatus, window_s: float) -> str:
    window = duration(window_s)
    if status.trials_per_minute is None:
        last = status.last_end_age_s
        ended = "no trial has ended" if last is None else f"last ended {duration(last)} ago"
        return f"no trial ended in the last {window} ({ended})"
    return (f"{status.trials_per_minute:.2f} trials/min over the last {window} (last ended "
            f"{_ago(status.last_end_age_s)})")


def _time_left(left: TimeLeft, *, workers: int) -> str:
    if left.trials == 0:
        return ("nothing pending (pass --max-evals to count the trials still to suggest)"
                if left.at_least else "none: --max-evals trials are finished")
    trials = f"{left.trials} trial" + ("" if left.trials == 1 else "s")
    what = f"the {trials} pending" if left.at_least else f"the {trials} still to finish"
    if not workers:
        return f"unknown for {what}: no worker is live to evaluate them"
    if left.seconds is None:
        return f"unknown for {what}: no trial ended recently to measure the pace"
    if left.at_least:
        return (f"at least {duration(left.seconds)} for {what} (pass --max-evals to count "
                "the trials the coordinator will still suggest)")
    return f"{duration(left.seconds)} for {what}"


def _ago(age_s: float | None) -> str:
    return "never" if age_s is None else f"{duration(age_s)} ago"


def duration(seconds: float) -> str:
    """``seconds`` for people: "42 s", "3 min 20 s", "10 min", "2 h 05 min"."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
