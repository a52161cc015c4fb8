"""``python -m worker``: evaluate queued trials from MongoDB until told to stop."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import click

from shared.cli_options import IntegerRange, NumberRange, exp_key_option, mongo_option, option
from shared.errors import OcrTuneError
from shared.logs import LEVELS, configure_logging
from shared.retry import StopRequestedError, retry_unavailable
from shared.signals import stop_on_signals
from shared.store.factory import describe_store, open_store
from worker import settings as defaults
from worker.loop import Worker
from worker.settings import WorkerSettings

logger = logging.getLogger(__name__)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@mongo_option("MongoDB holding the trials (mongodb://, mongodb+srv:// or "
              "mongo://host:port/db/jobs).", required=True)
@exp_key_option("Serve only this experiment; exit 4 if it cannot be evaluated here. "
                "[default: every experiment it can evaluate]")
@option("--poll-interval", "poll_interval_s", type=NumberRange(min=0.01),
        default=defaults.POLL_INTERVAL_S, envvar="OCRTUNE_POLL_INTERVAL_S",
        show_default=True, help="Seconds between looks at an empty queue.")
@option("--reserve-timeout", "reserve_timeout_s", type=NumberRange(min=0),
        envvar="OCRTUNE_RESERVE_TIMEOUT_S",
        help="Stop after this many seconds without a trial. [default: wait forever]")
@option("--max-consecutive-failures", type=IntegerRange(min=1),
        default=defaults.MAX_CONSECUTIVE_FAILURES,
        envvar="OCRTUNE_MAX_CONSECUTIVE_FAILURES", show_default=True,
        help="Stop (exit 3) after this many failed trials in a row.")
@option("--max-jobs", type=IntegerRange(min=1), envvar="OCRTUNE_MAX_JOBS",
        help="Stop after recording this many trials. [default: no limit]")
@option("--trial-timeout", "trial_timeout_s", type=NumberRange(min=1),
        default=defaults.TRIAL_TIMEOUT_S, envvar="OCRTUNE_TRIAL_TIMEOUT_S",
        show_default=True, help="Seconds after which a trial is stopped and failed.")
@option("--grace-period", "grace_period_s", type=NumberRange(min=0),
        default=defaults.GRACE_PERIOD_S, envvar="OCRTUNE_GRACE_PERIOD_S",
        show_default=True,
        help="After SIGTERM, seconds the trial may run on before it is handed back "
             "(a second SIGTERM hands it back at once).")
@option("--data-dir", type=click.Path(path_type=Path, file_okay=False, exists=True),
        envvar="OCRTUNE_DATA_DIR",
        help="Where the experiment's dataset is on this machine, if not at the "
             "coordinator's path.")
@option("--log-level", type=click.Choice(LEVELS, case_sensitive=False), default="INFO",
        envvar="OCRTUNE_LOG_LEVEL", show_default=True, help="How much to log.")
def cli(*, mongo: str, exp_key: str | None, poll_interval_s: float,
        reserve_timeout_s: float | None, max_consecutive_failures: int, max_jobs: int | None,
        trial_timeout_s: float, grace_period_s: float, data_dir: Path | None,
        log_level: str) -> None:
    """Reserve queued trials, evaluate them and record the results (hyperopt-mongo-worker)."""
    configure_logging(log_level.upper())
    hurry = threading.Event()
    stop = stop_on_signals(f"a running trial is finished within {grace_period_s:g} s or "
                           "handed back (at once on a second signal), then the worker exits",
                           hurry=hurry, hurry_means="a running trial is handed back now")
    try:
        settings = WorkerSettings(
            exp_key=exp_key, poll_interval_s=poll_interval_s,
            reserve_timeout_s=reserve_timeout_s,
            max_consecutive_failures=max_consecutive_failures, max_jobs=max_jobs,
            trial_timeout_s=trial_timeout_s, grace_period_s=grace_period_s,
            data_dir=data_dir)
        click.echo(f"Worker using {describe_store(mongo=mongo)}.", err=True)
        # A worker may start before its database (a cluster starts pods in any order).
        store = retry_unavailable(lambda: open_store(mongo=mongo), what="connecting",
                                  stop=stop)
        with store:
            reason = Worker(store, settings, stop=stop, hurry=hurry).run()
    except StopRequestedError:
        # Stopped while waiting for the database: nothing was reserved, nothing is lost.
        logger.info("Worker stops before it reached the database; it held no trial.")
        sys.exit(0)
    except OcrTuneError as err:
        raise click.ClickException(str(err)) from err
    sys.exit(reason.exit_code)
