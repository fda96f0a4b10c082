"""Feedback written for a person, specific to the question: strengths, improvements, what to drop."""

from __future__ import annotations

from collections.abc import Sequence

from coach.bank.schema import Question
from coach.grading.model import (
    DeliveryResult,
    Feedback,
    Flag,
    KeyPointResult,
    PitfallResult,
    SpecificityResult,
    StructureResult,
)


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _how_to_add(kp: KeyPointResult, cues: Sequence[str]) -> str:
    point = _lower_first(kp.text.rstrip("."))
    hint = ""
    named = [c for c in cues if len(c) > 3][:3]
    if named:
        hint = " Words an interviewer listens for here: " + ", ".join(f"“{c}”" for c in named) + "."
    verb = "Go deeper: " if kp.status == "partial" else "Add: "
    return f"{verb}{point}.{hint}"


def write_feedback(
    question: Question,
    score: float,
    key_points: Sequence[KeyPointResult],
    pitfalls: Sequence[PitfallResult],
    structure: StructureResult,
    specificity: SpecificityResult,
    delivery: DeliveryResult,
    flags: Sequence[Flag],
) -> Feedback:
    covered = [k for k in key_points if k.status == "covered"]
    partial = [k for k in key_points if k.status == "partial"]
    missing = [k for k in key_points if k.status == "missing"]
    gaming = [f for f in flags if f.code in ("keyword_stuffing", "copied_example", "off_topic", "injection_attempt")]

    if gaming:
        summary = f"{score:g}/5. " + " ".join(f.reason for f in gaming)
    else:
        summary = (
            f"{score:g}/5. You covered {len(covered)} of {len(key_points)} key points"
            + (f" and touched on {len(partial)} more" if partial else "")
            + "."
        )

    strengths: list[str] = []
    if not gaming:
        for kp in sorted(covered, key=lambda k: (-k.weight, -k.similarity))[:3]:
            strengths.append(f"{_clip(kp.text, 110)}: “{_clip(kp.evidence or '', 140)}”")
        if len(strengths) < 2 and specificity.score >= 0.5:
            detail = ", ".join(list(specificity.named[:3]) + list(specificity.numbers[:2]))
            strengths.append(f"Concrete detail ({detail}) makes the answer credible.")
        if len(strengths) < 2 and structure.complete and structure.expected != "none":
            strengths.append(
                "Clear structure: " + ("a complete STAR story." if structure.expected == "star" else "an ordered plan.")
            )

    cue_map = {kp.id: kp.cues for kp in question.key_points}
    improvements: list[str] = []
    if gaming:
        improvements.append("Answer the question itself in full sentences: what you would do, why, and an example.")
    gaps = sorted(missing, key=lambda k: -k.weight) + sorted(partial, key=lambda k: -k.weight)
    for kp in gaps[: 3 - len(improvements)]:
        improvements.append(_how_to_add(kp, cue_map.get(kp.id, ())))
    if len(improvements) < 3 and not gaming and specificity.score < 0.4:
        improvements.append(
            "Be specific: name the method, law or tool you would use, give a number, and say who you would involve."
        )
    if len(improvements) < 3 and structure.advice and not gaming:
        improvements.append(structure.advice)
    if len(improvements) < 3 and delivery.notes and not gaming:
        improvements.append(delivery.notes[0])

    drop = None
    if pitfalls:
        first = pitfalls[0]
        drop = f"Drop this: {_lower_first(first.text.rstrip('.'))}. You said: “{_clip(first.evidence, 140)}”"

    return Feedback(
        summary=summary,
        strengths=tuple(strengths),
        improvements=tuple(improvements[:3]),
        drop=drop,
        structure_advice=structure.advice,
    )
