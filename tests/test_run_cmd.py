"""`coordinator run` through click's CliRunner: objectives, resume, and user errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import pytest
from click.testing import CliRunner

from coordinator.cli import cli
from coordinator.run import RunRequest
from shared.errors import OcrTuneError
from tests.fakes.quadratic import quadratic_spec
from tests.fakes.quadratic import register as register_quadratic

SAMPLE = Path(__file__).resolve().parents[1] / "data"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--log-level", "WARNING", "run", *args])
    return result.exit_code, result.output


def test_the_sklearn_objective_runs_on_iris_and_reports_pipeline_and_held_out_accuracy(
        tmp_path: Path) -> None:
    code, output = run("--objective", "sklearn", "--dataset", "iris", "--max-evals", "6",
                       "--history", str(tmp_path / "h.sqlite"))

    assert code == 0, output
    assert "Experiment sklearn-iris: 6 trials finished" in output
    assert "Pipeline: " in output and ") -> " in output
    assert "Held-out accuracy: " in output


@pytest.mark.parametrize(("args", "refusal"), [
    (["--objective", "sklearn", "--dataset", "iris", "--data", str(SAMPLE)],
     "--data is a folder of images for the OCR objective; --objective sklearn reads "
     "--dataset"),
    (["--data", str(SAMPLE), "--dataset", "iris"],
     "--dataset and --target are for --objective sklearn"),
    (["--data", str(SAMPLE), "--target", "species"],
     "--dataset and --target are for --objective sklearn"),
])
def test_an_option_of_the_other_objective_is_a_usage_error_not_ignored(
        tmp_path: Path, args: list[str], refusal: str) -> None:
    code, output = run(*args, "--max-evals", "3", "--history", str(tmp_path / "h.sqlite"))

    assert code == 2, output
    assert refusal in output
    assert not (tmp_path / "h.sqlite").exists()


def test_the_data_variable_set_for_ocr_leaves_an_sklearn_run_and_its_name_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given OCRTUNE_DATA, as a deployment's file sets it for OCR runs
    monkeypatch.setenv("OCRTUNE_DATA", str(SAMPLE))

    # When an sklearn run starts / Then it runs, named after its dataset, not the folder
    code, output = run("--objective", "sklearn", "--dataset", "iris", "--max-evals", "2",
                       "--history", str(tmp_path / "h.sqlite"))
    assert code == 0, output
    assert "Experiment sklearn-iris: 2 trials finished" in output


def test_an_ocr_run_without_data_says_which_option_is_missing(tmp_path: Path) -> None:
    code, output = run("--max-evals", "3", "--history", str(tmp_path / "h.sqlite"))

    assert code == 1
    assert "--data DIR" in output
    assert "Traceback" not in output


def test_a_missing_data_folder_is_refused_before_any_trial_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    code, output = run("--data", str(missing), "--max-evals", "3",
                       "--history", str(tmp_path / "h.sqlite"))

    assert code == 1
    assert str(missing) in output
    assert "Traceback" not in output


def test_a_file_given_as_data_is_refused_like_a_missing_folder_with_the_fix(
        tmp_path: Path) -> None:
    text = tmp_path / "page.txt"
    text.write_text("Some words.", encoding="utf-8")

    code, output = run("--data", str(text), "--max-evals", "3",
                       "--history", str(tmp_path / "h.sqlite"))

    assert code == 1
    assert f"{text} is a file, not a folder" in output
    assert "images/ and texts/" in output
    assert not (tmp_path / "h.sqlite").exists()


def test_resuming_an_experiment_on_other_data_is_refused_saying_what_differs(
        tmp_path: Path) -> None:
    history = str(tmp_path / "h.sqlite")
    assert run("--objective", "sklearn", "--dataset", "iris", "--max-evals", "2",
               "--history", history, "--exp-key", "shared-key")[0] == 0
    other = tmp_path / "other"
    (other / "images").mkdir(parents=True)
    (other / "texts").mkdir()
    for image in (SAMPLE / "images").iterdir():
        (other / "images" / image.name).write_bytes(image.read_bytes())
        text = SAMPLE / "texts" / f"{image.stem}.txt"
        (other / "texts" / text.name).write_bytes(text.read_bytes())

    code, output = run("--data", str(other), "--max-evals", "3", "--history", history,
                       "--exp-key", "shared-key")

    assert code == 1
    assert "name: 'sklearn' != 'ocr'" in output
    assert "fingerprint" in output


def test_a_finished_run_prints_the_best_parameters_as_plain_json(tmp_path: Path) -> None:
    code, output = run("--objective", "sklearn", "--dataset", "iris", "--max-evals", "3",
                       "--history", str(tmp_path / "h.sqlite"))

    assert code == 0, output
    start = output.index("{")
    end = output.index("Pipeline:")
    params = json.loads(output[start:end])
    assert set(params) == {"preprocessing", "classifier"}
    assert isinstance(params["classifier"]["kind"], str)


def test_the_command_line_knows_the_sklearn_objective_by_its_registered_name() -> None:
    from coordinator.model_summary import SKLEARN_NAME
    from shared.sklearn_objective import OBJECTIVE_NAME

    assert SKLEARN_NAME == OBJECTIVE_NAME


def test_a_local_run_whose_trials_all_fail_exits_non_zero_saying_why_its_worker_stopped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a run whose objective fails every trial (the test objective, standing in for
    # OCR trials that all time out)
    register_quadratic()
    monkeypatch.setattr("coordinator.run.objective_spec",
                        lambda _request: quadratic_spec(fail_all=True))

    # When it is asked for 50 trials
    code, output = run("--data", str(SAMPLE), "--max-evals", "50",
                       "--history", str(tmp_path / "h.sqlite"))

    # Then it ends, exit 1, with one message saying why and how to go on, and no traceback
    assert code == 1, output
    history = tmp_path / "h.sqlite"
    assert ("Error: the local worker stopped before --max-evals was reached: its trials "
            "failed 5 times in a row; the last error (trial 4): this objective fails every "
            "trial on purpose; see every failed trial with `python -m coordinator history "
            f"--exp-key ocr-data --state error --history {history}`; fix the cause and run "
            "the same command again to resume") in output
    assert "Traceback" not in output


def test_a_local_run_stops_at_the_failure_limit_it_is_given(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a run whose objective fails every trial, with a limit of 2 failures in a row
    register_quadratic()
    monkeypatch.setattr("coordinator.run.objective_spec",
                        lambda _request: quadratic_spec(fail_all=True))

    # When it is asked for 50 trials
    code, output = run("--data", str(SAMPLE), "--max-evals", "50", "--history",
                       str(tmp_path / "h.sqlite"), "--max-consecutive-failures", "2")

    # Then its worker stops after the second, saying so
    assert code == 1, output
    assert "its trials failed 2 times in a row; the last error (trial 1)" in output


@pytest.mark.parametrize(("option", "value", "instead"), [
    ("--workers", "4", "start `python -m worker` once per core on each machine instead"),
    ("--trial-timeout", "30", "`python -m worker --trial-timeout S`"),
    ("--max-consecutive-failures", "2", "`python -m worker --max-consecutive-failures N`"),
])
def test_a_local_run_option_with_mongo_is_a_usage_error_saying_what_to_do_instead(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str, value: str,
        instead: str) -> None:
    # Given a run on MongoDB (nothing listens there: the check comes before connecting),
    # started in a folder of its own, where a local run would create runs/
    mongo = "mongodb://127.0.0.1:9/ocrtune"
    monkeypatch.chdir(tmp_path)

    # When it is given an option only a local run reads
    code, output = run("--data", str(SAMPLE), "--max-evals", "3", "--mongo", mongo,
                       option, value)

    # Then it is refused as a usage error naming the option and what to use instead
    assert code == 2, output
    assert f"{option} is a local-run option and does nothing with --mongo" in output
    assert instead in output
    assert "Traceback" not in output
    assert list(tmp_path.iterdir()) == []


def test_the_workers_variable_with_mongo_is_refused_but_the_shared_worker_limits_are_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the variables of the limits that workers started from the same shell also read
    monkeypatch.setenv("OCRTUNE_TRIAL_TIMEOUT_S", "30")
    monkeypatch.setenv("OCRTUNE_MAX_CONSECUTIVE_FAILURES", "2")
    monkeypatch.setattr("coordinator.run.run_experiment", _search_reached)

    # When a run on MongoDB starts, once with OCRTUNE_WORKERS set too
    mongo = "mongodb://db.example:27017/ocrtune"
    monkeypatch.setenv("OCRTUNE_WORKERS", "4")
    refused, refusal = run("--data", str(SAMPLE), "--max-evals", "3", "--mongo", mongo)
    monkeypatch.delenv("OCRTUNE_WORKERS")
    accepted, acceptance = run("--data", str(SAMPLE), "--max-evals", "3", "--mongo", mongo)

    # Then only the worker count is refused, naming the variable it came from; the shared
    # limits reach the search
    assert refused == 2
    assert ("OCRTUNE_WORKERS (the variable of --workers) is a local-run option and does "
            "nothing with --mongo") in refusal
    assert accepted == 1
    assert f"the search was reached on {mongo}" in acceptance


def _search_reached(request: RunRequest, *_args: object, **_kwargs: object) -> NoReturn:
    raise OcrTuneError(f"the search was reached on {request.mongo}")
