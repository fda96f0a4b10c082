"""Text handling for grading: answer validation (every bad input), sentence units, words and negation."""

from __future__ import annotations

import re

import pytest

from coach.errors import InvalidInput
from coach.grading.text import (
    MAX_ANSWER_CHARS,
    MAX_UNIT_WORDS,
    check_answer,
    content_words,
    has_negation,
    normalise,
    split_units,
    words,
)

pytestmark = pytest.mark.disable_socket

ENGLISH = (
    "Responsible AI means building systems that are fair, accountable and transparent, and a product manager "
    "owns it because the PM decides what ships and to whom. In practice I would set fairness requirements before "
    "the model is trained, agree on metrics with legal and the affected users, and block the launch if subgroup "
    "error rates diverge."
)
PORTUGUESE = (
    "Eu acho que a inteligência artificial responsável é muito importante para as empresas, porque os modelos "
    "podem causar danos às pessoas. O gerente de produto deve garantir que o sistema seja justo e transparente, "
    "e que os dados dos usuários sejam protegidos de acordo com a LGPD."
)
SPANISH = (
    "Creo que la inteligencia artificial responsable es muy importante para las empresas, porque los modelos "
    "pueden causar daños a las personas. El gerente de producto debe asegurar que el sistema sea justo y "
    "transparente, y que los datos de los usuarios estén protegidos."
)


def rejection(answer: object) -> str:
    with pytest.raises(InvalidInput) as info:
        check_answer(answer)
    return str(info.value)


# --- check_answer: every bad input gets InvalidInput with a message that says what to do ---


@pytest.mark.parametrize(
    "answer",
    ["", " ", "   \n\t  \r\n", "\u200b\u200b", "\ufeff"],
    ids=["empty", "space", "whitespace", "zero-width", "bom"],
)
def test_it_rejects_an_empty_answer(answer):
    assert "empty" in rejection(answer)


@pytest.mark.parametrize("answer", [None, 42, 3.5, ["an", "answer"], {"answer": "text"}])
def test_it_rejects_an_answer_that_is_not_text(answer):
    assert f"not {type(answer).__name__}" in rejection(answer)


def test_it_rejects_bytes_that_are_not_utf8_as_binary_data():
    assert "binary data" in rejection(b"\xff\xfe\x89PNG\r\n\x1a\n\x00\x00")


def test_it_accepts_utf8_bytes_as_text():
    assert check_answer(ENGLISH.encode("utf-8")) == ENGLISH


def test_it_rejects_text_with_nul_bytes():
    assert "NUL" in rejection(ENGLISH + "\x00\x00garbage")


def test_it_rejects_text_full_of_control_characters():
    assert "control characters" in rejection("answer \x01\x02\x03\x04\x05\x06\x07\x08 more")


def test_a_few_tabs_line_breaks_and_one_stray_control_character_are_fine():
    assert check_answer("First point.\tSecond point.\r\nThird\x07 point.").startswith("First point.")


def test_it_rejects_an_answer_over_the_character_limit_and_states_the_limit():
    message = rejection("word " * (MAX_ANSWER_CHARS // 5) + "x")
    assert "20,000" in message and "Shorten it" in message


def test_an_answer_at_the_character_limit_is_accepted():
    text = ("fair " * (MAX_ANSWER_CHARS // 5))[:MAX_ANSWER_CHARS]
    assert len(text) == MAX_ANSWER_CHARS
    assert check_answer(text)


@pytest.mark.parametrize("answer", ["?!... ---", "🙂🙂🙂", "*** ### ***"], ids=["punctuation", "emoji", "symbols"])
def test_it_rejects_an_answer_with_no_words(answer):
    assert "no words" in rejection(answer)


@pytest.mark.parametrize("answer", [PORTUGUESE, SPANISH], ids=["portuguese", "spanish"])
def test_it_rejects_an_answer_in_another_language_and_says_to_answer_in_english(answer):
    message = rejection(answer)
    assert "does not look like English" in message and "simple English is fine" in message


def test_a_mostly_english_answer_with_one_portuguese_sentence_is_accepted():
    text = ENGLISH + " Em outras palavras, o sistema precisa ser justo para todos os usuários."
    assert check_answer(text) == text


@pytest.mark.parametrize(
    "answer",
    [
        "Это ответ на вопрос о справедливости моделей машинного обучения и о том, как её измерять.",
        "这是关于机器学习模型公平性的回答，我们需要测量不同群体的错误率。",
    ],
    ids=["russian", "chinese"],
)
def test_an_answer_in_a_non_latin_script_is_told_to_answer_in_english(answer):
    assert "English" in rejection(answer)


@pytest.mark.parametrize(
    "answer",
    ["Это ответ на вопрос о справедливости моделей.", "这是关于机器学习模型公平性的回答。"],
    ids=["russian", "chinese"],
)
def test_an_answer_in_a_non_latin_script_is_rejected(answer):
    rejection(answer)


def test_accepted_answers_come_back_normalised():
    text = check_answer("  “Fairness”\u200b isn\u2019t one metric.\r\nIt depends.  ")
    assert text == '"Fairness" isn\'t one metric.\nIt depends.'


def test_normalise_folds_compatibility_characters():
    assert normalise("ﬁne ① \uff21") == "fine 1 A"


# --- split_units: sentences, abbreviations, decimals, bullets, long sentences ---


def unit_texts(text: str) -> list[str]:
    return [u.text for u in split_units(text)]


def test_it_splits_sentences_at_full_stops_question_and_exclamation_marks():
    assert unit_texts("It worked. Then we shipped it! Did it help? Yes; complaints fell.") == [
        "It worked.",
        "Then we shipped it!",
        "Did it help?",
        "Yes; complaints fell.",
    ]


def test_it_splits_sentences_with_no_space_after_the_full_stop():
    assert unit_texts("It worked.Then we shipped it.") == ["It worked.", "Then we shipped it."]


def test_abbreviations_do_not_end_a_sentence():
    assert unit_texts(
        "We follow the U.S. rules, e.g. ECOA, i.e. fair lending. Then we compare the ratio vs. the baseline. "
        "Dr. Gebru and Prof. Buolamwini showed it. GDPR Art. 22 applies."
    ) == [
        "We follow the U.S. rules, e.g. ECOA, i.e. fair lending.",
        "Then we compare the ratio vs. the baseline.",
        "Dr. Gebru and Prof. Buolamwini showed it.",
        "GDPR Art. 22 applies.",
    ]


def test_decimals_and_section_numbers_keep_their_dots():
    assert unit_texts("The ratio fell to 0.8 and accuracy rose from 91.2% to 93.4%. Article 22.1 applies.") == [
        "The ratio fell to 0.8 and accuracy rose from 91.2% to 93.4%.",
        "Article 22.1 applies.",
    ]


def test_each_bullet_is_a_unit_without_its_marker():
    assert unit_texts("My plan:\n- Map the groups\n* Measure the rates\n• Report to legal\n2) Re-measure") == [
        "My plan:",
        "Map the groups",
        "Measure the rates",
        "Report to legal",
        "Re-measure",
    ]


def test_numbered_items_are_units_without_their_numbers():
    assert unit_texts("My plan:\n1. Map the groups\n2. Fix the data") == ["My plan:", "Map the groups", "Fix the data"]


@pytest.mark.xfail(strict=True, reason="_protect only keeps dots in runs of initials ('J. K.'), not 'J. Smith'")
def test_an_initial_before_a_surname_does_not_end_a_sentence():
    assert unit_texts("J. Smith wrote about it. We read it.") == ["J. Smith wrote about it.", "We read it."]


def test_line_breaks_end_a_unit():
    assert unit_texts("Situation: a bank chatbot\n\nTask: my job was the launch") == [
        "Situation: a bank chatbot",
        "Task: my job was the launch",
    ]


def test_a_long_sentence_is_cut_into_pieces_of_at_most_sixty_words_that_keep_every_word():
    sentence = " ".join(f"word{i}" for i in range(150)) + "."
    units = split_units(sentence)
    assert len(units) == 3
    assert all(u.words <= MAX_UNIT_WORDS for u in units)
    assert " ".join(u.text for u in units) == sentence


def test_a_long_sentence_is_cut_after_a_comma_when_there_is_one():
    clauses = [" ".join(f"c{i}w{j}" for j in range(7)) for i in range(25)]
    units = split_units(", ".join(clauses) + ".")
    assert all(u.words <= MAX_UNIT_WORDS for u in units)
    assert all(u.text.endswith((",", ".")) for u in units)
    assert sum(u.words for u in units) == 175


def test_units_are_numbered_in_order_and_point_into_the_text():
    text = "First sentence here. Second one follows!\nThird line"
    units = split_units(text)
    assert [u.index for u in units] == [0, 1, 2]
    assert all(text[u.start :].startswith(u.text) for u in units)
    assert [u.words for u in units] == [3, 3, 2]


def test_pieces_without_words_are_not_units():
    assert unit_texts("Point one.\n\n---\n\n...\nPoint two.") == ["Point one.", "Point two."]


# --- words, content words and negation ---


def test_words_are_lower_cased_and_keep_apostrophes_and_accents():
    assert words("We DON'T ship; the ANPD's São Paulo office agreed (3x).") == [
        "we",
        "don't",
        "ship",
        "the",
        "anpd's",
        "são",
        "paulo",
        "office",
        "agreed",
        "3x",
    ]


def test_content_words_leave_out_stopwords_and_short_words():
    assert content_words("We would audit the AI model for bias at launch") == ["audit", "model", "bias", "launch"]


@pytest.mark.parametrize(
    "text",
    [
        "we would not simply drop the attribute",
        "we never drop it",
        "we won't drop it",
        "without dropping it",
        "rather than dropping it",
        "instead of dropping it",
        "we refused to drop it",
        "avoiding that mistake",
        "dropping it isn't enough",
        "we cannot drop it",
    ],
)
def test_negations_are_recognised(text):
    assert has_negation(text)


@pytest.mark.parametrize(
    "text", ["we will drop it", "notably it works", "knotty problem", "another idea", "nothing wrongful"[:7]]
)
def test_words_that_merely_contain_a_negation_are_not_negations(text):
    assert not has_negation(text)


def test_unit_words_match_the_word_count_of_their_text():
    for unit in split_units(ENGLISH):
        assert unit.words == len(words(unit.text))
        assert re.search(r"\w", unit.text)
