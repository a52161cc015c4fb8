"""`coordinator run` through click's CliRunner: objectives, resume, and user errors."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import NoReturn

import pytest
from click.testing import CliRunner
from sklearn.datasets import load_iris

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
    other = copy_sample(tmp_path / "other")

    code, output = run("--data", str(other), "--max-evals", "3", "--history", history,
                       "--exp-key", "shared-key")

    assert code == 1
    assert "name: 'sklearn' != 'ocr'" in output
    assert "fingerprint: the data's files differ" in output


def copy_sample(folder: Path, *, images: int | None = None) -> Path:
    """A copy of the sample dataset (its first ``images`` pairs) in ``folder``."""
    (folder / "images").mkdir(parents=True)
    (folder / "texts").mkdir()
    for image in sorted((SAMPLE / "images").iterdir())[:images]:
        (folder / "images" / image.name).write_bytes(image.read_bytes())
        text = SAMPLE / "texts" / f"{image.stem}.txt"
        (folder / "texts" / text.name).write_bytes(text.read_bytes())
    return folder


def test_a_search_resumes_on_its_dataset_moved_to_another_folder(tmp_path: Path) -> None:
    # Given an OCR search begun on a folder that was then moved
    history = str(tmp_path / "h.sqlite")
    first = copy_sample(tmp_path / "first", images=2)
    assert run("--data", str(first), "--max-evals", "1", "--history", history,
               "--exp-key", "moved")[0] == 0
    moved = first.rename(tmp_path / "moved")

    # When it is resumed on the new folder
    code, output = run("--data", str(moved), "--max-evals", "2", "--history", history,
                       "--exp-key", "moved")

    # Then its workers read the images there, the search goes on, and the best is scored
    # again there
    assert code == 0, output
    assert "Experiment moved: 2 trials finished, 0 failed" in output
    assert "Per image, read with no preprocessing (raw) and with the best:" in output


def test_an_sklearn_search_resumes_on_its_csv_file_moved_to_another_folder(
        tmp_path: Path) -> None:
    # Given a search begun on a CSV file that was then moved
    history = str(tmp_path / "h.sqlite")
    (tmp_path / "first").mkdir()
    csv = write_iris_csv(tmp_path / "first" / "flowers.csv")
    assert run("--objective", "sklearn", "--dataset", str(csv), "--target", "species",
               "--max-evals", "1", "--history", history)[0] == 0
    moved = csv.parent.rename(tmp_path / "moved") / csv.name

    # When it is resumed on the file where it is now / Then the search goes on
    code, output = run("--objective", "sklearn", "--dataset", str(moved), "--target",
                       "species", "--max-evals", "2", "--history", history)
    assert code == 0, output
    assert "Experiment sklearn-flowers: 2 trials finished, 0 failed" in output
    assert "Held-out accuracy: " in output


def write_iris_csv(path: Path) -> Path:
    bunch = load_iris()
    rows = [",".join([*map(str, features), str(bunch.target_names[label])])
            for features, label in zip(bunch.data, bunch.target, strict=True)]
    path.write_text("\n".join(["a,b,c,d,species", *rows]) + "\n", encoding="utf-8")
    return path


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


def test_ctrl_c_while_the_best_is_scored_again_ends_the_run_saying_the_trials_are_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a search that has ended and is scoring its best again, as Ctrl-C comes
    handler_before = signal.getsignal(signal.SIGINT)

    def ctrl_c(*_args: object, **_kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        pytest.fail("Ctrl-C did not stop the scoring")

    monkeypatch.setattr("coordinator.cli._print_scores", ctrl_c)

    # When the signal arrives
    code, output = run("--objective", "sklearn", "--dataset", "iris", "--max-evals", "2",
                       "--history", str(tmp_path / "h.sqlite"))

    # Then the program ends with the shell's code for it, saying how to see the result,
    # and leaves the signal's handler as it found it
    assert code == 130, output
    assert ("Interrupted; the trials are kept, and `python -m coordinator best --exp-key "
            "sklearn-iris --history") in output
    assert signal.getsignal(signal.SIGINT) is handler_before


@pytest.mark.parametrize(("dataset", "key"), [
    ("iris", "sklearn-iris"),
    ("measurements/flowers.csv", "sklearn-flowers"),
    ("measurements/iris.csv", "sklearn-iris.csv"),
])
def test_an_sklearn_experiment_is_named_after_its_dataset_apart_from_the_built_in_one(
        dataset: str, key: str) -> None:
    assert RunRequest(objective="sklearn", dataset=dataset).key == key


def test_ctrl_c_after_a_search_on_moved_data_points_best_at_where_the_data_is_now(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a search resumed on a dataset moved since it began
    history = str(tmp_path / "h.sqlite")
    first = copy_sample(tmp_path / "first", images=2)
    assert run("--data", str(first), "--max-evals", "1", "--history", history,
               "--exp-key", "moved")[0] == 0
    moved = first.rename(tmp_path / "moved")

    def ctrl_c(*_args: object, **_kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr("coordinator.cli._print_scores", ctrl_c)

    # When Ctrl-C comes as it scores the best again
    code, output = run("--data", str(moved), "--max-evals", "2", "--history", history,
                       "--exp-key", "moved")

    # Then the command it suggests reads the images where they are now
    assert code == 130, output
    assert f"best --exp-key moved --data-dir {moved} --history {history}`" in output
