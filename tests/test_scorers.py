from __future__ import annotations

from dataclasses import dataclass

import pytest

from babel_core import scorers
from babel_core.scorers import (
    SCORERS,
    UnknownScorer,
    distinct,
    echo,
    get_scorer,
    language,
    real_words,
    repetition,
)

PROMPT = "What is written in this book?"


@dataclass
class R:
    text: str
    token_ids: list[int]


def test_repetition_is_the_share_of_new_token_trigrams():
    assert repetition(R("", [1, 2, 3, 4, 5])) == 1.0
    assert repetition(R("", [7, 7, 7, 7, 7, 7])) == 0.25  # 4 trigrams, 1 distinct
    assert repetition(R("", [1, 2, 1, 2, 1, 2, 1, 2])) == 2 / 6
    assert repetition(R("", [5, 5])) == 1.0  # shorter than a trigram: one bigram, new


def test_distinct_is_distinct_tokens_over_tokens():
    assert distinct(R("", [1, 2, 2, 3])) == 0.75
    assert distinct(R("", [9] * 10)) == 0.1


def test_real_words_counts_common_words_of_several_languages():
    assert real_words(R("The cat sat on the mat.", [])) == 1.0
    assert real_words(R("Le chat dort; der Hund schläft.", [])) == 1.0
    assert real_words(R("xqzv brrt kklm gato", [])) == 0.25
    assert real_words(R("12 345 !!", [])) == 0.0  # no words at all


def test_language_is_the_identifiers_confidence():
    english = language(R("The cat sat on the mat and looked at the sky.", []))
    assert english == pytest.approx(
        scorers.identify("the cat sat on the mat and looked at the sky")[1]
    )
    assert scorers.identify("le chat est sur la table et regarde le ciel")[0] == "fr"
    assert english > 0.9
    assert language(R("xqzv brrt kklm", [])) == 0.0  # py3langid: no linguistic content


def test_echo_penalises_copying_the_prompt():
    assert echo(R("What is written in this book?", []), PROMPT) == 0.0
    assert echo(R("Old book about whales", []), PROMPT) == 0.75  # "book" is the prompt's
    assert echo(R("whales", []), "") == 1.0


def test_every_scorer_gives_an_empty_reading_zero():
    assert {name: f(R("", []), PROMPT) for name, f in SCORERS.items()} == dict.fromkeys(
        SCORERS, 0.0
    )


def test_default_is_echo_times_the_weighted_mix():
    reading = R("The cat sat on the mat", [1, 2, 3, 4, 1, 5])
    mix = (
        0.4 * 1.0  # every word is real
        + 0.25 * 1.0  # four trigrams, all new
        + 0.2 * language(reading)
        + 0.15 * (5 / 6)
    )
    assert scorers.default(reading, PROMPT) == pytest.approx(mix, abs=1e-12)
    assert scorers.default(R(PROMPT, [1, 2, 3, 4, 5, 6]), PROMPT) == 0.0  # a pure echo


def test_scores_stay_between_zero_and_one():
    texts = ["", "a", "the the the", "Ünïcödé ставки 漢字", "1234", "mat " * 40]
    for text in texts:
        reading = R(text, [ord(c) for c in text])
        for name, f in SCORERS.items():
            assert 0.0 <= f(reading, PROMPT) <= 1.0, (name, text)


def test_scorers_are_found_by_name_and_unknown_names_say_which_exist():
    assert get_scorer(" Words ") is real_words
    with pytest.raises(UnknownScorer, match="default, words, repetition"):
        get_scorer("fluency")


def test_explain_names_every_scorer_and_the_default_weights():
    text = scorers.explain()
    assert all(f"  {name} " in text for name in SCORERS)
    assert "0.4 words + 0.25 repetition + 0.2 language + 0.15 distinct" in text
