"""`coordinator run` through click's CliRunner: objectives, resume, and user errors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from coordinator.cli import cli

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
