"""Scores of OCR text against the truth, and the stored per-image record."""

import pytest

from shared.errors import ObjectiveError
from shared.scoring import (
    MAX_STORED_TEXT_CHARS,
    ImageScore,
    character_error_rate,
    normalise_whitespace,
    similarity,
    word_error_rate,
)


def test_normalise_whitespace_collapses_runs_and_strips_the_ends() -> None:
    # given a text with newlines, tabs, a no-break space and padded ends
    text = "  one\n\ntwo\t three\u00a0four \n"

    # when it is normalised / then each run is one space and the ends are bare
    assert normalise_whitespace(text) == "one two three four"


def test_similarity_of_horse_and_house_is_the_levenshtein_ratio_0_8() -> None:
    assert similarity("horse", "house") == pytest.approx(0.8)


def test_similarity_ignores_differences_in_line_breaks_and_spacing() -> None:
    # given the same words laid out differently
    ocr, truth = "I am like\n a fish\n", "I am like a fish"

    # then the texts count as equal
    assert similarity(ocr, truth) == 1.0


def test_similarity_of_nothing_read_against_a_text_is_zero() -> None:
    assert similarity("", "some text") == 0.0


def test_character_error_rate_counts_edits_per_true_character() -> None:
    # given one substitution in a five-character truth
    # then the rate is 1/5
    assert character_error_rate("horse", "house") == pytest.approx(0.2)


def test_character_error_rate_can_exceed_one_when_noise_is_read() -> None:
    assert character_error_rate("abcdef", "ab") == pytest.approx(2.0)


def test_error_rates_for_an_empty_truth_are_zero_or_one() -> None:
    assert character_error_rate("", " \n") == 0.0
    assert character_error_rate("x", "") == 1.0
    assert word_error_rate("", "") == 0.0
    assert word_error_rate("word", "") == 1.0


def test_word_error_rate_counts_whole_word_edits_per_true_word() -> None:
    # given four true words, one misread and one missing
    truth = "the cat sat down"
    ocr = "the cot\nsat"

    # then two word edits over four words
    assert word_error_rate(ocr, truth) == pytest.approx(0.5)


def test_word_error_rate_counts_a_word_with_many_wrong_letters_as_one_edit() -> None:
    assert word_error_rate("xyzzy", "hello") == pytest.approx(1.0)


def test_image_score_round_trips_through_json() -> None:
    # given a measured score
    score = ImageScore.measure("a", "horse", "house", ocr_seconds=0.25)

    # when it is stored and read back / then nothing changed
    assert ImageScore.from_json(score.to_json()) == score
    assert score.similarity == pytest.approx(0.8)
    assert score.text == "horse"
    assert not score.text_truncated


def test_image_score_keeps_a_bounded_text_but_scores_the_whole_text() -> None:
    # given an OCR text longer than the stored bound, equal to the truth
    long_text = "a" * (MAX_STORED_TEXT_CHARS + 10)

    # when it is measured
    score = ImageScore.measure("long", long_text, long_text, ocr_seconds=0.0)

    # then the stored text is cut and flagged, and the score saw all of it
    assert len(score.text) == MAX_STORED_TEXT_CHARS
    assert score.text_truncated
    assert score.similarity == 1.0


@pytest.mark.parametrize("key, bad", [("similarity", "high"), ("cer", float("nan")),
                                      ("text", 3), ("text_truncated", "no"), ("name", None)])
def test_a_malformed_stored_score_is_refused_naming_the_field(key: str, bad: object) -> None:
    # given a stored score with one field broken
    doc = ImageScore.measure("img", "a", "a", ocr_seconds=0.1).to_json()
    doc[key] = bad

    # when it is read / then the error names the field
    with pytest.raises(ObjectiveError, match=key):
        ImageScore.from_json(doc)
