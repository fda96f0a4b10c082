"""The Grade: a stable, documented JSON result (docs/grading.md describes every field)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

ENGINE_VERSION = "1.0.0"

Status = Literal["covered", "partial", "missing"]
FlagCode = Literal["keyword_stuffing", "copied_example", "off_topic", "injection_attempt", "too_short", "repetition"]

# Flags that mean "this does not read as a genuine answer": they cap the score.
SCORE_CAPS: dict[str, float] = {
    "keyword_stuffing": 1.5,
    "off_topic": 1.5,
    "injection_attempt": 1.5,
    "copied_example": 1.5,
    "too_short": 2.0,
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KeyPointResult(_Frozen):
    id: str
    text: str
    weight: float
    status: Status
    similarity: float
    cue_hits: tuple[str, ...] = ()
    evidence: str | None = None


class PitfallResult(_Frozen):
    id: str
    text: str
    evidence: str


class Flag(_Frozen):
    code: FlagCode
    reason: str
    evidence: str | None = None


class StructureResult(_Frozen):
    expected: Literal["star", "framework", "none"]
    elements: dict[str, bool]
    measured_result: bool | None = None
    ordered: bool | None = None
    complete: bool
    advice: str | None = None


class SpecificityResult(_Frozen):
    score: float
    numbers: tuple[str, ...]
    named: tuple[str, ...]
    stakeholders: tuple[str, ...]
    example: bool


class DeliveryResult(_Frozen):
    words: int
    sentences: int
    estimated_seconds: int
    seconds: float | None = None
    words_per_minute: float | None = None
    length: Literal["too short", "short", "good", "long", "too long"]
    fillers: dict[str, int]
    hedges: dict[str, int]
    long_sentences: int
    repeated_sentences: int
    notes: tuple[str, ...] = ()


class Feedback(_Frozen):
    summary: str
    strengths: tuple[str, ...]
    improvements: tuple[str, ...]
    drop: str | None = None
    structure_advice: str | None = None


class Engine(_Frozen):
    version: str
    embedder: str


class Grade(_Frozen):
    question_id: str
    score: float
    coverage: float
    relevance: dict[str, float]
    key_points: tuple[KeyPointResult, ...]
    pitfalls: tuple[PitfallResult, ...]
    structure: StructureResult
    specificity: SpecificityResult
    delivery: DeliveryResult
    flags: tuple[Flag, ...]
    feedback: Feedback
    engine: Engine
    reference_only: bool = False

    def has_flag(self, code: str) -> bool:
        return any(f.code == code for f in self.flags)

    @property
    def counts_toward_progress(self) -> bool:
        """Gamed answers (copies, lists, injections, off-topic) are shown but never count as mastery."""
        return not any(
            f.code in ("copied_example", "keyword_stuffing", "injection_attempt", "off_topic") for f in self.flags
        )
