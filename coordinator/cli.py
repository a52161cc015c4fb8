"""``python -m coordinator``: thin commands over the coordinator's library functions."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import click
from click.core import ParameterSource
from tqdm.contrib.logging import logging_redirect_tqdm

from coordinator import settings as defaults
from coordinator.best import compare_best
from coordinator.comparison import comparison_table
from coordinator.hints import StoreOptions
from coordinator.model_summary import SKLEARN_NAME, model_summary
from coordinator.params_file import params_text
from coordinator.settings import SearchSettings
from shared.cli_options import IntegerRange, NumberRange, exp_key_option, mongo_option, option
from shared.errors import DatasetError, OcrTuneError
from shared.logs import LEVELS, configure_logging
from shared.objective import known_objectives
from shared.ocr import ENGINES
from shared.ocr_objective import OBJECTIVE_NAME as OCR_NAME
from shared.retry import StopRequestedError
from shared.signals import handlers_restored, stop_on_signals
from shared.store.factory import DEFAULT_HISTORY
from worker.settings import MAX_CONSECUTIVE_FAILURES as WORKER_MAX_CONSECUTIVE_FAILURES

if TYPE_CHECKING:
    from coordinator.run import RunRequest, RunResult
    from shared.trials import Experiment, Trial

EXIT_STOPPED = 130  # as a shell reports a program ended by Ctrl-C
# `run` options that only a local run reads, what to use instead with --mongo, and where a
# value must come from to be refused. OCRTUNE_TRIAL_TIMEOUT_S and
# OCRTUNE_MAX_CONSECUTIVE_FAILURES from the environment are left alone: `python -m worker`
# reads the same variables, and one shell may start both.
_LOCAL_RUN_ONLY = {
    "workers": ("--workers", "with MongoDB the workers evaluate the trials: start "
                "`python -m worker` once per core on each machine instead",
                (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)),
    "trial_timeout_s": ("--trial-timeout", "give the workers their limit instead: "
                        "`python -m worker --trial-timeout S` (default 600 s)",
                        (ParameterSource.COMMANDLINE,)),
    "max_consecutive_failures": (
        "--max-consecutive-failures", "give the workers their limit instead: "
        "`python -m worker --max-consecutive-failures N`", (ParameterSource.COMMANDLINE,)),
}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@option("--log-level", type=click.Choice(LEVELS, case_sensitive=False), default="INFO",
        envvar="OCRTUNE_LOG_LEVEL", show_default=True, help="How much to log.")
@click.version_option(package_name="ocr-tune")
def cli(log_level: str) -> None:
    """Find the image preprocessing that makes Tesseract read your photos best."""
    configure_logging(log_level.upper())


def exit_on_interrupt() -> None:
    """Make Ctrl-C end the program with the shell's 130, where click would print
    "Aborted!" and exit 1; for ``python -m coordinator``, not for a caller's process.

    The commands that look at a search change no trial, and write each file they write
    whole; `run` takes the signal over, to stop its search and hand its trials back.
    """
    signal.signal(signal.SIGINT, _interrupted_saying("Interrupted."))


def _interrupted_saying(message: str) -> Callable[[int, FrameType | None], NoReturn]:
    """A SIGINT handler that ends the program with 130, saying ``message``."""
    def interrupted(_signum: int, _frame: FrameType | None) -> NoReturn:
        click.echo(message, err=True)
        sys.exit(EXIT_STOPPED)
    return interrupted


@cli.command()
@option("--data", "data_dir", envvar="OCRTUNE_DATA",
        type=click.Path(path_type=Path),
        help="OCR: the folder with images/NAME.{jpg,png,...} and texts/NAME.txt.")
@option("--objective", type=click.Choice(known_objectives()), default="ocr",
        envvar="OCRTUNE_OBJECTIVE", show_default=True,
        help="What to tune: OCR preprocessing, or a scikit-learn model (sklearn).")
@option("--dataset", envvar="OCRTUNE_DATASET",
        help="sklearn: iris, or a CSV file with a header row.")
@option("--target", envvar="OCRTUNE_TARGET",
        help="sklearn: the CSV column holding the class.")
@option("--max-evals", required=True, type=IntegerRange(min=1),
        envvar="OCRTUNE_MAX_EVALS", help="Finish when this many trials are finished.")
@exp_key_option("Experiment name. [default: <objective>-<data folder or dataset name>]")
@option("--algo", type=click.Choice(defaults.ALGORITHM_NAMES), default="tpe",
        envvar="OCRTUNE_ALGO", show_default=True, help="hyperopt's search algorithm.")
@option("--seed", type=int, default=0, envvar="OCRTUNE_SEED", show_default=True,
        help="Seed of the search; the same seed suggests the same trials.")
@option("--engine", type=click.Choice(sorted(ENGINES)), default="tesserocr",
        envvar="OCRTUNE_ENGINE", show_default=True,
        help="tesserocr: Tesseract in-process; pytesseract: the tesseract command.")
@option("--lang", default="eng", envvar="OCRTUNE_LANG", show_default=True,
        help="Tesseract language(s), e.g. eng or eng+deu.")
@mongo_option("Keep trials in MongoDB for workers to evaluate (mongodb://, mongodb+srv:// "
              "or mongo://host:port/db/jobs). Without it the search runs here, its trials "
              "in --history.")
@option("--history", type=click.Path(path_type=Path, dir_okay=False),
        default=DEFAULT_HISTORY, envvar="OCRTUNE_HISTORY", show_default=True,
        help="Local run: the SQLite file that keeps the trials and is resumed from.")
@option("--workers", type=IntegerRange(min=1), default=1, envvar="OCRTUNE_WORKERS",
        show_default=True, help="Local run: trials evaluated at once.")
@option("--queue-per-worker", type=IntegerRange(min=1),
        default=defaults.QUEUE_PER_WORKER, envvar="OCRTUNE_QUEUE_PER_WORKER",
        show_default=True, help="Suggestions kept queued for each live worker.")
@option("--lease-timeout", "lease_timeout_s", type=NumberRange(min=1),
        default=defaults.LEASE_TIMEOUT_S, envvar="OCRTUNE_LEASE_TIMEOUT_S",
        show_default=True,
        help="Seconds without a heartbeat before a trial is requeued; recorded on a "
             "new experiment, which its workers follow. A resumed one keeps its own.")
@option("--max-attempts", type=IntegerRange(min=1), default=defaults.MAX_ATTEMPTS,
        envvar="OCRTUNE_MAX_ATTEMPTS", show_default=True,
        help="Expired leases after which a trial is failed for good.")
@option("--trial-timeout", "trial_timeout_s", type=NumberRange(min=1),
        envvar="OCRTUNE_TRIAL_TIMEOUT_S",
        help="Local run: seconds after which a trial is stopped and failed.")
@option("--max-consecutive-failures", type=IntegerRange(min=1),
        default=WORKER_MAX_CONSECUTIVE_FAILURES,
        envvar="OCRTUNE_MAX_CONSECUTIVE_FAILURES", show_default=True,
        help="Local run: stop after this many failed trials in a row (the finished "
             "ones are kept).")
@option("--no-worker-warning", "no_worker_warning_s", type=NumberRange(min=1),
        default=defaults.NO_WORKER_WARNING_S, envvar="OCRTUNE_NO_WORKER_WARNING_S",
        show_default=True,
        help="Seconds trials may wait with no live worker before a warning says so.")
@click.pass_context
def run(ctx: click.Context, *, data_dir: Path | None, objective: str, dataset: str | None,
        target: str | None, max_evals: int, exp_key: str | None, algo: str, seed: int,
        engine: str, lang: str, mongo: str | None, history: Path, workers: int,
        queue_per_worker: int, lease_timeout_s: float, max_attempts: int,
        trial_timeout_s: float | None, max_consecutive_failures: int,
        no_worker_warning_s: float) -> None:
    """Search for the best preprocessing; run again to resume where it stopped."""
    _refuse_local_run_options(ctx, mongo)
    _refuse_other_objectives_options(ctx, objective)
    # Imported here: the search loads hyperopt, which takes seconds, and the other
    # commands do not need it.
    from coordinator.run import RunRequest  # noqa: PLC0415

    request = RunRequest(data_dir=data_dir, objective=objective, dataset=dataset,
                         target=target, exp_key=exp_key, algo=algo, seed=seed,
                         engine=engine, lang=lang, mongo=mongo, history=history,
                         workers=workers, trial_timeout_s=trial_timeout_s,
                         max_consecutive_failures=max_consecutive_failures,
                         lease_timeout_given=_given(ctx, "lease_timeout_s"))
    store_options = StoreOptions(mongo=mongo, history=history,
                                 mongo_from_env=_from_env(ctx, "mongo"))
    settings = SearchSettings(max_evals=max_evals, queue_per_worker=queue_per_worker,
                              lease_timeout_s=lease_timeout_s, max_attempts=max_attempts,
                              no_worker_warning_s=no_worker_warning_s)
    result = _search_stopped_by_signals(request, settings, store_options)
    _print_result_until_interrupted(result, store_options)
    if not result.outcome.completed:
        click.echo(_stopped_message(result, store_options), err=True)
        sys.exit(EXIT_STOPPED)


def _search_stopped_by_signals(request: RunRequest, settings: SearchSettings,
                               store_options: StoreOptions) -> RunResult:
    """The search, with SIGTERM and SIGINT stopping it (trials handed back) while it runs."""
    from coordinator.progress import SearchProgress  # noqa: PLC0415 (see `run`)
    from coordinator.run import run_experiment  # noqa: PLC0415

    with handlers_restored():
        stop = stop_on_signals("the search stops; run the same command again to resume")
        progress = SearchProgress(exp_key=request.key)
        try:
            with logging_redirect_tqdm():
                return run_experiment(request, settings, stop=stop, on_progress=progress)
        except StopRequestedError:
            click.echo("Stopped while the store was unreachable; the same command resumes "
                       "the search.", err=True)
            sys.exit(EXIT_STOPPED)
        except OcrTuneError as err:
            raise click.ClickException(store_options.message(err)) from err
        finally:
            progress.close()


def _print_result_until_interrupted(result: RunResult, store_options: StoreOptions) -> None:
    """The result; scoring the best again reads every image twice, so Ctrl-C cuts it short."""
    with handlers_restored():
        if threading.current_thread() is threading.main_thread():
            best = _best_command(result, store_options)
            signal.signal(signal.SIGINT, _interrupted_saying(
                f"Interrupted; the trials are kept, and `{best}` prints the result again."))
        _print_result(result, store_options)


def _from_env(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) is ParameterSource.ENVIRONMENT


def _given(ctx: click.Context, name: str) -> bool:
    """Whether the option was set on the command line or in its variable, not defaulted."""
    return ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE,
                                              ParameterSource.ENVIRONMENT)


def _refuse_local_run_options(ctx: click.Context, mongo: str | None) -> None:
    """A local-run option given with --mongo would be ignored: refuse it, saying instead."""
    if not mongo:
        return
    for name, (flag, instead, sources) in _LOCAL_RUN_ONLY.items():
        source = ctx.get_parameter_source(name)
        if source in sources:
            given = flag
            if source is ParameterSource.ENVIRONMENT:
                given = f"{_envvar(ctx, name)} (the variable of {flag})"
            raise click.UsageError(f"{given} is a local-run option and does nothing with "
                                   f"--mongo; {instead}", ctx=ctx)


def _refuse_other_objectives_options(ctx: click.Context, objective: str) -> None:
    """An option of the other objective, typed on the command line, would be ignored.
    (From the environment it is left alone: a deployment's file may set both.)"""
    typed = {name for name in ("data_dir", "dataset", "target")
             if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE}
    if objective == SKLEARN_NAME and "data_dir" in typed:
        raise click.UsageError("--data is a folder of images for the OCR objective; "
                               "--objective sklearn reads --dataset (iris, or a CSV file "
                               "with --target naming its class column)", ctx=ctx)
    if objective == OCR_NAME and typed & {"dataset", "target"}:
        raise click.UsageError("--dataset and --target are for --objective sklearn; add it "
                               "to tune a model, or leave them out to tune OCR on --data",
                               ctx=ctx)


def _envvar(ctx: click.Context, name: str) -> str:
    for param in ctx.command.params:
        if param.name == name and isinstance(param.envvar, str):
            return param.envvar
    return name


def _stopped_message(result: RunResult, store: StoreOptions) -> str:
    snapshot = result.outcome.snapshot
    message = (f"Stopped before --max-evals ({snapshot.finished} of {snapshot.max_evals} "
               "trials finished); the same command resumes the search.")
    if result.outcome.best is None:
        return message
    return f"{message}\nThe best so far, scored again:\n  {_best_command(result, store)}"


def _best_command(result: RunResult, store: StoreOptions) -> str:
    """``coordinator best`` for the run's experiment, with ``--data-dir`` if the run read
    its data elsewhere than where the experiment first found it."""
    words = ["best", "--exp-key", result.experiment.exp_key]
    searched_on = result.experiment.objective.settings.get("data_dir")
    if result.data_dir is not None and str(result.data_dir.resolve()) != searched_on:
        words += ["--data-dir", str(result.data_dir)]
    return store.command(*words)


def _print_result(result: RunResult, store: StoreOptions) -> None:
    outcome = result.outcome
    snapshot = outcome.snapshot
    click.echo(f"Experiment {result.experiment.exp_key}: {snapshot.finished} trials "
               f"finished, {snapshot.failed} failed, {snapshot.reused} reused.")
    if outcome.best is None:
        if not outcome.completed:
            return  # stopped before any trial succeeded; the caller says how to resume
        errors = store.command("history", "--exp-key", result.experiment.exp_key,
                               "--state", "error")
        raise click.ClickException("every trial failed, so there is no best configuration; "
                                   f"see the errors with `{errors}`")
    click.echo(f"Best loss {outcome.best.loss:.4f} (trial {outcome.best.tid}); parameters:")
    click.echo(params_text(outcome.best.params))
    if outcome.completed:
        # A stopped run skips this: it reads every image twice, long after Ctrl-C.
        _print_scores(result.experiment, outcome.best, store, data_dir=result.data_dir)


def _print_scores(experiment: Experiment, best: Trial, store: StoreOptions, *,
                  data_dir: Path | None) -> None:
    spec = experiment.objective
    if spec.name == OCR_NAME:
        try:
            # Refused when the folder no longer holds the dataset the search scored.
            rows = compare_best(experiment, best, data_dir=data_dir)
        except DatasetError as err:
            show = store.command("best", "--exp-key", experiment.exp_key, "--data-dir", "DIR")
            click.echo(f"Warning: the per-image table is left out: {err}. The search's "
                       "scores stand: each trial read the dataset as it was when its worker "
                       f"loaded it. `{show}` shows the table for a copy of that dataset.",
                       err=True)
            return
        click.echo("\nPer image, read with no preprocessing (raw) and with the best:")
        click.echo(comparison_table(rows))
    elif spec.name == SKLEARN_NAME:
        click.echo(model_summary(spec, best.params, data_dir=data_dir))


# Registers status, history, best, plot, report and apply on `cli`; imported last because
# those commands import `cli` from this module.
from coordinator import commands  # noqa: E402, F401
