"""``coordinator best``: the best parameters, the scores per image, and the saved file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from coordinator.best import NoResultError, best_trial
from coordinator.params_file import PARAMS_FORMAT, TunedParams, load_params
from shared.errors import ParamsError
from shared.store.sqlite import SqliteTrialStore
from shared.trials import Experiment, NewTrial, Trial, TrialResult, TrialState
from tests.conftest import MakeDataset
from tests.real_history import (
    BEST_TID,
    DATA_DIR,
    EMPTY_KEY,
    EVALUATED,
    EXP_KEY,
    FAILED_KEY,
    RealHistory,
    invoke,
    real_history,
    sample_spec,
)

SAMPLE_NAMES = ("austen_pride_and_prejudice", "bronte_jane_eyre", "carroll_alice",
                "dickens_tale_of_two_cities", "melville_moby_dick", "tolstoy_anna_karenina")


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory) -> RealHistory:
    return real_history(tmp_path_factory)


# -- the best trial ----------------------------------------------------------------------


def test_the_best_trial_is_the_lowest_loss_and_the_lowest_tid_among_equals() -> None:
    trials = [Trial("e", tid, TrialState.DONE, {}, {}, result=TrialResult.ok(loss))
              for tid, loss in ((0, 2.0), (1, 0.5), (2, 0.5), (3, 1.0))]

    assert best_trial("e", trials).tid == 1


@pytest.mark.parametrize(("states", "reason"), [
    ((), "has no trials yet"),
    ((TrialState.ERROR, TrialState.ERROR), "every one of the 2 trials"),
    ((TrialState.ERROR, TrialState.RUNNING, TrialState.NEW),
     r"2 pending, 1 failed\); see why trials failed with `python -m coordinator history "
     r"--exp-key e --state error`, and wait for the workers if any are still running"),
    ((TrialState.RUNNING, TrialState.NEW),
     r"2 pending, 0 failed\); wait for the workers, or check them with `python -m "
     r"coordinator status --exp-key e`"),
])
def test_without_a_scored_trial_the_error_says_why(states: tuple[TrialState, ...],
                                                    reason: str) -> None:
    trials = [Trial("e", tid, state, {}, {}, result=TrialResult.failed("x")
                    if state is TrialState.ERROR else None)
              for tid, state in enumerate(states)]

    with pytest.raises(NoResultError, match=reason):
        best_trial("e", trials)


# -- the parameters file ----------------------------------------------------------------


def test_a_bare_parameters_object_is_read_as_parameters_of_unknown_origin() -> None:
    tuned = TunedParams.from_json(dict(EVALUATED[3]))

    assert tuned.params == EVALUATED[3]
    assert (tuned.exp_key, tuned.tid, tuned.engine) == (None, None, None)


def test_the_file_format_round_trips() -> None:
    tuned = TunedParams(params=EVALUATED[1], exp_key="e", tid=4, loss=1.5, objective="ocr",
                        engine="tesserocr", lang="eng", tesseract_version="5.3.0")

    assert TunedParams.from_json(json.loads(json.dumps(tuned.to_json()))) == tuned


def test_parameters_out_of_range_are_refused_when_the_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"format": PARAMS_FORMAT, "params": dict(EVALUATED[2])}))

    with pytest.raises(ParamsError, match=r"p\.json.*glyph_height_px=99"):
        load_params(path)


def test_a_file_of_another_format_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"format": "ocr-tune-params/9", "params": dict(EVALUATED[0])}))

    with pytest.raises(ParamsError, match="ocr-tune-params/9"):
        load_params(path)


def test_parameters_of_an_experiment_of_another_objective_are_refused_naming_it() -> None:
    doc = {"format": PARAMS_FORMAT, "objective": "other", "exp_key": "e",
           "params": {"classifier": {"kind": "svc"}}}

    with pytest.raises(ParamsError, match=r"of an experiment of objective 'other' \('e'\), not"):
        TunedParams.from_json(doc)


def test_a_file_that_is_not_json_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("resize: 20")

    with pytest.raises(ParamsError, match=r"p\.json is not JSON"):
        load_params(path)


# -- the command on the real history ----------------------------------------------------


@pytest.mark.slow
def test_best_prints_the_parameters_and_each_images_scores_raw_and_with_them(
        real: RealHistory, tmp_path: Path) -> None:
    # Given the real history, where trial 3 has the lowest loss
    saved = tmp_path / "out" / "best.json"

    # When the best is asked for and saved
    result = invoke("best", "--history", real.path, "--exp-key", EXP_KEY, "--save", saved)

    # Then the trial, its parameters in plain form and every image's scores are shown
    assert result.exit_code == 0, result.output
    loss = real.results[BEST_TID].loss
    assert f"trial {BEST_TID}, loss {loss:.4f}" in result.stdout
    assert '"method": "mean"' in result.stdout
    assert "similarity raw" in result.stdout and "WER best" in result.stdout
    for name in SAMPLE_NAMES:
        assert name in result.stdout
    # The scores read again now are the search's: the total loss with the best is its loss.
    total = next(line for line in result.stdout.splitlines() if line.startswith("total"))
    assert f"{loss:.3f}" in total
    # And the file holds the parameters with where they came from
    tuned = load_params(saved)
    assert tuned.params == EVALUATED[BEST_TID]
    assert (tuned.exp_key, tuned.tid, tuned.loss) == (EXP_KEY, BEST_TID, loss)
    assert (tuned.objective, tuned.engine, tuned.lang) == ("ocr", "tesserocr", "eng")
    assert tuned.tesseract_version


@pytest.mark.slow
def test_best_of_an_experiment_whose_trials_all_failed_says_where_to_look(
        real: RealHistory) -> None:
    result = invoke("best", "--history", real.path, "--exp-key", FAILED_KEY)

    assert result.exit_code == 1
    assert "every one of the 2 trials" in result.output
    assert (f"`python -m coordinator history --exp-key {FAILED_KEY} --state error "
            f"--history {real.path}`") in result.output


@pytest.mark.slow
def test_best_of_an_experiment_without_trials_is_an_error(real: RealHistory) -> None:
    result = invoke("best", "--history", real.path, "--exp-key", EMPTY_KEY)

    assert result.exit_code == 1
    assert "has no trials yet" in result.output


@pytest.mark.slow
def test_best_of_an_unknown_experiment_is_an_error(real: RealHistory) -> None:
    result = invoke("best", "--history", real.path, "--exp-key", "nope")

    assert result.exit_code == 1
    assert "no experiment 'nope'" in result.output


@pytest.mark.slow
def test_best_refuses_a_data_dir_holding_another_dataset(
        real: RealHistory, make_dataset: MakeDataset) -> None:
    other = make_dataset({"one": "Some other words."})

    result = invoke("best", "--history", real.path, "--exp-key", EXP_KEY, "--data-dir", other)

    assert result.exit_code == 1
    assert f"the dataset in {other} differs from experiment" in result.output


@pytest.mark.slow
def test_best_refuses_a_file_as_data_dir_naming_it(real: RealHistory, tmp_path: Path) -> None:
    text = tmp_path / "page.txt"
    text.write_text("Some words.", encoding="utf-8")

    result = invoke("best", "--history", real.path, "--exp-key", EXP_KEY,
                    "--data-dir", str(text))

    assert result.exit_code == 1
    assert f"{text} is a file, not a folder" in result.output


def test_best_on_an_unreachable_database_is_an_error() -> None:
    result = invoke("best", "--mongo", "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300")

    assert result.exit_code == 1
    assert "could not be reached" in result.output


@pytest.mark.slow
def test_a_dataset_that_moved_is_found_again_with_data_dir(real: RealHistory,
                                                            tmp_path: Path) -> None:
    # Given an experiment recorded as searched on a folder that is not there any more
    spec = sample_spec()
    moved = replace(spec, settings={**spec.settings, "data_dir": str(tmp_path / "gone")})
    history = tmp_path / "moved.sqlite"
    with SqliteTrialStore(history) as store:
        store.ensure_experiment(Experiment(exp_key="moved", objective=moved))
        store.enqueue("moved", [NewTrial(0, EVALUATED[BEST_TID], {})])
        reserved = store.reserve("w", ["moved"])
        assert reserved is not None
        store.finish(reserved, real.results[BEST_TID])

    # When the best is asked for without and then with --data-dir
    lost = invoke("best", "--history", history)
    found = invoke("best", "--history", history, "--data-dir", DATA_DIR)

    # Then the first says where it looked and what to pass; the second compares the images
    assert lost.exit_code == 1
    assert str(tmp_path / "gone") in lost.output and "pass --data-dir" in lost.output
    assert found.exit_code == 0, found.output
    assert "total loss" in found.stdout


@pytest.mark.slow
def test_ctrl_c_in_best_exits_130_as_an_interrupted_program(
        real: RealHistory, tmp_path: Path) -> None:
    # Given `best` busy reading the images again, as a program of its own
    saved = tmp_path / "best.json"
    best = subprocess.Popen(
        [sys.executable, "-m", "coordinator", "best", "--history", str(real.path),
         "--exp-key", EXP_KEY, "--save", str(saved)],
        cwd=DATA_DIR.parent, stderr=subprocess.PIPE, text=True)
    assert best.stderr is not None
    for line in best.stderr:
        if "Read dataset" in line:
            break

    # When Ctrl-C reaches it
    best.send_signal(signal.SIGINT)
    _, rest = best.communicate(timeout=60)

    # Then it exits as a shell's interrupted program, without click's "Aborted!" or a
    # traceback, and the parameters it saved before scoring are whole
    assert best.returncode == 130, rest
    assert "Interrupted." in rest
    assert "Aborted" not in rest and "Traceback" not in rest
    assert load_params(saved).tid == BEST_TID
