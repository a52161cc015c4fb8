"""Why a worker refuses an experiment, as its log line reads: each sentence ends once."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from sklearn.datasets import load_iris

from shared.dataset import load_dataset
from shared.errors import DatasetError, ObjectiveError
from shared.objective import check_compatible
from shared.ocr_objective import OCR_OBJECTIVE, ocr_spec
from shared.sklearn_objective import SKLEARN_OBJECTIVE, sklearn_spec
from shared.store.sqlite import SqliteTrialStore
from tests.conftest import MakeDataset
from worker.catalogue import ExperimentCatalogue

SERVED_ON = "Other experiments are still served."


def refusal_logged(reason: ObjectiveError, tmp_path: Path,
                   caplog: pytest.LogCaptureFixture) -> str:
    """The line a worker serving every experiment logs when it refuses 'exp' for ``reason``."""
    with SqliteTrialStore(tmp_path / "history.sqlite") as store:
        catalogue = ExperimentCatalogue(store, exp_key=None, refresh_s=60.0, retry_after_s=1.0)
        with caplog.at_level(logging.ERROR, logger="worker"):
            catalogue.refuse("exp", str(reason))
    (line,) = caplog.messages
    return line


def write_iris(path: Path, rows: int) -> Path:
    iris = load_iris()
    lines = ["a,b,c,d,species"] + [
        ",".join([*map(str, iris.data[i]), str(iris.target_names[iris.target[i]])])
        for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_dataset_that_changed_is_refused_in_one_line_with_each_sentence_ended_once(
        make_dataset: MakeDataset, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Given an OCR experiment whose dataset is then edited on this worker
    folder = make_dataset({"first": "The quick brown fox"})
    spec = ocr_spec(folder)
    (folder / "texts" / "first.txt").write_text("edited\n", encoding="utf-8")
    with pytest.raises(ObjectiveError) as caught:
        OCR_OBJECTIVE.load(spec)

    # When the worker refuses the experiment for that reason
    line = refusal_logged(caught.value, tmp_path, caplog)

    # Then the line names both fingerprints and the fix, with no doubled full stop
    here = load_dataset(folder).fingerprint
    assert line == (f"Refusing the trials of experiment 'exp': the dataset in {folder.resolve()} "
                    f"has fingerprint {here}, but the experiment's has {spec.fingerprint}: its "
                    "files differ. Point this worker at a copy of the experiment's dataset, or "
                    f"start a new experiment for this one. {SERVED_ON}")


def test_a_csv_file_that_changed_is_refused_with_each_sentence_ended_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_iris(tmp_path / "flowers.csv", 150)
    spec = sklearn_spec(str(path), "species")
    write_iris(path, 149)
    with pytest.raises(ObjectiveError) as caught:
        SKLEARN_OBJECTIVE.load(spec)

    line = refusal_logged(caught.value, tmp_path, caplog)

    assert line.endswith(f"Point this worker at a copy of the experiment's file. {SERVED_ON}")
    assert ".." not in line


def test_an_experiment_of_another_version_is_refused_with_each_sentence_ended_once(
        make_dataset: MakeDataset, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spec = dataclasses.replace(ocr_spec(make_dataset({"first": "text"})),
                               version="ocr-objective-0")
    with pytest.raises(ObjectiveError) as caught:
        check_compatible(spec)

    line = refusal_logged(caught.value, tmp_path, caplog)

    assert line.endswith(f"built from the same release as the coordinator. {SERVED_ON}")
    assert ".." not in line


@pytest.mark.parametrize(("target", "rows", "edit"), [
    ("kind", 150, None),  # no such column
    ("species", 150, "a,b,c,d,species\n,1,2,3,setosa\n"),  # an empty cell
    ("species", 3, None),  # one class only
    ("species", 53, None),  # too few rows of a class to cross-validate
])
def test_a_bad_csv_file_is_refused_with_no_sentence_left_for_the_caller_to_end(
        tmp_path: Path, target: str, rows: int, edit: str | None) -> None:
    # Given a CSV file a worker or coordinator cannot use
    path = write_iris(tmp_path / "flowers.csv", rows)
    if edit is not None:
        path.write_text(edit + path.read_text(encoding="utf-8").split("\n", 1)[1],
                        encoding="utf-8")

    # When it is read / Then the reason ends open, as the callers that quote it expect
    with pytest.raises(DatasetError) as caught:
        sklearn_spec(str(path), target)
    assert not str(caught.value).endswith(".")
