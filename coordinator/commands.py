"""The commands that look at a search and use its result: status, history, best, plot,
report, apply. Each is a thin wrapper over a library function; registered on ``cli``.

Every command reads the store that ``--mongo URI`` names, else the SQLite history file
``--history``. Errors the user can fix (an unknown experiment, an empty history, an
unreachable database, a bad file) end the command with a message and exit status 1.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import click
import cv2
from click.core import ParameterSource

from coordinator.apply import open_engine, preprocess
from coordinator.best import best_trial, compare_best
from coordinator.cli import cli
from coordinator.comparison import comparison_table
from coordinator.hints import StoreOptions
from coordinator.history_table import as_csv, as_jsonl, as_table, history_rows
from coordinator.model_summary import SKLEARN_NAME, model_summary
from coordinator.params_file import load_params, params_text, save_params, tuned_from_trial
from coordinator.plots import OCR_LOSS_LABEL, save_loss_plot
from coordinator.reading import open_for_reading, pick_experiment
from coordinator.report import build_report, write_report
from coordinator.status import PACE_WINDOW_S, read_status
from coordinator.status_text import describe_status
from shared.cli_options import IntegerRange, NumberRange, exp_key_option, mongo_option, option
from shared.errors import ConfigError, OcrTuneError
from shared.ocr import ENGINES
from shared.ocr_objective import OBJECTIVE_NAME
from shared.pipeline import GrayImage
from shared.store.factory import DEFAULT_HISTORY
from shared.trials import TrialState

P = ParamSpec("P")
R = TypeVar("R")

_FORMATTERS = {"table": as_table, "csv": as_csv, "jsonl": as_jsonl}


def _user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """The project's errors end the command with their message, not a traceback; a
    command the message suggests reads the store this one was given."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except OcrTuneError as err:
            raise click.ClickException(_store_options_given().message(err)) from err

    return run


def _store_options_given() -> StoreOptions:
    """``--mongo`` and ``--history`` as the running command got them."""
    ctx = click.get_current_context()
    mongo, history = ctx.params.get("mongo"), ctx.params.get("history")
    return StoreOptions(
        mongo=mongo if isinstance(mongo, str) else None,
        history=history if isinstance(history, Path) else DEFAULT_HISTORY,
        mongo_from_env=ctx.get_parameter_source("mongo") is ParameterSource.ENVIRONMENT)


def _store_options(command: Callable[P, R]) -> Callable[P, R]:
    """``--mongo`` and ``--history``, as ``coordinator run`` spells them."""
    command = option(
        "--history", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_HISTORY,
        envvar="OCRTUNE_HISTORY", show_default=True,
        help="The SQLite history file of a local run (used without --mongo).")(command)
    return mongo_option("Read the trials from MongoDB (mongodb://, mongodb+srv:// or "
                        "mongo://host:port/db/jobs) instead of --history.")(command)


def _exp_key_option(command: Callable[P, R]) -> Callable[P, R]:
    return exp_key_option("The experiment. [default: the store's only one]")(command)


def _data_dir_option(command: Callable[P, R]) -> Callable[P, R]:
    return option(
        "--data-dir", type=click.Path(path_type=Path),
        envvar="OCRTUNE_DATA_DIR",
        help="Where the experiment's dataset is on this machine, if not where it was "
             "searched.")(command)


@cli.command()
@exp_key_option("Only this experiment. [default: every experiment]")
@option("--max-evals", type=IntegerRange(min=1), envvar="OCRTUNE_MAX_EVALS",
        help="The search's --max-evals, so the time left counts the trials still to "
             "suggest. [default: count only queued and running trials]")
@option("--window", "window_min", type=NumberRange(min=0.1),
        default=PACE_WINDOW_S / 60, show_default=True,
        help="Minutes of finished trials the pace is measured over.")
@_store_options
@_user_errors
def status(*, exp_key: str | None, max_evals: int | None, window_min: float,
           mongo: str | None, history: Path) -> None:
    """Show where each experiment stands.

    Trials by state, live workers and running trials, the pace of the last minutes, the
    best loss, and the time left at that pace.
    """
    window_s = window_min * 60
    with open_for_reading(mongo=mongo, history=history) as store:
        experiments = ([store.get_experiment(exp_key)] if exp_key
                       else store.list_experiments())
        if not experiments:
            raise ConfigError("the store holds no experiment yet; start one with "
                              "`python -m coordinator run`")
        now, given = store.now(), _store_options_given()
        blocks = [describe_status(read_status(store, experiment, now=now,
                                              max_evals=max_evals, window_s=window_s),
                                  window_s=window_s, store=given)
                  for experiment in experiments]
    click.echo("\n\n".join(blocks))


@cli.command("history")
@_exp_key_option
@option("--state", type=click.Choice([s.name.lower() for s in TrialState]),
        help="Only the trials in this state.")
@option("--best", "best_n", type=IntegerRange(min=1),
        help="Only the N trials with the lowest loss, best first.")
@option("--format", "output_format", type=click.Choice(sorted(_FORMATTERS)),
        default="table", show_default=True, help="How to write the trials.")
@_store_options
@_user_errors
def history_command(*, exp_key: str | None, state: str | None, best_n: int | None,
            output_format: str, mongo: str | None, history: Path) -> None:
    """List the trials as a table, CSV or JSON lines.

    Each trial's state, loss, parameters, worker, start, duration, attempts and error.
    """
    wanted = TrialState[state.upper()] if state else None
    if best_n is not None and wanted not in (None, TrialState.DONE):
        raise click.UsageError(f"--best ranks trials by loss, and {state} trials have "
                               "none; use --best alone or with --state done")
    with open_for_reading(mongo=mongo, history=history) as store:
        experiment = pick_experiment(store, exp_key)
        trials = store.trials(experiment.exp_key)
    if not trials:
        raise ConfigError(f"experiment {experiment.exp_key!r} has no trials yet; start the "
                          "search with `python -m coordinator run`")
    rows = history_rows(trials, state=wanted, best=best_n)
    if not rows:
        click.echo(f"No trial of experiment {experiment.exp_key} matches.", err=True)
    if rows or output_format == "csv":
        click.echo(_FORMATTERS[output_format](rows), nl=False)
        if output_format == "table":
            click.echo()


@cli.command()
@_exp_key_option
@option("--save", type=click.Path(path_type=Path, dir_okay=False),
        help="Write the parameters, with their experiment, trial, loss and engine, "
             "to this JSON file (what `apply --params` reads).")
@_data_dir_option
@_store_options
@_user_errors
def best(*, exp_key: str | None, save: Path | None, data_dir: Path | None,
         mongo: str | None, history: Path) -> None:
    """Show the best parameters and their scores per image.

    Every image is read again with no preprocessing and with the best parameters, and
    both readings are scored; --save writes the parameters for `apply`.
    """
    with open_for_reading(mongo=mongo, history=history) as store:
        experiment = pick_experiment(store, exp_key)
        trials = store.trials(experiment.exp_key)
    trial = best_trial(experiment.exp_key, trials)
    tuned = tuned_from_trial(experiment, trial)
    scored = sum(t.loss is not None for t in trials)
    click.echo(f"Best of experiment {experiment.exp_key}: trial {trial.tid}, loss "
               f"{trial.loss:.4f} (the lowest of {scored} scored trials). Parameters:")
    click.echo(params_text(tuned.params))
    if save is not None:
        save_params(tuned, save)
        click.echo(f"Saved to {save}.")
    if experiment.objective.name == OBJECTIVE_NAME:
        rows = compare_best(experiment, trial, data_dir=data_dir)
        click.echo("\nPer image, read now with no preprocessing (raw) and with the best:")
        click.echo(comparison_table(rows))
    elif experiment.objective.name == SKLEARN_NAME:
        click.echo(model_summary(experiment.objective, trial.params, data_dir=data_dir))


def _named_for(kind: str, suffixes: tuple[str, ...], default_stem: str
               ) -> Callable[[click.Context, click.Parameter, Path], Path]:
    """An ``--out`` check: the file is written as ``kind``, so another name would mislead."""

    def check(_ctx: click.Context, _param: click.Parameter, path: Path) -> Path:
        if path.suffix.lower() not in suffixes:
            raise click.BadParameter(
                f"{path} does not end in {' or '.join(suffixes)}, but the "
                f"{default_stem} is written as {kind}; name the file "
                f"{path.stem or default_stem}{suffixes[0]}")
        return path

    return check


@cli.command()
@_exp_key_option
@option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False),
        callback=_named_for("PNG", (".png",), "figure"),
        help="The PNG file to write (NAME.png).")
@_store_options
@_user_errors
def plot(*, exp_key: str | None, out: Path, mongo: str | None, history: Path) -> None:
    """Draw the loss of each trial as a PNG figure.

    The losses in trial order, their trend, the best so far, and the failed trials.
    """
    with open_for_reading(mongo=mongo, history=history) as store:
        experiment = pick_experiment(store, exp_key)
        trials = store.trials(experiment.exp_key)
    label = OCR_LOSS_LABEL if experiment.objective.name == OBJECTIVE_NAME else "loss"
    save_loss_plot(trials, out, exp_key=experiment.exp_key, loss_label=label)
    click.echo(f"Wrote {out}: {len(trials)} trials of experiment {experiment.exp_key}.")


@cli.command()
@_exp_key_option
@option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False),
        callback=_named_for("HTML", (".html", ".htm"), "report"),
        help="The HTML file to write (NAME.html).")
@_data_dir_option
@_store_options
@_user_errors
def report(*, exp_key: str | None, out: Path, data_dir: Path | None, mongo: str | None,
           history: Path) -> None:
    """Write a self-contained HTML report of the result.

    The best parameters, the loss figure, and per image the original and the
    preprocessed image with the OCR text set against the true text.
    """
    with open_for_reading(mongo=mongo, history=history) as store:
        experiment = pick_experiment(store, exp_key)
        trials = store.trials(experiment.exp_key)
    content = build_report(experiment, trials, data_dir=data_dir)
    write_report(content, out)
    click.echo(f"Wrote {out}: experiment {experiment.exp_key}, {len(content.images)} "
               "images.")


@cli.command()
@option("--params", "params_file", required=True,
        type=click.Path(path_type=Path, dir_okay=False),
        help="Parameters saved by `best --save`, or a bare parameters object.")
@click.argument("images", nargs=-1, required=True,
                type=click.Path(path_type=Path, dir_okay=False))
@option("--engine", type=click.Choice(sorted(ENGINES)),
        help="OCR engine. [default: the one the parameters were tuned with]")
@option("--lang", help="Tesseract language(s). [default: as tuned, else eng]")
@option("--save-preprocessed", type=click.Path(path_type=Path, file_okay=False),
        help="Also write each preprocessed image to this folder as NAME.png.")
@_user_errors
def apply(*, params_file: Path, images: tuple[Path, ...], engine: str | None,
          lang: str | None, save_preprocessed: Path | None) -> None:
    """Read images with tuned parameters and print their text.

    Each image is preprocessed with the parameters, as in the search, and read with
    Tesseract; with several images, each text follows a line naming its file.
    """
    tuned = load_params(params_file)
    tuned.pipeline()  # check the parameters before starting the engine
    with open_engine(tuned, engine=engine, lang=lang) as ocr:
        for number, path in enumerate(images):
            image = preprocess(path, tuned)
            if save_preprocessed is not None:
                _save_png(image, save_preprocessed / f"{path.stem}.png")
            if len(images) > 1:
                if number:
                    click.echo()
                click.echo(f"==> {path} <==")
            click.echo(ocr.read(image).rstrip("\n"))


def _save_png(image: GrayImage, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot make the folder {path.parent}: {err.strerror}; choose "
                          "another --save-preprocessed folder") from err
    # imwrite reports failure by returning False, not by raising.
    if not cv2.imwrite(str(path), image):
        raise ConfigError(f"OpenCV could not write {path}; check that the folder is "
                          "writable, or choose another --save-preprocessed folder")
