"""Invariants of the shipped packs: counts per pack, coverage per role, the content bar, unique ids, filled fields."""

from __future__ import annotations

import copy
import functools
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from coach.bank.loader import load_bank
from coach.bank.quality import content_problems
from coach.bank.schema import Question

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SHIPPED = Path(__file__).resolve().parents[1] / "coach" / "bank" / "packs"
LEVELS = ("beginner", "intermediate", "advanced")
SENIORITIES = ("junior", "mid", "senior", "lead", "manager", "director")
# Fields every shipped question fills. `region` (empty: applies everywhere) and `references` (stories have
# none) are optional by design, as are cues on pitfalls (some pitfalls are judged by meaning only).
FILLED = (
    "id",
    "text",
    "role",
    "level",
    "seniority",
    "category",
    "type",
    "skills",
    "why_asked",
    "key_points",
    "pitfalls",
    "structure",
    "example_answer",
    "follow_ups",
)


@functools.cache
def _shipped() -> tuple[dict[str, Any], ...]:
    found: list[dict[str, Any]] = []
    for path in sorted(SHIPPED.rglob("*.yaml")):
        pack = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeLoader)
        found += [{**q, "pack": pack["id"]} for q in pack["questions"]]
    return tuple(found)


def shipped(pack: str | None = None) -> list[dict[str, Any]]:
    return copy.deepcopy([q for q in _shipped() if pack is None or q["pack"] == pack])


def test_the_responsible_ai_pm_pack_has_its_fifty_questions():
    questions = shipped("responsible-ai-pm")

    assert len(questions) == 50
    assert Counter(q["category"] for q in questions) == {
        "concepts": 25,
        "scenario": 10,
        "workflow-tools": 10,
        "behavioral": 5,
    }
    concepts = Counter(q["level"] for q in questions if q["category"] == "concepts")
    assert concepts == {"beginner": 5, "intermediate": 10, "advanced": 10}
    assert {q["role"] for q in questions} == {"responsible-ai-pm"}


def test_the_ai_ethics_specialist_pack_has_three_questions_per_seniority():
    questions = shipped("ai-ethics-specialist")

    assert len(questions) == 18
    assert Counter(q["seniority"] for q in questions) == {s: 3 for s in SENIORITIES}
    assert {q["role"] for q in questions} == {"ai-ethics-specialist"}


def test_other_packs_add_at_least_forty_questions():
    others = [q for q in shipped() if q["pack"] not in ("responsible-ai-pm", "ai-ethics-specialist")]

    assert len(others) >= 40


def test_every_role_has_four_questions_at_every_level_and_at_every_seniority_it_uses():
    questions = shipped()
    thin = []
    for role in sorted({q["role"] for q in questions}):
        mine = [q for q in questions if q["role"] == role]
        by_level = Counter(q["level"] for q in mine)
        thin += [f"{role} / {level}: {by_level[level]}" for level in LEVELS if by_level[level] < 4]
        by_seniority = Counter(q.get("seniority") for q in mine if q.get("seniority"))
        thin += [f"{role} / {s}: {n}" for s, n in sorted(by_seniority.items()) if n < 4]

    assert thin == []


def test_every_shipped_question_meets_the_content_bar():
    problems = [p for q in load_bank().questions for p in content_problems(q)]

    assert problems == []


def test_the_content_bar_catches_a_thin_question():
    # Guards the check above: a question one short of each bound must be flagged on every count.
    rich = next(q for q in load_bank().questions if q.id == "rai-pm-model-card-sections")
    thin = Question.model_validate(
        {
            **rich.model_dump(),
            "key_points": [kp.model_dump() | {"cues": ()} for kp in rich.key_points[:3]],
            "pitfalls": [p.model_dump() for p in rich.pitfalls[:1]],
            "follow_ups": [],
            "example_answer": " ".join(rich.example_answer.split()[:149]),
        }
    )

    found = " | ".join(content_problems(thin))

    for expected in ("key points: 3", "pitfalls: 1", "follow-ups: 0", "example answer words: 149", "no cues"):
        assert expected in found


def test_question_ids_are_unique_across_all_shipped_files():
    counts = Counter(q["id"] for q in shipped())

    assert [qid for qid, n in counts.items() if n > 1] == []


def test_key_point_and_pitfall_ids_are_unique_within_each_question():
    clashes = []
    for q in shipped():
        for label in ("key_points", "pitfalls"):
            counts = Counter(item["id"] for item in q.get(label, []))
            clashes += [f"{q['id']} {label} {i}" for i, n in counts.items() if n > 1]

    assert clashes == []


def test_behavioral_questions_ask_for_a_star_story_and_only_they_do():
    mismatched = [
        q["id"]
        for q in shipped()
        if (q["category"] == "behavioral" or q["type"] == "behavioral") != (q["structure"] == "star")
    ]

    assert mismatched == []
    assert any(q["structure"] == "star" for q in shipped())


def test_every_field_is_filled():
    empty = []
    for q in shipped():
        empty += [f"{q['id']}: {name}" for name in FILLED if not q.get(name)]
        for kp in q.get("key_points", []):
            empty += [
                f"{q['id']}: key point {kp.get('id')} {name}" for name in ("id", "text", "cues") if not kp.get(name)
            ]
        for p in q.get("pitfalls", []):
            empty += [f"{q['id']}: pitfall {p.get('id')} {name}" for name in ("id", "text") if not p.get(name)]
        empty += [f"{q['id']}: blank skill" for s in q.get("skills", []) if not str(s).strip()]
        empty += [f"{q['id']}: blank follow-up" for f in q.get("follow_ups", []) if not str(f).strip()]

    assert empty == []


def test_the_loader_keeps_every_shipped_question():
    assert sorted(q.id for q in load_bank().questions) == sorted(q["id"] for q in shipped())
