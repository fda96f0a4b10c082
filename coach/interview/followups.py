"""Follow-ups: after an answer, ask about the heaviest key point it missed, then grade the reply against
the targeted key points only.

The question's own follow-ups are preferred: each is matched to the key point it is closest to (by
embedding similarity when an embedder is given, plus cue words). When none fits the gap, a probe names
the topic of the missing point without saying what a good answer contains.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from coach.bank.schema import KeyPoint, Question
from coach.grading.model import Grade
from coach.grading.rubric import cue_hits

FITS_ALONE = 0.45  # a follow-up this close to a key point targets it, whatever else it is close to
FITS_BEST = 0.35  # ... or this close, when that key point is the follow-up's closest one
CUE_WEIGHT = 0.04  # per cue word of the key point the follow-up uses, at most two (as the grader does)

# The topic is quoted: it is a label (often a key point's id), which reads oddly as part of a sentence.
_PROBES = {
    "behavioral": "In that example you did not say much about “{topic}”. What did you do there, and what came of it?",
    "leadership": "You did not say much about “{topic}”. How did you handle that part, and what came of it?",
    "situational": "One part you have not covered yet: “{topic}”. What would you do about it here? Walk me through it.",
    "technical": "Your answer did not cover “{topic}”. How would you handle that here?",
    "competency": "Your answer did not cover “{topic}”. How would you approach it?",
}


class EmbedBatch(Protocol):
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray: ...


class GradeAnswer(Protocol):
    def grade(self, question: Question, answer: str, *, seconds: float | None = None) -> Grade: ...


@dataclass(frozen=True)
class FollowUp:
    prompt: str
    kind: Literal["question", "probe"]  # one of the question's follow-ups, or a probe built for the gap
    target_key_points: tuple[str, ...]  # key point ids, heaviest gap first
    topic: str  # the gap in a few words (never the key point's content)

    def to_dict(self) -> dict[str, object]:
        return {
            "prompt": self.prompt,
            "kind": self.kind,
            "target_key_points": list(self.target_key_points),
            "topic": self.topic,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> FollowUp:
        kind: Literal["question", "probe"] = "probe" if data.get("kind") == "probe" else "question"
        targets = data.get("target_key_points") or []
        return cls(
            prompt=str(data["prompt"]),
            kind=kind,
            target_key_points=tuple(str(t) for t in targets) if isinstance(targets, list) else (),
            topic=str(data.get("topic") or ""),
        )


def missing_key_points(question: Question, grade: Grade) -> list[KeyPoint]:
    """The question's key points the grade found missing, heaviest first (ties in rubric order)."""
    missing = {kp.id for kp in grade.key_points if kp.status == "missing"}
    order = {kp.id: i for i, kp in enumerate(question.key_points)}
    gaps = [kp for kp in question.key_points if kp.id in missing]
    return sorted(gaps, key=lambda kp: (-kp.weight, order[kp.id]))


def choose_follow_up(question: Question, grade: Grade, *, embedder: EmbedBatch | None = None) -> FollowUp | None:
    """The follow-up for the heaviest missing key point, or None when nothing is missing."""
    gaps = missing_key_points(question, grade)
    if not gaps:
        return None
    target = gaps[0]
    fit = _fit(question, embedder)
    kp_index = {kp.id: i for i, kp in enumerate(question.key_points)}
    best: tuple[float, int] | None = None
    for j in range(len(question.follow_ups)):
        if _fits(fit, kp_index[target.id], j) and (best is None or fit[kp_index[target.id], j] > best[0]):
            best = (float(fit[kp_index[target.id], j]), j)
    if best is None:
        return FollowUp(
            prompt=probe_for(question, target),
            kind="probe",
            target_key_points=(target.id,),
            topic=topic_of(question, target),
        )
    j = best[1]
    # The same follow-up often reaches a second gap too ("how would you test for bias anyway?"): grade both.
    also = tuple(kp.id for kp in gaps[1:] if _fits(fit, kp_index[kp.id], j))
    return FollowUp(
        prompt=question.follow_ups[j],
        kind="question",
        target_key_points=(target.id, *also),
        topic=topic_of(question, target),
    )


def _fit(question: Question, embedder: EmbedBatch | None) -> np.ndarray:
    """(key points x follow-ups) fit: cosine similarity plus a little per shared cue."""
    kps, fus = question.key_points, question.follow_ups
    hits = np.array([[min(len(cue_hits(kp.cues, fu)), 2) for fu in fus] for kp in kps], dtype=float).reshape(
        len(kps), len(fus)
    )
    if embedder is None or not fus:
        # Without an embedder cues are all there is: one shared cue fits the closest key point, two fit alone.
        return np.where(hits > 0, FITS_BEST + (FITS_ALONE - FITS_BEST) * (hits - 1), 0.0)
    vectors = embedder.embed_batch([kp.text for kp in kps] + list(fus))
    sims = vectors[: len(kps)] @ vectors[len(kps) :].T
    return np.asarray(sims, dtype=float) + CUE_WEIGHT * hits


def _fits(fit: np.ndarray, i: int, j: int) -> bool:
    value = float(fit[i, j])
    return value >= FITS_ALONE or (value >= FITS_BEST and int(fit[:, j].argmax()) == i)


def topic_of(question: Question, key_point: KeyPoint) -> str:
    """A few words naming a key point's topic: the question skill that shares its words, else its id."""
    id_words = [w for w in re.split(r"[-_.]+", key_point.id) if w and not w.isdigit()]
    stems = {w[:5] for w in id_words if len(w) > 2}
    for skill in question.skills:
        if stems & {w[:5] for w in re.findall(r"[a-z0-9]+", skill.lower()) if len(w) > 2}:
            return skill
    return " ".join(id_words) or "that part of the question"


def probe_for(question: Question, key_point: KeyPoint) -> str:
    """A question that names the gap's topic and nothing of the expected content."""
    template = _PROBES.get(question.type, _PROBES["competency"])
    return template.format(topic=topic_of(question, key_point))


def reduced_question(question: Question, follow_up: FollowUp) -> Question:
    """The question with only the targeted key points, asked as the follow-up: what its reply is graded on."""
    targets = set(follow_up.target_key_points)
    kept = tuple(kp for kp in question.key_points if kp.id in targets) or question.key_points
    return question.model_copy(
        update={
            "text": f"{question.text}\n\nFollow-up: {follow_up.prompt}",
            "key_points": kept,
            # A short reply to one point is not a story: structure is not expected of it.
            "structure": "none",
            "follow_ups": (),
        }
    )


def grade_reply(
    grader: GradeAnswer, question: Question, follow_up: FollowUp, reply: str, *, seconds: float | None = None
) -> Grade:
    """Grade a follow-up reply with the normal grader, against the targeted key points only."""
    return grader.grade(reduced_question(question, follow_up), reply, seconds=seconds)
