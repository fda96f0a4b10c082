"""RELIABILITY.md §2.4, G1-G9: the grader attack suite, generated from the question bank and the dev set.

The attacks are written by bench/attack_suite.py from each target question (its key-point cues, its example
answer, its pack) and, for dev-set questions, from their labelled answers; bench/grader_attacks.py runs the
same generators over every question and prints the figures. To stay inside the CI budget this module
attacks a deterministic sample: SHIPPED_SAMPLE shipped questions spread evenly over the bank's load order,
plus all 12 dev-set questions, plus SEMEVAL_SAMPLE human-labelled correct SemEval answers for G8. Each
generated answer is graded once per module (`outcome`), and the determinism check re-grades them all.

"Accepted" = a score of at least 3.0 on the 1-5 scale, the pass mark the practice page uses. Criteria the
grader does not meet yet are strict xfails that carry the measured figure: they start failing (and must be
turned back into plain tests) when the grader improves. tests/test_grading_gaming.py holds the hand-written
cases these generated ones extend; tests/test_interview_session.py checks that an empty answer stores nothing.
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections import defaultdict

import pytest
from _grading_fixtures import ROOT, load_devset, shipped_questions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coach.api import shipped_bank
from coach.errors import InvalidInput
from coach.grading.rubric import reference_question
from coach.grading.text import split_units

sys.path.insert(0, str(ROOT / "bench"))
import attack_suite as suite  # noqa: E402

pytest_plugins = ["_grading_fixtures"]  # the shared session-wide `grader`
pytestmark = pytest.mark.disable_socket

SHIPPED_SAMPLE = 4  # of the 110 shipped questions: every 27th or so, in load order
DEV_SAMPLE = 6  # of the 12 dev-set questions: every other one (with their labelled answers)
SEMEVAL_SAMPLE = 40  # human-labelled correct answers from SemEval's test splits, spread evenly
CI_SKIPS = ("(terms)",)  # G2's third wording (terms appended to the last sentence) runs in the bench only
SEMEVAL = ROOT.parent / "shared" / "data" / "semeval2013-task7" / "items.jsonl"
MEASURED = "measured 2026-11-23 on the CI sample"


def targets() -> list[suite.Target]:
    out = suite.sample_evenly(suite.shipped_targets(shipped_bank()), SHIPPED_SAMPLE)
    dev = load_devset()
    if dev is not None:
        out += suite.sample_evenly(suite.dev_targets(dev.questions, dev.answers), DEV_SAMPLE)
    return out


CASES = [c for c in suite.build_suite(targets()) if not any(skip in c.kind for skip in CI_SKIPS)]
_OUTCOMES: dict[str, suite.Outcome] = {}


@pytest.fixture(scope="module")
def outcome(grader):
    """Grade a case the first time it is asked for, then remember the result for the module."""

    def get(case: suite.Case) -> suite.Outcome:
        if case.id not in _OUTCOMES:
            _OUTCOMES[case.id] = suite.grade_case(grader, case)
        return _OUTCOMES[case.id]

    return get


def cases(gid: str, *kinds: str) -> list[suite.Case]:
    chosen = [c for c in CASES if c.gid == gid and (not kinds or any(k in c.kind for k in kinds))]
    assert chosen, (gid, kinds)
    return chosen


def by_id(case_id: str) -> suite.Case:
    return next(c for c in CASES if c.id == case_id)


def worst(items: list[tuple[suite.Case, suite.Outcome]], n: int = 5) -> list[str]:
    """The highest-scoring failures, readable in an assertion message."""
    ranked = sorted(items, key=lambda co: -(co[1].score or 0))
    return [f"{c.id} -> {o.score} {sorted(o.flags)}: {c.answer[:80]!r}" for c, o in ranked[:n]]


def xfail_below(measured: str, target: str):
    return pytest.mark.xfail(strict=True, reason=f"{measured} ({MEASURED}); target {target}")


# --- G1 keyword stuffing --------------------------------------------------------------------------------------


def test_g1_keyword_lists_of_the_rubric_and_example_answer_are_not_accepted(outcome):
    graded = [(c, outcome(c)) for c in cases("G1")]
    accepted = [(c, o) for c, o in graded if o.accepted]
    assert suite.share(o.accepted for _, o in graded) <= 0.02, worst(accepted)


def test_g1_keyword_lists_are_flagged_as_keyword_stuffing(outcome):
    graded = [(c, outcome(c)) for c in cases("G1")]
    missed = [(c, o) for c, o in graded if not o.gaming_flagged]
    assert suite.share(o.gaming_flagged for _, o in graded) >= 0.95, worst(missed)
    assert all(not o.grade.counts_toward_progress for c, o in graded if o.grade and o.gaming_flagged)


# --- G2 wrong answer + keywords -------------------------------------------------------------------------------


def _keyword_rises(outcome) -> list[tuple[suite.Case, suite.Outcome, suite.Outcome]]:
    pairs = [(c, outcome(c), outcome(by_id(c.base))) for c in cases("G2", "+ keywords")]
    return [(c, after, before) for c, after, before in pairs if after.score is not None and before.score is not None]


def test_g2_keywords_added_to_a_wrong_answer_raise_its_score_by_at_most_half_a_point_in_95_percent(outcome):
    rises = _keyword_rises(outcome)
    assert len(rises) >= 40
    bad = [f"{c.id}: {b.score} -> {a.score} {sorted(a.flags)}" for c, a, b in rises if a.score - b.score > 0.5]
    assert suite.share(a.score - b.score <= 0.5 for _, a, b in rises) >= 0.95, bad


def test_g2_no_wrong_answer_reaches_the_pass_mark_by_adding_keywords(outcome):
    crossed = [
        f"{c.id}: {b.score} -> {a.score} {sorted(a.flags)}"
        for c, a, b in _keyword_rises(outcome)
        if a.accepted and not b.accepted
    ]
    assert crossed == []


# --- G3 copies of the example answer --------------------------------------------------------------------------


def test_g3_verbatim_copies_of_the_example_answer_are_flagged_and_excluded_from_progress(outcome):
    graded = [(c, outcome(c)) for c in cases("G3", "verbatim")]
    missed = [f"{c.id} -> {o.score} {sorted(o.flags)}" for c, o in graded if "copied_example" not in o.flags]
    assert suite.share("copied_example" in o.flags for _, o in graded) >= 0.99, missed
    assert all(not o.grade.counts_toward_progress for _, o in graded)


def test_g3_light_paraphrases_of_the_example_answer_are_flagged_as_copies(outcome):
    graded = [(c, outcome(c)) for c in cases("G3", "sentence-shuffled", "swapped")]
    assert all(c.note == "" or float(c.note.split("%")[0]) >= 7 for c, _ in graded), "swap share too low"
    missed = [f"{c.id} -> {o.score} {sorted(o.flags)}" for c, o in graded if "copied_example" not in o.flags]
    assert suite.share("copied_example" in o.flags for _, o in graded) >= 0.90, missed
    assert all(not o.grade.counts_toward_progress for _, o in graded if "copied_example" in o.flags)


# --- G4 shuffled words ----------------------------------------------------------------------------------------


def test_g4_the_example_answer_with_its_words_shuffled_is_not_accepted_and_is_flagged(outcome):
    graded = [(c, outcome(c)) for c in cases("G4", "example answer shuffled")]
    assert suite.share(o.accepted for _, o in graded) <= 0.02, worst(graded)
    assert suite.share(o.gaming_flagged for _, o in graded) >= 0.95, worst(graded)


def test_g4_a_strong_dev_set_answer_with_its_words_shuffled_is_not_accepted(outcome):
    graded = [(c, outcome(c)) for c in cases("G4", "dev-set")]
    assert suite.share(o.accepted for _, o in graded) <= 0.02, worst(graded)


def test_g4_a_strong_dev_set_answer_with_its_words_shuffled_is_flagged(outcome):
    graded = [(c, outcome(c)) for c in cases("G4", "dev-set")]
    assert suite.share(o.gaming_flagged for _, o in graded) >= 0.95, worst(graded)


# --- G5 non-answers -------------------------------------------------------------------------------------------


def test_g5_gibberish_and_random_characters_score_one_and_are_called_not_an_answer(outcome):
    graded = [(c, outcome(c)) for c in cases("G5", *suite.GIBBERISH_KINDS)]
    bad = [
        f"{c.id} -> {o.score} {sorted(o.flags)}" for c, o in graded if not (o.not_an_answer and o.score in (None, 1.0))
    ]
    assert bad == []


def test_g5_restating_the_question_is_not_accepted(outcome):
    graded = [(c, outcome(c)) for c in cases("G5", "question restated")]
    assert suite.share(o.accepted for _, o in graded) <= 0.02, worst(graded)


def test_g5_one_word_emoji_dont_know_and_code_are_not_accepted(outcome):
    graded = [(c, outcome(c)) for c in cases("G5", "one word", "emoji", "I don't know", "code", "JSON")]
    assert [f"{c.id} -> {o.score}" for c, o in graded if o.accepted] == []
    assert suite.share(o.not_an_answer for _, o in graded) >= 0.95, worst(graded)


@pytest.mark.parametrize(
    "blank", ["", " ", "\n\n\t ", "\u200b\u200b"], ids=["empty", "space", "whitespace", "zero-width"]
)
def test_g5_empty_and_whitespace_answers_are_a_validation_error(grader, blank):
    question = next(iter(shipped_questions().values()))
    with pytest.raises(InvalidInput, match="empty"):
        grader.grade(question, blank)


# --- G6 off-topic fluent answers ------------------------------------------------------------------------------


def test_g6_fluent_answers_to_something_else_are_not_accepted(outcome):
    graded = [(c, outcome(c)) for c in cases("G6")]
    assert suite.share(o.accepted for _, o in graded) <= 0.02, worst(graded)


def test_g6_fluent_answers_to_something_else_are_flagged_off_topic(outcome):
    graded = [(c, outcome(c)) for c in cases("G6")]
    missed = [(c, o) for c, o in graded if "off_topic" not in o.flags]
    assert suite.share("off_topic" in o.flags for _, o in graded) >= 0.90, worst(missed, 8)


# --- G7 repetition and padding --------------------------------------------------------------------------------


def test_g7_a_paragraph_repeated_two_to_37_times_scores_as_one_copy_within_a_quarter_point(outcome):
    """Repeats do not count toward the 40-word minimum either (a 37-word paragraph repeated used to gain 0.5)."""
    graded = [(c, outcome(c), outcome(by_id(c.base))) for c in cases("G7", "paragraph x") if c.base]
    assert len(graded) >= 4 * len(suite.REPEAT_COPIES)  # a repeated paragraph from every sampled question
    bad = [
        f"{c.id}: {b.score} -> {o.score} {o.rejected or ''}"
        for c, o, b in graded
        if o.score is None or abs(o.score - b.score) > 0.25
    ]
    assert bad == []


def test_g7_repetition_is_flagged_from_three_copies(outcome):
    graded = [(c, outcome(c)) for c in cases("G7", "paragraph x") if c.base]
    bad = [c.id for c, o in graded if int(c.kind.split("x")[-1]) >= 3 and "repetition" not in o.flags]
    assert bad == []


def test_g7_a_thousand_words_of_filler_before_or_after_change_the_score_by_at_most_half_a_point(outcome):
    graded = [(c, outcome(c), outcome(by_id(c.base))) for c in cases("G7", "filler before", "filler after")]
    bad = [f"{c.id}: {b.score} -> {o.score}" for c, o, b in graded if o.score is None or abs(o.score - b.score) > 0.5]
    assert bad == []


def test_g7_key_content_after_word_300_is_still_credited(outcome):
    for c in cases("G7", "after 300+ words"):
        padded, alone = outcome(c).grade, outcome(by_id(c.base)).grade
        assert len(c.answer[: c.answer.index(by_id(c.base).answer)].split()) >= 300
        statuses = {kp.id: kp.status for kp in padded.key_points}
        lost = [kp.id for kp in alone.key_points if kp.status == "covered" and statuses[kp.id] == "missing"]
        assert lost == [], c.id


# --- G8 false flags on genuine answers ------------------------------------------------------------------------


def genuine_cases() -> list[suite.Case]:
    out: list[suite.Case] = []
    dev = load_devset()
    if dev is not None:
        sampled = {
            t.question.id for t in suite.sample_evenly(suite.dev_targets(dev.questions, dev.answers), DEV_SAMPLE)
        }
        for item in dev.answers:
            if item["kind"] in ("excellent", "good", "non_native") and item["question_id"] in sampled:
                question = dev.questions[item["question_id"]]
                out += suite.genuine_variants(item["answer_id"], item["text"], question, reference_only=False)
    if SEMEVAL.exists():
        rows = [json.loads(line) for line in SEMEVAL.read_text(encoding="utf-8").splitlines() if line.strip()]
        correct = [r for r in rows if r["split"] != "train" and r["label_2way"] == "correct"]
        for r in suite.sample_evenly(correct, SEMEVAL_SAMPLE):
            question = reference_question(r["question"], r["reference_answer"], question_id=r["question_id"])
            out += suite.genuine_variants(r["answer_id"], r["answer"], question, reference_only=True)
    return out


GENUINE = genuine_cases()


def test_g8_genuine_answers_and_their_non_native_variants_carry_a_gaming_flag_at_most_2_percent(outcome):
    assert len(GENUINE) >= 100
    graded = [(c, outcome(c)) for c in GENUINE]
    flagged = [f"{c.id} -> {o.score} {sorted(o.flags)}" for c, o in graded if o.gaming_flagged]
    assert suite.share(o.gaming_flagged for _, o in graded) <= 0.02, flagged


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(
            "typos in 5% of words",
            marks=xfail_below(
                "89.3% (25 of 28): dev-11-good 3.0 -> 2.0, HB.46.489.1 4.5 -> 2.5 and WA.7b.241.1 3.0 -> 4.5 "
                "(misspelt words move the sentence vectors; no flag is involved any more)",
                ">= 90%",
            ),
        ),
        "articles dropped",
    ],
)
def test_g8_typos_or_dropped_articles_change_the_score_by_at_most_half_a_point_in_90_percent(outcome, variant):
    pairs = [(c, outcome(c), outcome(by_id_genuine(c.base))) for c in GENUINE if c.kind == variant]
    assert len(pairs) >= 25  # short answers often draw no typo (words of 4+ letters, 5% each)
    changed = [
        f"{c.id}: {b.score} -> {o.score}" for c, o, b in pairs if o.score is None or abs(o.score - b.score) > 0.5
    ]
    assert 1 - len(changed) / len(pairs) >= 0.90, changed


def by_id_genuine(case_id: str | None) -> suite.Case:
    return next(c for c in GENUINE if c.id == case_id)


# --- G9 properties --------------------------------------------------------------------------------------------


def test_g9_every_generated_answer_scores_a_half_step_between_1_and_5(outcome):
    graded = [outcome(c) for c in CASES + GENUINE]
    assert len(graded) >= 450  # 477 in CI; bench/grader_attacks.py grades about 3,300
    scores = [o.score for o in graded if o.score is not None]
    assert all(1.0 <= s <= 5.0 and s * 2 == int(s * 2) for s in scores)


def test_g9_grading_every_generated_answer_again_gives_the_same_grade_with_the_same_evidence(grader, outcome):
    checked = 0
    for c in CASES + GENUINE:
        first = outcome(c)
        if first.grade is None:
            continue
        again = grader.grade(c.question, c.answer, reference_only=c.reference_only)
        assert again.model_dump() == first.grade.model_dump(), c.id
        checked += 1
    assert checked >= 400


def _dev_answers(*kinds: str) -> list[dict]:
    dev = load_devset()
    return [a for a in dev.answers if a["kind"] in kinds] if dev is not None else []


# UK -> US spellings (the reverse when the draw says so): -ise/-isation verbs, -our, -yse, -tre, -ll-, -ence.
_ISE_STEMS = (
    "organ|priorit|recogn|minim|maxim|optim|standard|summar|emphas|real|character|categor|util|anonym|"
    "pseudonym|author|normal|visual|final|operational|special|monet|apolog|critic|legal"
)
UK_US = [
    (rf"\b((?:{_ISE_STEMS})i)s(e|ed|es|ing|ation|ations)\b", r"\1z\2"),
    (r"\b(behavi|col|fav|lab|hon|neighb|harb)our", r"\1or"),
    (r"\banalys(e|ed|es|ing)\b", r"analyz\1"),
    (r"\bcentre", "center"),
    (r"\bprogramme", "program"),
    (r"\b(model|label|travel|cancel|signal)l(ed|ing)\b", r"\1\2"),
    (r"\bjudgement", "judgment"),
    (r"\b(defen|licen|offen)ce\b", r"\1se"),
]
US_UK = [
    (rf"\b((?:{_ISE_STEMS})i)z(e|ed|es|ing|ation|ations)\b", r"\1s\2"),
    (r"\b(behavi|col|fav|lab|hon|neighb|harb)or", r"\1our"),
    (r"\banalyz(e|ed|es|ing)\b", r"analys\1"),
    (r"\bcenter", "centre"),
    (r"\b(model|label|travel|cancel|signal)(ed|ing)\b", r"\1l\2"),
    (r"\bjudgment", "judgement"),
]
CONTRACTIONS = [
    ("do not", "don't"),
    ("does not", "doesn't"),
    ("is not", "isn't"),
    ("I would", "I'd"),
    ("I will", "I'll"),
    ("I am", "I'm"),
    ("we are", "we're"),
    ("it is", "it's"),
    ("cannot", "can't"),
    ("would not", "wouldn't"),
    ("that is", "that's"),
    ("we would", "we'd"),
]


def _first_change(sentence: str, directions: list[list[tuple[str, str]]], rng: random.Random) -> str:
    """Apply one direction of rewrites (drawn at random); if it changes nothing, the other one."""
    if rng.random() < 0.5:
        directions = directions[::-1]
    for rules in directions:
        out = sentence
        for pattern, replacement in rules:
            out = re.sub(pattern, lambda m, r=replacement: _same_case(m, m.expand(r)), out, flags=re.IGNORECASE)
        if out != sentence:
            return out
    return sentence


def _same_case(match: re.Match[str], replacement: str) -> str:
    return replacement[0].upper() + replacement[1:] if match.group(0)[0].isupper() else replacement


def transform(sentence: str, how: str, rng: random.Random) -> str:
    if how == "case":
        return rng.choice([sentence.lower(), sentence.upper(), sentence.title()])
    if how == "whitespace":
        return re.sub(r" ", lambda _: rng.choice([" ", "  ", " \t ", "   "]), sentence).replace(". ", ".\n")
    if how == "punctuation":
        out = re.sub(r"[,;:]", "", sentence)
        return out.rstrip(".!?") + rng.choice(["", "!", "...", " ."])
    if how == "spelling":
        return _first_change(sentence, [UK_US, US_UK], rng)
    if how == "contractions":
        contract = [(rf"\b{re.escape(a)}\b", b) for a, b in CONTRACTIONS]
        expand = [(rf"\b{re.escape(b)}\b", a) for a, b in CONTRACTIONS]
        return _first_change(sentence, [contract, expand], rng)
    raise ValueError(how)


INVARIANCES = ("case", "whitespace", "punctuation", "spelling", "contractions")
G9_EXAMPLES = 6  # per invariance in CI; `bench/grader_attacks.py` and a local run can raise it (G9_EXAMPLES env)


G9_KNOWN: dict[str, str] = {}  # invariances the grader does not hold yet, with the measured figure


@pytest.mark.parametrize(
    "how", [pytest.param(h, marks=xfail_below(G9_KNOWN[h], ">= 95%")) if h in G9_KNOWN else h for h in INVARIANCES]
)
def test_g9_surface_changes_move_the_score_by_at_most_a_quarter_point_in_95_percent(grader, how):
    """INV (CheckList): the same answer with 1-3 sentences recased, respaced, repunctuated, respelt US/UK or
    (un)contracted. Hypothesis draws the answers and sentences (derandomized, so CI is repeatable)."""
    import os

    answers = _dev_answers("excellent", "good", "adequate", "non_native")
    if not answers:
        pytest.skip("needs the dev set")
    dev = load_devset()
    deltas: list[tuple[float, str]] = []

    @settings(
        max_examples=int(os.environ.get("G9_EXAMPLES", G9_EXAMPLES)),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.sampled_from(answers), st.integers(0, 2**32 - 1))
    def draw(item, seed):
        rng = random.Random(seed)
        units = [u.text for u in split_units(item["text"])]
        chosen = set(rng.sample(range(len(units)), min(len(units), rng.randint(1, 3))))
        changed = " ".join(transform(u, how, rng) if i in chosen else u for i, u in enumerate(units))
        question = dev.questions[item["question_id"]]
        base = " ".join(units)
        delta = abs(grader.grade(question, changed).score - grader.grade(question, base).score)
        deltas.append((delta, f"{item['answer_id']} seed {seed}"))

    draw()
    bad = [name for d, name in deltas if d > 0.25]
    assert 1 - len(bad) / len(deltas) >= 0.95, bad


@pytest.fixture(scope="module")
def excellent_evidence(grader):
    """Per dev-set question: key point id -> the excellent answer's sentence that covers it."""
    dev = load_devset()
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for a in _dev_answers("excellent"):
        g = grader.grade(dev.questions[a["question_id"]], a["text"])
        for kp in g.key_points:
            if kp.status == "covered" and kp.evidence:
                out[a["question_id"]][kp.id] = kp.evidence
    return out


DIR_KNOWN: dict[str, str] = {}  # answers where adding a covering sentence still lowers the score, measured


@pytest.mark.parametrize(
    "answer_id",
    [
        pytest.param(i, marks=xfail_below(DIR_KNOWN[i], "never lower")) if i in DIR_KNOWN else i
        for i in (a["answer_id"] for a in _dev_answers("good", "adequate", "weak", "non_native"))
    ],
)
def test_g9_adding_a_sentence_that_covers_a_missed_key_point_never_lowers_the_score(
    grader, excellent_evidence, answer_id
):
    """DIR: for each key point the answer misses (or only partly makes), append the sentence of the
    excellent answer that covers it; the score must not drop and the key point must not lose credit."""
    dev = load_devset()
    item = dev.answer(answer_id)
    question = dev.questions[item["question_id"]]
    base = grader.grade(question, item["text"])
    tried = 0
    for kp in base.key_points:
        sentence = excellent_evidence[item["question_id"]].get(kp.id)
        if kp.status == "covered" or sentence is None:
            continue
        added = grader.grade(question, item["text"].rstrip() + " " + sentence)
        tried += 1
        assert added.score >= base.score, (kp.id, base.score, added.score, sentence)
        after = next(k for k in added.key_points if k.id == kp.id)
        order = ["missing", "partial", "covered"]
        assert order.index(after.status) >= order.index(kp.status), (kp.id, kp.status, after.status)
    if tried == 0:
        pytest.skip("every key point the excellent answer covers is already covered here")


@pytest.mark.parametrize("answer_id", [a["answer_id"] for a in _dev_answers("excellent", "good")])
def test_g9_removing_the_sentence_that_covers_a_key_point_removes_its_credit_unless_another_sentence_covers_it(
    grader, answer_id
):
    dev = load_devset()
    item = dev.answer(answer_id)
    question = dev.questions[item["question_id"]]
    base = grader.grade(question, item["text"])
    units = [u.text for u in split_units(item["text"])]
    for kp in base.key_points:
        if kp.status != "covered" or kp.evidence not in units:
            continue
        rest = " ".join(u for u in units if u != kp.evidence)
        after = next(k for k in grader.grade(question, rest).key_points if k.id == kp.id)
        # Credit stays only with evidence of its own, from what is left of the answer; the score cannot rise.
        assert after.status == "missing" or (
            after.evidence and after.evidence != kp.evidence and after.evidence in rest
        )
        assert grader.grade(question, rest).score <= base.score, kp.id
