"""Bad options and URIs on the command line: each program stops before doing anything,
exits non-zero and names the option, the allowed values or the fix; no traceback."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import click
import dns.name
import dns.resolver
import pytest
from click.testing import CliRunner, Result

import worker.cli
from coordinator.cli import cli as coordinator_cli
from shared.errors import ConfigError
from worker import WorkerSettings

# A URI nothing listens on: every case below must stop before connecting.
NOWHERE = "mongodb://127.0.0.1:1/trials"
SAMPLE_DATA = str(Path(__file__).resolve().parents[1] / "data")
USAGE_ERROR = 2  # click's exit code for a bad option value


def invoke(command: click.Command, args: list[str]) -> Result:
    """Run a command in-process with no OCRTUNE_* variable of the developer's set."""
    unset: dict[str, str | None] = {key: None for key in os.environ
                                    if key.startswith("OCRTUNE_")}
    return CliRunner(env=unset).invoke(command, args)


@pytest.fixture(autouse=True)
def _no_signal_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker command would take over SIGTERM and SIGINT of the test process."""
    monkeypatch.setattr(worker.cli, "stop_on_signals",
                        lambda _what, **_hurry: threading.Event())


@pytest.mark.parametrize(("args", "named"), [
    (["--max-consecutive-failures", "0"], "'--max-consecutive-failures': 0 is not in the range"),
    (["--trial-timeout", "0"], "'--trial-timeout': 0.0 is not in the range x>=1"),
    (["--poll-interval", "0"], "'--poll-interval': 0.0 is not in the range x>=0.01"),
    (["--grace-period", "-1"], "'--grace-period': -1.0 is not in the range x>=0"),
    (["--max-jobs", "0"], "'--max-jobs': 0 is not in the range x>=1"),
    (["--data-dir", "/no/such/folder"], "'--data-dir': Directory '/no/such/folder' does not"),
    (["--reserve-timeout", "soon"], "'--reserve-timeout': 'soon' is not a valid number."),
    (["--max-jobs", "2.5"], "'--max-jobs': '2.5' is not a valid integer."),
])
def test_a_worker_option_out_of_range_is_a_usage_error_naming_it(
        args: list[str], named: str) -> None:
    result = invoke(worker.cli.cli, ["--mongo", NOWHERE, *args])

    assert result.exit_code == USAGE_ERROR
    assert named in result.output
    assert "Traceback" not in result.output


def test_a_worker_no_longer_takes_a_lease_timeout_its_experiment_has_one(
        ) -> None:
    # Given a worker started with --lease-timeout, which it took before the experiment
    # recorded the coordinator's lease
    # When it starts
    result = invoke(worker.cli.cli, ["--mongo", NOWHERE, "--lease-timeout", "600"])

    # Then it is a usage error naming the option, before connecting
    assert result.exit_code == USAGE_ERROR
    assert "No such option '--lease-timeout'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("uri", "problem"), [
    ("localhost:27017", "must start with mongodb://"),
    ("mongodb://alice:pw-9xq@localhost:99999/x", "Port must be an integer"),
    ("mongo://db1:27017/trials/results", "must be 'jobs', not 'results'"),
])
def test_a_worker_given_a_malformed_uri_stops_naming_the_problem_without_the_password(
        uri: str, problem: str) -> None:
    result = invoke(worker.cli.cli, ["--mongo", uri])

    assert result.exit_code == USAGE_ERROR
    assert problem in result.output
    assert "A valid URI looks like" in result.output
    assert "pw-9xq" not in result.output


def test_an_srv_uri_whose_host_has_no_dns_record_says_to_check_the_host_name(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a DNS that knows no SRV record for the URI's host (no network is used)
    def no_such_name(qname: str, *_args: object, **_kwargs: object) -> None:
        # dnspython's exceptions carry no annotations.
        raise dns.resolver.NXDOMAIN(  # type: ignore[no-untyped-call]
            qnames=[dns.name.from_text(qname)])

    monkeypatch.setattr(dns.resolver, "resolve", no_such_name)

    # When a command is given that URI
    result = invoke(coordinator_cli, ["status", "--mongo",
                                      "mongodb+srv://alice:pw-9xq@nonexistent.invalid/ocrtune"])

    # Then it names the URI without the password and says to check its host name
    assert result.exit_code == 1
    assert ("cannot look up the MongoDB cluster of the URI "
            "mongodb+srv://alice:***@nonexistent.invalid/ocrtune: The DNS query name does not "
            "exist: _mongodb._tcp.nonexistent.invalid.; check the host name in the URI: a "
            "mongodb+srv:// URI needs a DNS SRV record for its host") in result.output
    assert "options" not in result.output
    assert "pw-9xq" not in result.output


@pytest.mark.parametrize(("args", "named"), [
    (["--max-evals", "0"], "'--max-evals': 0 is not in the range x>=1"),
    (["--algo", "bayes"], "'--algo': 'bayes' is not one of 'anneal', 'rand', 'tpe'"),
    (["--objective", "xgboost"], "'--objective': 'xgboost' is not one of"),
    (["--engine", "easyocr"], "'--engine': 'easyocr' is not one of"),
    (["--queue-per-worker", "0"], "'--queue-per-worker': 0 is not in the range x>=1"),
    (["--max-attempts", "0"], "'--max-attempts': 0 is not in the range x>=1"),
    (["--lease-timeout", "0"], "'--lease-timeout': 0.0 is not in the range x>=1"),
    (["--trial-timeout", "abc"], "'--trial-timeout': 'abc' is not a valid number."),
    (["--workers", "two"], "'--workers': 'two' is not a valid integer."),
])
def test_a_coordinator_option_out_of_range_is_a_usage_error_naming_it(
        args: list[str], named: str, tmp_path: Path) -> None:
    result = invoke(coordinator_cli, ["run", "--data", SAMPLE_DATA, "--max-evals", "1",
                                      "--history", str(tmp_path / "h.sqlite"), *args])

    assert result.exit_code == USAGE_ERROR
    assert named in result.output
    assert not (tmp_path / "h.sqlite").exists()


@pytest.mark.parametrize(("command", "variable", "named"), [
    (["run", "--data", SAMPLE_DATA], "OCRTUNE_TRIAL_TIMEOUT_S",
     "Invalid value for '--trial-timeout' (from OCRTUNE_TRIAL_TIMEOUT_S): 'abc'"),
    (["run", "--data", SAMPLE_DATA], "OCRTUNE_MAX_EVALS",
     "Invalid value for '--max-evals' (from OCRTUNE_MAX_EVALS): 'abc'"),
    (["status"], "OCRTUNE_MAX_EVALS",
     "Invalid value for '--max-evals' (from OCRTUNE_MAX_EVALS): 'abc'"),
    (["worker", "--mongo", NOWHERE], "OCRTUNE_POLL_INTERVAL_S",
     "Invalid value for '--poll-interval' (from OCRTUNE_POLL_INTERVAL_S): 'abc'"),
])
def test_a_bad_value_from_the_environment_is_refused_naming_the_variable(
        command: list[str], variable: str, named: str, tmp_path: Path) -> None:
    program = worker.cli.cli if command[0] == "worker" else coordinator_cli
    args = command[1:] if command[0] == "worker" else [
        *command, "--history", str(tmp_path / "h.sqlite")]
    if command[0] == "run" and variable != "OCRTUNE_MAX_EVALS":
        args += ["--max-evals", "1"]

    env: dict[str, str | None] = {key: None for key in os.environ
                                  if key.startswith("OCRTUNE_")}
    result = CliRunner(env={**env, variable: "abc"}).invoke(program, args)

    assert result.exit_code == USAGE_ERROR, result.output
    assert named in result.output


@pytest.mark.parametrize("command", [["status"], ["history"], ["worker"],
                                     ["run", "--data", SAMPLE_DATA, "--max-evals", "1"]])
def test_a_malformed_uri_from_the_environment_names_the_variable_and_no_password(
        command: list[str]) -> None:
    program = worker.cli.cli if command == ["worker"] else coordinator_cli
    args = [] if command == ["worker"] else command
    env: dict[str, str | None] = {key: None for key in os.environ
                                  if key.startswith("OCRTUNE_")}

    result = CliRunner(env={**env, "OCRTUNE_MONGO": "mongodb://alice:pw-9xq@db:99999"}
                       ).invoke(program, args)

    assert result.exit_code == USAGE_ERROR, result.output
    assert "Invalid value for '--mongo' (from OCRTUNE_MONGO): invalid MongoDB URI " \
        "'mongodb://alice:***@db:99999'" in result.output
    assert "pw-9xq" not in result.output


def test_a_bad_value_typed_on_the_command_line_names_the_option_alone(tmp_path: Path) -> None:
    result = invoke(coordinator_cli, ["run", "--data", SAMPLE_DATA, "--max-evals", "abc",
                                      "--history", str(tmp_path / "h.sqlite")])

    assert result.exit_code == USAGE_ERROR
    assert "Invalid value for '--max-evals': 'abc'" in result.output


@pytest.mark.parametrize("key", ["", " ", "\t "])
@pytest.mark.parametrize("command", [
    ["run", "--data", SAMPLE_DATA, "--max-evals", "1"], ["status"], ["history"], ["best"],
    ["plot", "--out", "loss.png"], ["report", "--out", "report.html"], ["worker"]])
def test_an_empty_or_blank_experiment_key_is_a_usage_error_naming_the_option(
        command: list[str], key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a command of either program, run with an --exp-key that names nothing (a worker
    # that got past its options would retry the unreachable database for ever)
    monkeypatch.setattr(worker.cli, "retry_unavailable",
                        lambda *_args, **_kwargs: pytest.fail("the worker reached for MongoDB"))
    history = tmp_path / "h.sqlite"
    if command == ["worker"]:
        args, program = ["--mongo", NOWHERE, "--exp-key", key], worker.cli.cli
    else:
        args, program = [*command, "--history", str(history), "--exp-key", key], coordinator_cli

    # When it starts
    result = invoke(program, args)

    # Then it stops before doing anything, naming the option, the value and the fix
    assert result.exit_code == USAGE_ERROR
    assert (f"Invalid value for '--exp-key': {key!r} names no experiment; give the "
            "experiment's name, e.g. --exp-key ocr-data") in result.output
    assert not history.exists()


def test_a_language_that_is_not_a_tesseract_code_is_refused_before_any_trial(
        tmp_path: Path) -> None:
    result = invoke(coordinator_cli, ["run", "--data", SAMPLE_DATA, "--max-evals", "1",
                                      "--history", str(tmp_path / "h.sqlite"),
                                      "--lang", "eng;rm -rf ~"])

    assert result.exit_code == 1
    assert "OCR language 'eng;rm -rf ~' is not a Tesseract language code" in result.output
    assert not (tmp_path / "h.sqlite").exists()


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("announce_interval_s", 0.0, "announce_interval_s=0.0 must be > 0 seconds"),
    ("objective_retry_s", -1.0, "objective_retry_s=-1.0 must be > 0 seconds"),
    ("experiments_refresh_s", -1.0, "experiments_refresh_s=-1.0 must be >= 0 seconds"),
    ("objective_retries", 0, "objective_retries=0 must be at least 1, or None"),
])
def test_a_worker_setting_out_of_range_is_refused_naming_it(setting: str, value: float,
                                                            message: str) -> None:
    # Given a worker setting that would make a thread spin or a count meaningless
    # When the settings are made / Then they are refused, naming the setting and its bound
    with pytest.raises(ConfigError, match=re.escape(message)):
        WorkerSettings(**{setting: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(("command", "name", "written_as", "fix"), [
    ("plot", "x.jpg", ".png", "name the file x.png"),
    ("plot", "loss.svg", ".png", "name the file loss.png"),
    ("plot", "loss", ".png", "name the file loss.png"),
    ("report", "r.png", ".html or .htm", "name the file r.html"),
    ("report", "report", ".html or .htm", "name the file report.html"),
])
def test_an_out_file_named_for_another_format_is_a_usage_error_and_writes_nothing(
        tmp_path: Path, command: str, name: str, written_as: str, fix: str) -> None:
    # Given an --out path whose name says another format than the one the command writes
    out = tmp_path / name

    # When the command is asked for it
    result = invoke(coordinator_cli, [command, "--history", str(tmp_path / "h.sqlite"),
                                      "--out", str(out)])

    # Then it is refused before the history is opened, naming the option, the file and the fix
    assert result.exit_code == USAGE_ERROR
    assert f"Invalid value for '--out': {out} does not end in {written_as}" in result.output
    assert fix in result.output
    assert not out.exists() and not (tmp_path / "h.sqlite").exists()
