"""``coordinator history``: the trials as a table, CSV or JSON lines, on both stores."""

from __future__ import annotations

import csv
import io
import json

import pytest

from coordinator.history_table import flatten, history_rows, param_columns
from shared.jsontypes import JsonObject
from shared.store.mongo import MongoTrialStore
from shared.store.uri import MongoTarget
from shared.trials import Trial, TrialResult, TrialState
from tests.real_history import (
    EMPTY_KEY,
    EVALUATED,
    EXP_KEY,
    WORKER_ID,
    RealHistory,
    evaluated_results,
    fill,
    invoke,
    mongo_uri,
    real_history,
)


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory) -> RealHistory:
    return real_history(tmp_path_factory)


def done(tid: int, loss: float, params: JsonObject | None = None) -> Trial:
    return Trial("exp", tid, TrialState.DONE, params or {}, {}, result=TrialResult.ok(loss))


# -- rows and columns -----------------------------------------------------------------


def test_nested_parameters_flatten_to_dotted_paths_and_a_null_section_stays_one_entry(
        ) -> None:
    params = {"resize": {"glyph_height_px": 20}, "binarise": None, "erode_kernel": 3}

    assert flatten(params) == {"resize.glyph_height_px": 20, "binarise": None,
                               "erode_kernel": 3}


def test_a_section_that_is_null_in_one_trial_and_set_in_another_has_only_its_fields_as_columns(
        ) -> None:
    # Given one trial without binarisation and one with it
    rows = history_rows([
        done(0, 1.0, {"binarise": None, "erode_kernel": None}),
        done(1, 2.0, {"binarise": {"method": "mean", "c": 9}, "erode_kernel": 3})])

    # When the columns are worked out
    columns = param_columns(rows)

    # Then "binarise" itself is no column; the null erode kernel is one
    assert columns == ["binarise.c", "binarise.method", "erode_kernel"]


def test_best_n_keeps_the_lowest_losses_best_first_and_leaves_out_trials_without_one(
        ) -> None:
    trials = [done(0, 3.0), done(1, 1.0), Trial("exp", 2, TrialState.ERROR, {}, {},
                                                result=TrialResult.failed("x")),
              done(3, 2.0), done(4, 1.0)]

    rows = history_rows(trials, best=3)

    assert [row.tid for row in rows] == [1, 4, 3]


# -- the command on the real history ----------------------------------------------------


@pytest.mark.slow
def test_the_table_lists_every_trial_with_its_state_loss_and_parameters(
        real: RealHistory) -> None:
    result = invoke("history", "--history", real.path, "--exp-key", EXP_KEY)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # Parameter headers take two lines: the section above the name
    assert "binarise" in lines[0] and "method" in lines[1]
    assert "resize" in lines[0] and "glyph_height_px" in lines[1]
    assert "denoise" not in lines[0]  # empty in every trial, so left out of the table
    body = {int(line.split()[0]): line for line in lines[3:]}
    assert sorted(body) == list(range(7))
    assert f"{real.results[3].loss:.4f}" in body[3] and "mean" in body[3]
    assert "error" in body[2] and "bad parameters" in body[2]
    assert body[5].split()[1] == "running" and WORKER_ID in body[5]


@pytest.mark.slow
def test_csv_has_one_column_per_parameter_path_and_the_full_error(real: RealHistory) -> None:
    result = invoke("history", "--history", real.path, "--exp-key", EXP_KEY,
                    "--format", "csv")

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["tid"] for row in rows] == [str(tid) for tid in range(7)]
    assert rows[3]["binarise.method"] == "mean"
    assert rows[3]["binarise.block_size"] == "15"
    assert rows[0]["binarise.method"] == ""  # trial 0 does not binarise
    assert float(rows[3]["loss"]) == real.results[3].loss
    assert rows[2]["error"] == real.results[2].error
    assert rows[4]["reused_from"] == "0"


@pytest.mark.slow
def test_json_lines_keep_the_parameters_nested_as_stored(real: RealHistory) -> None:
    result = invoke("history", "--history", real.path, "--exp-key", EXP_KEY,
                    "--format", "jsonl", "--state", "done")

    assert result.exit_code == 0, result.output
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [doc["tid"] for doc in docs] == [0, 1, 3, 4]
    assert docs[2]["params"] == EVALUATED[3]
    assert docs[2]["state"] == "done" and docs[2]["worker"] == WORKER_ID
    assert docs[2]["start"].endswith("+00:00")


@pytest.mark.slow
def test_best_lists_the_n_lowest_losses_best_first(real: RealHistory) -> None:
    result = invoke("history", "--history", real.path, "--exp-key", EXP_KEY,
                    "--format", "jsonl", "--best", "2")

    assert [json.loads(line)["tid"] for line in result.stdout.splitlines()] == [3, 1]


@pytest.mark.slow
def test_the_state_filter_shows_only_that_state(real: RealHistory) -> None:
    result = invoke("history", "--history", real.path, "--exp-key", EXP_KEY,
                    "--format", "jsonl", "--state", "error")

    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(doc["tid"], doc["error"]) for doc in docs] == [(2, real.results[2].error)]


@pytest.mark.slow
def test_best_with_a_state_that_has_no_losses_is_a_usage_error(real: RealHistory) -> None:
    result = invoke("history", "--history", real.path, "--exp-key", EXP_KEY,
                    "--best", "2", "--state", "error")

    assert result.exit_code == 2
    assert "--best ranks trials by loss" in result.output


@pytest.mark.slow
def test_an_experiment_without_trials_is_an_error_saying_how_to_start(
        real: RealHistory) -> None:
    result = invoke("history", "--history", real.path, "--exp-key", EMPTY_KEY)

    assert result.exit_code == 1
    assert f"experiment {EMPTY_KEY!r} has no trials yet" in result.output


@pytest.mark.slow
def test_without_exp_key_a_store_of_several_experiments_asks_for_one(
        real: RealHistory) -> None:
    result = invoke("history", "--history", real.path)

    assert result.exit_code == 1
    assert "choose one with --exp-key" in result.output
    assert EXP_KEY in result.output


@pytest.mark.slow
def test_an_unknown_experiment_is_an_error(real: RealHistory) -> None:
    result = invoke("history", "--history", real.path, "--exp-key", "nope")

    assert result.exit_code == 1
    assert "no experiment 'nope'" in result.output


def test_an_unreachable_database_is_an_error_not_a_traceback() -> None:
    result = invoke("history", "--mongo", "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300",
                    "--exp-key", EXP_KEY)

    assert result.exit_code == 1
    assert "could not be reached" in result.output


# -- the command on MongoDB -----------------------------------------------------------------


@pytest.mark.slow
def test_mongodb_gives_the_same_history_as_the_sqlite_file(
        real: RealHistory, mongo_target: MongoTarget) -> None:
    # Given the same trials in MongoDB as in the history file
    with MongoTrialStore(mongo_target) as store:
        fill(store, evaluated_results())

    # When both are listed as JSON lines
    from_mongo = invoke("history", "--mongo", mongo_uri(mongo_target), "--exp-key", EXP_KEY,
                        "--format", "jsonl")
    from_sqlite = invoke("history", "--history", real.path, "--exp-key", EXP_KEY,
                         "--format", "jsonl")

    # Then they agree on everything but the times the trials were recorded at
    assert from_mongo.exit_code == 0, from_mongo.output
    timeless = ("start", "end")

    def comparable(output: str) -> list[dict[str, object]]:
        return [{k: v for k, v in json.loads(line).items() if k not in timeless}
                for line in output.splitlines()]

    assert comparable(from_mongo.stdout) == comparable(from_sqlite.stdout)
