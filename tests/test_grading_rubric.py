"""Rubric handling: cue matching (word starts, stems, phrases) and key points derived from a reference answer."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coach.bank.schema import SLUG
from coach.grading.rubric import cue_hits, cue_pattern, derive_key_points, is_reference_only, reference_question
from coach.grading.text import content_words, words

pytestmark = pytest.mark.disable_socket


def matches(cue: str, text: str) -> bool:
    return bool(cue_pattern(cue).search(text))


# --- cue matching ---


@pytest.mark.parametrize("text", ["calibration", "Calibrated scores", "we calibrate per group", "CALIBRATING"])
def test_a_cue_matches_longer_forms_of_its_stem(text):
    assert matches("calibrat", text)


@pytest.mark.parametrize("text", ["recalibrate", "miscalibration", "embrace", "terrace"])
def test_a_cue_only_matches_at_the_start_of_a_word(text):
    assert not matches("calibrat", text) and not matches("race", text)


@pytest.mark.parametrize(
    "text", ["protected attribute", "Protected  Attribute", "protected-attribute", "protected\nattributes"]
)
def test_a_phrase_cue_matches_across_spaces_hyphens_and_line_breaks(text):
    assert matches("protected attribute", text)


def test_a_phrase_cue_needs_its_words_together_and_in_order():
    assert not matches("protected attribute", "the attribute we protected")
    assert not matches("protected attribute", "protected the attribute")


def test_cues_with_regex_characters_match_literally():
    assert matches("a/b test", "we ran an A/B test for two weeks")
    assert matches("0.8", "a ratio under 0.8 fails")
    assert not matches("0.8", "a ratio of 038")
    assert matches("(aif360)", "IBM's toolkit (AIF360) has metrics")


def test_a_cue_ending_in_a_digit_does_not_match_a_longer_number():
    assert not matches("0.8", "a ratio of 0.85")


def test_cue_hits_lists_the_matching_cues_in_rubric_order():
    cues = ("disparate impact", "four-fifths", "selection rate", "compas")
    text = "Selection rates by group gave a disparate impact ratio below the four-fifths line."
    assert cue_hits(cues, text) == ("disparate impact", "four-fifths", "selection rate")
    assert cue_hits(cues, "Nothing relevant here.") == ()


# --- derived key points (reference-only questions) ---

REFERENCE = (
    "Closing the switch completes the circuit, so current can flow from the battery through the bulb, and the "
    "bulb lights because the filament heats up while current passes through it; a damaged bulb breaks the path."
)


def test_a_long_reference_sentence_becomes_one_key_point_per_clause():
    points = derive_key_points(REFERENCE)
    assert [p.text for p in points] == [
        "Closing the switch completes the circuit",
        "current can flow from the battery through the bulb",
        "the bulb lights because the filament heats up while current passes through it",
        "a damaged bulb breaks the path.",
    ]


def test_fragments_are_folded_into_a_neighbour_rather_than_becoming_key_points():
    points = derive_key_points("Yes. Because the bulb is in a closed path with the battery.")
    assert [p.text for p in points] == ["Yes. Because the bulb is in a closed path with the battery."]
    points = derive_key_points("2: the terminals are connected. Yes.")
    assert [p.text for p in points] == ["2: the terminals are connected. Yes."]


def test_a_short_because_clause_of_a_long_sentence_is_kept():
    reference = (
        "A metal spoon gets hot faster than a wooden spoon when both are left standing in the same pot of boiling "
        "water, because metal conducts."
    )
    assert any("metal conducts" in p.text for p in derive_key_points(reference))


def test_a_one_word_reference_still_gets_a_key_point():
    assert [p.text for p in derive_key_points("Yes.")] == ["Yes."]
    assert [p.text for p in derive_key_points("A.")] == ["Answer: A."]


def test_a_long_reference_is_merged_down_to_the_maximum_number_of_key_points_in_order():
    reference = " ".join(f"Step {i} checks the fairness metric number {i} against its audit trail." for i in range(12))
    points = derive_key_points(reference, max_points=7)
    assert len(points) == 7
    joined = " ".join(p.text for p in points)
    assert [int(n) for n in re.findall(r"Step (\d+)", joined)] == list(range(12))


def test_derived_cues_are_words_of_their_own_clause():
    for point in derive_key_points(REFERENCE):
        assert point.cues and len(point.cues) <= 5
        assert set(point.cues) <= set(content_words(point.text))


reference_texts = (
    st.lists(
        st.one_of(
            st.sampled_from(["Yes.", "No.", "2:", "A.", "Because of friction.", "ok", ";", "and so", "It is."]),
            st.text(alphabet=st.sampled_from("abcdefgh ijklmnop qrstuvwxyz ,.;:ABC0123-"), min_size=1, max_size=160),
        ),
        min_size=1,
        max_size=10,
    )
    .map(" ".join)
    .filter(lambda t: t.strip())
)


@settings(max_examples=300, deadline=None)
@given(reference_texts)
def test_derived_key_points_always_have_valid_unique_ids_and_at_most_seven_entries(reference):
    points = derive_key_points(reference)
    assert 1 <= len(points) <= 7
    ids = [p.id for p in points]
    assert len(set(ids)) == len(ids)
    assert all(re.match(SLUG, i) and len(i) <= 60 for i in ids)
    assert all(1.0 <= p.weight <= 1.5 for p in points)


@settings(max_examples=300, deadline=None)
@given(reference_texts)
def test_only_a_reference_without_enough_content_yields_a_key_point_with_fewer_than_two_content_words(reference):
    points = derive_key_points(reference)
    if len(points) > 1:
        assert all(len(content_words(p.text)) >= 2 for p in points), [p.text for p in points]


def test_a_reference_question_is_a_valid_question_with_a_stable_id():
    first = reference_question("Why does the bulb light?", REFERENCE)
    again = reference_question("Why does the bulb light?", REFERENCE)
    other = reference_question("Why does the bulb go out?", REFERENCE)
    assert first.id == again.id != other.id
    assert re.match(SLUG, first.id)
    assert first.structure == "none" and first.example_answer == REFERENCE
    assert first.key_points == derive_key_points(REFERENCE)


def test_a_reference_question_id_given_by_the_caller_is_made_safe():
    assert reference_question("Why?", "Because it is closed.", question_id="My Question #1!").id == "my-question-1"
    assert reference_question("Why?", "Because it is closed.", question_id="###").id == "ref"


def test_a_question_object_is_reference_only_when_it_has_an_example_answer_but_no_key_points():
    assert is_reference_only({"text": "Why?", "example_answer": "Because."})
    assert not is_reference_only({"text": "Why?", "example_answer": "Because.", "key_points": []})
    assert not is_reference_only({"text": "Why?"})


def test_words_used_by_cues_are_lower_case():
    assert all(
        c == c.lower() for p in derive_key_points("The EU AI Act and GDPR Article 22 both apply here.") for c in p.cues
    )
    assert words("GDPR") == ["gdpr"]
