"""Content rules for shipped questions, stricter than the format: `coach bank validate --strict`."""

from __future__ import annotations

import re

from coach.bank.schema import Question

EXAMPLE_WORDS = (150, 350)
KEY_POINTS = (4, 7)
PITFALLS = (2, 4)
FOLLOW_UPS = (1, 3)


def word_count(text: str) -> int:
    return len(re.findall(r"\S+", text))


def content_problems(question: Question) -> list[str]:
    """Return what a shipped question lacks; an empty list means it meets the bar."""
    problems: list[str] = []

    def count(label: str, n: int, bounds: tuple[int, int]) -> None:
        low, high = bounds
        if not low <= n <= high:
            problems.append(f"{label}: {n}, expected {low}-{high}")

    count("key points", len(question.key_points), KEY_POINTS)
    count("pitfalls", len(question.pitfalls), PITFALLS)
    count("follow-ups", len(question.follow_ups), FOLLOW_UPS)
    count("example answer words", word_count(question.example_answer), EXAMPLE_WORDS)
    if not question.skills:
        problems.append("skills: empty")
    if len(question.why_asked.split()) < 12:
        problems.append("why_asked: shorter than 12 words")
    for kp in question.key_points:
        if not kp.cues:
            problems.append(f"key point {kp.id}: no cues")
    if question.structure == "star" and question.type != "behavioral" and question.category != "behavioral":
        problems.append("structure star is for behavioural (story) questions")
    return [f"{question.id}: {p}" for p in problems]
