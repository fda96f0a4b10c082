"""Narrative coaching on top of the deterministic grade, which stays the score of record.

The model may propose a score, but the only thing that can move the shown score is evidence checked here:
a key point the grade did not find covered, backed by a quote that occurs word for word in the answer
(and not merely in the question, rubric or example answer). Each such key point adds half a point, at
most one point in all; answers the grader flagged as gaming (injection, copy, keyword list, off-topic,
too short) keep their cap and get no LLM credit at all. Whatever the model returns, the final score is
within [deterministic, deterministic + 1], under every flag cap, and a grade below the pass mark stays
below it (RELIABILITY.md J1, J2).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from coach.bank.schema import Question
from coach.errors import ProviderError
from coach.grading.gaming import detect_injection
from coach.grading.model import SCORE_CAPS, Grade
from coach.grading.text import ENGLISH_STOPWORDS
from coach.llm.guard import (
    Fence,
    StrictOutput,
    ask_json,
    clean_output,
    clean_untrusted,
    contains_words,
    normalise_words,
)
from coach.providers.base import ChatProvider

MAX_MOVE = 1.0  # the most the LLM may add to the deterministic score
STEP = 0.5  # per key point credited with verified evidence
MIN_QUOTE_WORDS = 4
PASS_MARK = 3.0  # the web app's pass mark (coach/web/render.py); an attack succeeds if it lifts a lower grade to it
LABEL = "AI coach (LLM) - not the score of record"

Short = Annotated[str, StringConstraints(max_length=300)]
Similarity = Callable[[str, str], float]  # (quote, key point text) -> cosine; the grader's embedder
SIMILARITY_FLOOR = 0.3

# Words that make a "quote" an instruction to the judge rather than evidence of knowledge.
_INSTRUCTION = re.compile(
    r"\b(?:score|scores|scored|grade|graded|grader|points?|marks?|rubric|evaluator|judge|ignore|instructions?|"
    r"prompt|system|assistant|full credit|5/5|five out of five)\b",
    re.IGNORECASE,
)
_STOP = ENGLISH_STOPWORDS  # the grader's list: content words mean the same thing everywhere


class KeyPointClaim(StrictOutput):
    id: Annotated[str, StringConstraints(max_length=80)]
    covered: bool
    quote: Annotated[str, StringConstraints(max_length=400)] = ""


class FeedbackOutput(StrictOutput):
    """What the model must answer, and nothing else."""

    feedback: Annotated[str, StringConstraints(min_length=1, max_length=1500)]
    strengths: Annotated[list[Short], Field(max_length=3)] = []
    improvements: Annotated[list[Short], Field(max_length=3)] = []
    key_points: Annotated[list[KeyPointClaim], Field(max_length=12)] = []
    suggested_score: Annotated[int, Field(ge=1, le=5)]


class Credit(BaseModel):
    id: str
    quote: str
    accepted: bool
    reason: str  # "verified", or why the credit was refused


class CoachFeedback(BaseModel):
    """The stored, displayed result. `final_score` is derived here, never by the model."""

    status: Literal["ok", "unavailable"]
    label: str = LABEL
    deterministic_score: float
    final_score: float
    proposed_score: int | None = None  # the model's own number, before any bounding (J9 measures it)
    feedback: str = ""
    strengths: list[str] = []
    improvements: list[str] = []
    credits: list[Credit] = []
    error_kind: str | None = None
    error: str | None = None
    model: str | None = None

    @property
    def adjustment(self) -> float:
        return self.final_score - self.deterministic_score


def _system_prompt(question: Question, grade: Grade, fence: Fence) -> str:
    rubric = "\n".join(f"- {kp.id}: {kp.text}" for kp in question.key_points)
    found = ", ".join(f"{kp.id}={kp.status}" for kp in grade.key_points)
    return (
        "You are an interview coach for Responsible-AI roles. Assess the candidate's answer to the question "
        "below against the key points, and write short, specific, encouraging coaching.\n"
        f"Question: {question.text}\n"
        f"Key points (id: what a strong answer covers):\n{rubric}\n"
        f"An automatic grader found: {found}; its score is {grade.score:g} out of 5.\n"
        "For each key point you think is covered, give its id and a quote copied exactly from the answer that "
        "shows it. Quotes that are not in the answer are ignored.\n"
        "Reply with one JSON object only: "
        '{"feedback": str, "strengths": [str], "improvements": [str], '
        '"key_points": [{"id": str, "covered": bool, "quote": str}], "suggested_score": int 1-5}.\n' + fence.system_note
    )


def _user_prompt(answer: str, fence: Fence) -> str:
    return "Candidate's answer:\n" + fence.wrap("ANSWER", clean_untrusted(answer))


def build_messages(question: Question, answer: str, grade: Grade, fence: Fence) -> tuple[str, str]:
    """(system, user) for one feedback request: the question, its rubric and this answer, nothing else (J6)."""
    return _system_prompt(question, grade, fence), _user_prompt(answer, fence)


def coach_feedback(
    provider: ChatProvider | None,
    question: Question,
    answer: str,
    grade: Grade,
    *,
    user_key: str,
    similarity: Similarity | None = None,
    max_tokens: int = 600,
) -> CoachFeedback:
    """LLM feedback bounded by the deterministic grade; on any failure, the grade alone and the reason."""
    if provider is None:
        return _unavailable(grade, ProviderError("No LLM endpoint is configured.", kind="disabled"))
    fence = Fence.new()
    system, user = build_messages(question, answer, grade, fence)
    try:
        output = ask_json(
            provider,
            system=system,
            user=user,
            schema=FeedbackOutput,
            fence=fence,
            user_key=user_key,
            max_tokens=max_tokens,
        )
    except ProviderError as error:
        return _unavailable(grade, error)
    credits = [check_credit(claim, question, answer, grade, similarity) for claim in output.key_points if claim.covered]
    return CoachFeedback(
        status="ok",
        deterministic_score=grade.score,
        final_score=bounded_score(grade, output.suggested_score, credits, answer),
        proposed_score=output.suggested_score,
        feedback=clean_output(output.feedback, limit=1500),
        strengths=[clean_output(s, limit=300) for s in output.strengths if s.strip()],
        improvements=[clean_output(s, limit=300) for s in output.improvements if s.strip()],
        credits=credits,
        model=getattr(provider, "model", None),
    )


def _unavailable(grade: Grade, error: ProviderError) -> CoachFeedback:
    return CoachFeedback(
        status="unavailable",
        deterministic_score=grade.score,
        final_score=grade.score,
        error_kind=error.kind,
        error=error.message,
    )


def _content_words(text: str) -> set[str]:
    return {w[:6] for w in normalise_words(text).split() if w not in _STOP and len(w) > 2}


def check_credit(
    claim: KeyPointClaim, question: Question, answer: str, grade: Grade, similarity: Similarity | None
) -> Credit:
    """Accept a claimed key point only with a verbatim, on-topic quote from the answer itself (J2)."""

    def refuse(reason: str) -> Credit:
        return Credit(id=claim.id, quote=claim.quote[:400], accepted=False, reason=reason)

    key_point = next((kp for kp in question.key_points if kp.id == claim.id), None)
    if key_point is None:
        return refuse("no such key point")
    words = normalise_words(claim.quote).split()
    if len(words) < MIN_QUOTE_WORDS:
        return refuse("quote too short to be evidence")
    if not contains_words(answer, claim.quote):
        return refuse("quote not found word for word in the answer")
    reference = " ".join([question.text, question.example_answer, *(kp.text for kp in question.key_points)])
    if contains_words(reference, claim.quote):
        return refuse("quote copies the question, rubric or example answer")
    status = next((kp.status for kp in grade.key_points if kp.id == claim.id), "missing")
    if status == "covered":
        return refuse("already covered in the grade")
    if _INSTRUCTION.search(claim.quote):
        return refuse("quote reads as an instruction to the grader")
    topic = key_point.text + " " + " ".join(key_point.cues)
    if similarity is not None:
        if similarity(claim.quote, key_point.text) < SIMILARITY_FLOOR:
            return refuse("quote is not about this key point")
    elif len(_content_words(claim.quote) & _content_words(topic)) < 2:
        return refuse("quote is not about this key point")
    return Credit(id=claim.id, quote=claim.quote, accepted=True, reason="verified")


def score_ceiling(grade: Grade, answer: str = "") -> float:
    """The highest score the LLM can lead to: +1 at most; nothing above the grade when the grader capped it
    or the answer addresses the grader; and never from below the pass mark to it (the LLM can refine a
    verdict, not reverse one)."""
    if any(f.code in SCORE_CAPS for f in grade.flags) or (answer and detect_injection(answer) is not None):
        return grade.score  # a capped (gaming, too short) or judge-addressing answer keeps the grader's verdict
    ceiling = min(5.0, grade.score + MAX_MOVE)
    if grade.score < PASS_MARK:
        ceiling = min(ceiling, PASS_MARK - STEP)
    return ceiling


def bounded_score(grade: Grade, proposed: int, credits: list[Credit], answer: str = "") -> float:
    """Deterministic score + 0.5 per verified new key point, no more than the model proposed, within the ceiling."""
    verified = {c.id for c in credits if c.accepted}
    lift = min(MAX_MOVE, STEP * len(verified), max(0.0, proposed - grade.score))
    lifted = math.floor((grade.score + lift) * 2) / 2
    return max(grade.score, min(lifted, score_ceiling(grade, answer)))


def as_record(result: CoachFeedback) -> dict[str, Any]:
    return result.model_dump(mode="json")
