"""`coach bank list|show|search|stats`, checked against the shipped YAML read independently of the loader."""

from __future__ import annotations

import copy
import functools
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from coach.bank.schema import Question
from coach.cli import app

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SHIPPED = Path(__file__).resolve().parents[1] / "coach" / "bank" / "packs"


@functools.cache
def _shipped() -> tuple[dict[str, Any], ...]:
    found: list[dict[str, Any]] = []
    for path in sorted(SHIPPED.rglob("*.yaml")):
        pack = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeLoader)
        found += [{**q, "pack": pack["id"]} for q in pack["questions"]]
    return tuple(found)


def shipped() -> list[dict[str, Any]]:
    """Every shipped question as raw YAML, with the id of the pack it sits in (a fresh copy each call)."""
    return copy.deepcopy(list(_shipped()))


def regions(q: dict[str, Any]) -> list[str]:
    value = q.get("region") or []
    return [value] if isinstance(value, str) else list(value)


def coach(*args: str):
    return CliRunner().invoke(app, ["bank", *args])


def ids_from(result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [item["id"] for item in json.loads(result.stdout)]


def test_list_without_filters_returns_every_shipped_question():
    assert sorted(ids_from(coach("list", "--json"))) == sorted(q["id"] for q in shipped())


FILTERS = [
    ("--role", "ai-ethics-specialist", lambda q: q["role"] == "ai-ethics-specialist"),
    ("--level", "advanced", lambda q: q["level"] == "advanced"),
    ("--seniority", "director", lambda q: q.get("seniority") == "director"),
    ("--category", "workflow-tools", lambda q: q["category"] == "workflow-tools"),
    ("--type", "leadership", lambda q: q["type"] == "leadership"),
    ("--skill", "fairness", lambda q: any("fairness" in s.lower() for s in q["skills"])),
    ("--region", "BR", lambda q: "BR" in regions(q)),
    ("--region", "br", lambda q: "BR" in regions(q)),
]


@pytest.mark.parametrize(("option", "value", "keep"), FILTERS, ids=[f"{o}={v}" for o, v, _ in FILTERS])
def test_list_filters_match_the_shipped_data(option, value, keep):
    everything = shipped()
    expected = sorted(q["id"] for q in everything if keep(q))
    assert 0 < len(expected) < len(everything), "the filter must select a proper subset to be a useful check"

    assert sorted(ids_from(coach("list", option, value, "--json"))) == expected


def test_list_filters_combine():
    expected = sorted(
        q["id"]
        for q in shipped()
        if q["role"] == "responsible-ai-pm" and q["level"] == "beginner" and q["category"] == "concepts"
    )
    got = ids_from(
        coach("list", "--role", "responsible-ai-pm", "--level", "beginner", "--category", "concepts", "--json")
    )

    assert sorted(got) == expected


def test_list_says_so_when_nothing_matches():
    result = coach("list", "--role", "astronaut")

    assert result.exit_code == 0, result.output
    assert "No questions match" in result.output


@pytest.mark.parametrize(
    ("option", "value", "choices"),
    [
        ("--level", "expert", ["beginner", "intermediate", "advanced"]),
        ("--seniority", "intern", ["junior", "director"]),
        ("--category", "trivia", ["concepts", "workflow-tools"]),
        ("--type", "quiz", ["behavioral", "competency"]),
    ],
)
def test_list_rejects_an_unknown_choice_with_exit_code_2(option, value, choices):
    result = coach("list", option, value, "--json")

    assert result.exit_code == 2, result.output
    assert f"Unknown {option.lstrip('-')} {value!r}" in result.output
    for choice in choices:
        assert choice in result.output
    assert "Traceback" not in result.output


def _flatten(text: str) -> str:
    # Rich wraps lines and draws panel borders; compare words, not layout.
    return " ".join(re.sub(r"[│╭╮╰╯─•]", " ", text).split())


def test_show_prints_the_question_first_and_the_guidance_below():
    raw = next(q for q in shipped() if q["id"] == "rai-pm-model-card-sections")
    result = coach("show", "rai-pm-model-card-sections")

    assert result.exit_code == 0, result.output
    out = _flatten(result.output)
    question_at = out.index(_flatten(raw["text"]))
    why_at = out.index("Why it is asked.")
    example_at = out.index("Example answer")
    assert question_at < why_at < example_at
    for kp in raw["key_points"]:
        assert _flatten(kp["text"]) in out
    assert _flatten(raw["follow_ups"][0]) in out


def test_show_json_gives_every_field_of_the_question():
    raw = next(q for q in shipped() if q["id"] == "ethics-retail-facial-recognition")
    expected = Question.model_validate({k: v for k, v in raw.items() if k != "pack"}).model_dump(mode="json")

    result = coach("show", "ethics-retail-facial-recognition", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"pack": raw["pack"], **expected}


def test_show_an_unknown_id_exits_1_and_points_to_bank_list():
    result = coach("show", "no-such-question")

    assert result.exit_code == 1, result.output
    assert "'no-such-question'" in result.output
    assert "coach bank list" in result.output


def test_show_suggests_the_closest_id_for_a_typo():
    result = coach("show", "rai-pm-model-card-section")

    assert result.exit_code == 1, result.output
    assert "Did you mean rai-pm-model-card-sections" in result.output


def _top_ids(*args: str) -> list[str]:
    return ids_from(coach("search", *args, "--json"))


def test_search_finds_a_question_by_meaning_without_its_words():
    query = "documenting what a model is for and where it fails"
    model_card_ids = {q["id"] for q in shipped() if "model card" in q["text"].lower()}
    assert model_card_ids, "the shipped bank should have a model-card question"
    assert "card" not in query

    top = _top_ids(query, "--limit", "3")

    assert model_card_ids & set(top), top


def test_search_by_meaning_finds_a_credit_denial_question_for_a_paraphrase():
    # Read by a person: these three are about giving reasons for a refused loan or credit decision.
    relevant = {"rai-pm-explaining-credit-denial", "rai-pm-adverse-action-reason-codes", "ethics-lgpd-art20-review"}

    top = _top_ids("explaining to someone why their loan application was turned down", "--limit", "3")

    assert top[0] in relevant, top
    assert len(relevant & set(top)) >= 2, top


def test_search_by_words_ranks_the_question_that_names_the_tool_first(monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError("--words-only must not load the embedding model")

    monkeypatch.setattr("coach.grading.embedders.default_embedder", no_model)
    named = [q["id"] for q in shipped() if "AI Fairness 360" in q["text"]]
    assert len(named) == 1

    top = _top_ids("AI Fairness 360", "--words-only")

    assert top[0] == named[0]


def test_search_words_only_reports_no_match_plainly():
    result = coach("search", "zyxwvut qqqq", "--words-only")

    assert result.exit_code == 0, result.output
    assert "Nothing in the bank matches" in result.output


def test_search_respects_filters():
    result = coach("search", "fairness testing", "--words-only", "--level", "beginner", "--json", "--limit", "100")

    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert hits
    assert {h["level"] for h in hits} == {"beginner"}


@pytest.mark.parametrize("query", ["", "   "], ids=["empty", "spaces"])
def test_search_rejects_an_empty_query(query):
    result = coach("search", query)

    assert result.exit_code == 2, result.output
    assert "Give some words to search for" in result.output


def test_stats_json_counts_match_the_shipped_data():
    questions = shipped()
    result = coach("stats", "--json")

    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["total"] == len(questions)
    for key in ("pack", "role", "level", "seniority", "category"):
        assert stats[key] == dict(Counter(q[key] for q in questions)), key
    assert stats["role_level"] == {
        f"{r} / {lv}": n for (r, lv), n in Counter((q["role"], q["level"]) for q in questions).items()
    }
    assert stats["role_seniority"] == {
        f"{r} / {s}": n for (r, s), n in Counter((q["role"], q["seniority"]) for q in questions).items()
    }


def test_validate_strict_accepts_the_shipped_packs():
    result = coach("validate", "--strict")

    assert result.exit_code == 0, result.output
    assert f"{len(shipped())} question(s)" in result.output


def test_validate_strict_flags_questions_below_the_content_bar():
    user_pack = Path(__file__).parent / "fixtures" / "packs" / "user"

    result = coach("validate", "--strict", str(user_pack))

    assert result.exit_code == 1, result.output
    assert "user-privacy-dpia-walkthrough: key points: 3, expected 4-7" in _flatten(result.output)
