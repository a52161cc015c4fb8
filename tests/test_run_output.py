"""What `coordinator run` prints at the end of an OCR search: finished, and stopped early."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import coordinator.run
from coordinator.cli import cli
from coordinator.run import RunResult
from coordinator.search import SearchOutcome, SearchSnapshot
from shared.params import PipelineParams
from shared.store.sqlite import SqliteTrialStore
from shared.trials import Experiment, Trial, TrialResult, TrialState
from tests.conftest import MakeDataset
from tests.fakes.quadratic import quadratic_spec

TEXTS = {"fox": "The quick brown fox", "dog": "jumps over the lazy dog"}
STEPS = {"resize", "binarise", "denoise", "erode_kernel", "dilate_kernel"}


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["--log-level", "WARNING", "run", *args])


def printed_params(stdout: str) -> object:
    start = stdout.index("parameters:\n") + len("parameters:\n")
    end = stdout.index("\n\n", start) if "\n\n" in stdout[start:] else len(stdout)
    return json.loads(stdout[start:end])


def table_rows(stdout: str) -> dict[str, list[float]]:
    """The per-image table's rows after its header and rule, by first cell."""
    rows = {}
    for line in stdout[stdout.index("Per image"):].splitlines()[3:]:
        total = line.startswith("total loss")
        name, *cells = ["total loss", *line.split()[2:]] if total else line.split()
        rows[name] = [float(cell) for cell in cells]
    return rows


def test_a_finished_ocr_run_prints_plain_parameters_and_a_row_per_image_and_the_total(
        tmp_path: Path, make_dataset: MakeDataset) -> None:
    # Given a dataset of two images
    data = make_dataset(TEXTS)
    history = tmp_path / "h.sqlite"

    # When a short search runs to its end
    result = run("--data", str(data), "--max-evals", "3", "--history", str(history))

    # Then the best parameters are the stored trial's plain JSON, with no choice indices
    assert result.exit_code == 0, result.output
    params = printed_params(result.stdout)
    best = min((t for t in SqliteTrialStore(history).trials("ocr-dataset")
                if t.loss is not None), key=lambda t: (t.loss, t.tid))
    assert params == best.params
    assert isinstance(params, dict) and set(params) == STEPS
    assert all(params[step] is None or isinstance(params[step], dict)
               for step in ("binarise", "denoise"))
    PipelineParams.from_json(params)
    # And the table has a row per image, raw and best similarity in [0, 1], and a total
    # loss row whose best column is the search's best loss
    rows = table_rows(result.stdout)
    assert set(rows) == {*TEXTS, "total loss"}
    for name in TEXTS:
        similarity_raw, similarity_best = rows[name][:2]
        assert len(rows[name]) == 7
        assert 0 <= similarity_raw <= 1 and 0 <= similarity_best <= 1
    loss_raw, loss_best, _change = rows["total loss"]
    assert loss_raw == pytest.approx(sum(1 - rows[n][0] for n in TEXTS), abs=0.002)
    assert best.loss is not None and loss_best == pytest.approx(best.loss, abs=0.002)


def test_a_dataset_changed_during_the_run_leaves_the_table_out_saying_so(
        tmp_path: Path, make_dataset: MakeDataset, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a search during which one of its texts is edited
    data = make_dataset(TEXTS)
    history = tmp_path / "h.sqlite"
    search = coordinator.run.run_experiment

    def search_then_edit(*args: Any, **kwargs: Any) -> RunResult:
        result = search(*args, **kwargs)
        with (data / "texts" / "fox.txt").open("a", encoding="utf-8") as text:
            text.write(" jumps")
        return result

    monkeypatch.setattr("coordinator.run.run_experiment", search_then_edit)

    # When it runs to its end
    result = run("--data", str(data), "--max-evals", "2", "--history", str(history))

    # Then it shows the best, but no table scored on other data, and says why and what
    # shows the table instead
    assert result.exit_code == 0, result.output
    assert "Best loss" in result.stdout
    assert "Per image" not in result.stdout
    assert (f"Warning: the per-image table is left out: the dataset in {data} differs from "
            "experiment 'ocr-dataset'") in result.stderr
    assert (f"`python -m coordinator best --exp-key ocr-dataset --data-dir DIR --history "
            f"{history}` shows the table") in result.stderr


def test_a_run_stopped_before_max_evals_prints_the_best_so_far_without_reading_images_again(
        tmp_path: Path, make_dataset: MakeDataset, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a search that has finished one trial
    data = make_dataset(TEXTS)
    history = tmp_path / "h.sqlite"
    assert run("--data", str(data), "--max-evals", "1", "--history", str(history)
               ).exit_code == 0
    # ... and a stop requested (as by Ctrl-C) as soon as it resumes
    stopped = threading.Event()
    stopped.set()
    monkeypatch.setattr("coordinator.cli.stop_on_signals", lambda _what: stopped)
    monkeypatch.setattr("coordinator.cli.compare_best", _no_comparison)

    # When it is resumed for ten trials
    result = run("--data", str(data), "--max-evals", "10", "--history", str(history))

    # Then it exits 130 with the best so far, skips the per-image comparison, and says how
    # to get that comparison and how to resume
    assert result.exit_code == 130, result.output
    assert printed_params(result.stdout) == SqliteTrialStore(history).trials(
        "ocr-dataset")[0].params
    assert "Per image" not in result.stdout
    assert ("Stopped before --max-evals (1 of 10 trials finished); the same command resumes "
            "the search.") in result.stderr
    assert (f"python -m coordinator best --exp-key ocr-dataset --history {history}"
            in result.stderr)


URI = "mongodb://alice:s3cret-pw@db.example:27017/trials?authSource=admin"


def stopped_run(*_args: object, **_kwargs: object) -> RunResult:
    """What run_experiment returns for a search stopped after one trial of ten."""
    best = Trial("ocr-photos", 0, TrialState.DONE, {"resize": {"glyph_height_px": 12}}, {},
                 result=TrialResult.ok(0.25))
    snapshot = SearchSnapshot(max_evals=10, finished=1, failed=0, running=0, queued=1,
                              reused=0, live_workers=1, best_loss=0.25)
    return RunResult(Experiment(exp_key="ocr-photos", objective=quadratic_spec()),
                     SearchOutcome(snapshot=snapshot, best=best, completed=False))


@pytest.mark.parametrize(("args", "env", "command"), [
    (["--mongo", URI], {}, "python -m coordinator best --exp-key ocr-photos --mongo <your URI>"),
    ([], {"OCRTUNE_MONGO": URI}, "python -m coordinator best --exp-key ocr-photos"),
    (["--mongo", "mongodb://db.example:27017/trials?tls=true"], {},
     "python -m coordinator best --exp-key ocr-photos --mongo "
     "'mongodb://db.example:27017/trials?tls=true'"),
])
def test_a_stopped_mongodb_run_prints_a_best_command_that_can_be_run_without_the_password(
        args: list[str], env: dict[str, str], command: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a search on MongoDB that stops after one trial of ten
    monkeypatch.setattr("coordinator.run.run_experiment", stopped_run)

    # When it is run with the URI on the command line, or in OCRTUNE_MONGO
    result = CliRunner().invoke(cli, ["--log-level", "WARNING", "run", "--objective",
                                      "sklearn", "--dataset", "iris", "--max-evals", "10",
                                      *args], env=env)

    # Then the best command asks for a URI with a password, gives one without, or leaves
    # it to the variable `best` reads too; it never holds the password, nor a redacted
    # URI that could not log in
    assert result.exit_code == 130, result.output
    assert result.stderr.rstrip().endswith(f"The best so far, scored again:\n  {command}")
    assert "s3cret-pw" not in result.output
    assert "***" not in result.output


def _no_comparison(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("a stopped run read the images again")


@pytest.mark.slow
def test_a_short_search_on_the_real_photos_reads_them_better_than_no_preprocessing(
        tmp_path: Path, photos_dir: Path) -> None:
    # Given the real photographs and their true texts (OCRTUNE_PHOTOS)
    history = tmp_path / "photos.sqlite"

    # When the main job runs a few trials on them
    result = run("--data", str(photos_dir), "--max-evals", "8", "--workers", "2",
                 "--history", str(history))

    # Then the best pipeline's total loss is below the loss of the photos as they are
    assert result.exit_code == 0, result.output
    loss_raw, loss_best, change = table_rows(result.stdout)["total loss"]
    assert loss_best < loss_raw
    assert change == pytest.approx(loss_raw - loss_best, abs=0.002)
