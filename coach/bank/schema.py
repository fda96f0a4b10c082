"""The question format: pydantic models for packs, questions, key points and pitfalls."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

Level = Literal["beginner", "intermediate", "advanced"]
Seniority = Literal["junior", "mid", "senior", "lead", "manager", "director"]
Category = Literal["concepts", "scenario", "workflow-tools", "behavioral", "technical", "leadership", "situational"]
QuestionType = Literal["behavioral", "situational", "technical", "leadership", "competency"]
Structure = Literal["star", "framework", "none"]

LEVELS: tuple[str, ...] = ("beginner", "intermediate", "advanced")
SENIORITIES: tuple[str, ...] = ("junior", "mid", "senior", "lead", "manager", "director")
CATEGORIES: tuple[str, ...] = (
    "concepts",
    "scenario",
    "workflow-tools",
    "behavioral",
    "technical",
    "leadership",
    "situational",
)
TYPES: tuple[str, ...] = ("behavioral", "situational", "technical", "leadership", "competency")
STRUCTURES: tuple[str, ...] = ("star", "framework", "none")
KNOWN_ROLES: dict[str, str] = {
    "responsible-ai-pm": "Responsible AI Product Manager",
    "ai-ethics-specialist": "AI Ethics Specialist",
}

SLUG = r"^[a-z0-9][a-z0-9._-]*$"
REGION = r"^[A-Z]{2}$"


def _clean_cues(cues: tuple[str, ...]) -> tuple[str, ...]:
    cleaned = tuple(c.strip().lower() for c in cues)
    if any(not c for c in cleaned):
        raise ValueError("a cue must be a non-empty word or phrase")
    return cleaned


# Key points and pitfalls share one rule for cues: lower-cased, no empty entries.
Cues = Annotated[tuple[str, ...], AfterValidator(_clean_cues)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class KeyPoint(_Strict):
    """One thing a strong answer covers; the grader looks for a sentence that makes it."""

    id: str = Field(pattern=SLUG, max_length=80)
    text: str = Field(min_length=3, max_length=600)
    weight: float = Field(default=1.0, gt=0, le=5)
    cues: Cues = ()


class Pitfall(_Strict):
    """Something a candidate should not say; detected with evidence and negation awareness."""

    id: str = Field(pattern=SLUG, max_length=80)
    text: str = Field(min_length=3, max_length=600)
    cues: Cues = ()


class Question(_Strict):
    """An interview question with the full guidance a candidate and the grader need."""

    id: str = Field(pattern=SLUG, max_length=120)
    text: str = Field(min_length=3, max_length=2000)
    role: str = Field(pattern=SLUG, max_length=60)
    level: Level
    seniority: Seniority | None = None
    category: Category
    type: QuestionType
    region: tuple[str, ...] = ()
    skills: tuple[str, ...] = Field(min_length=1)
    why_asked: str = Field(min_length=10, max_length=2000)
    key_points: tuple[KeyPoint, ...] = Field(min_length=1, max_length=12)
    pitfalls: tuple[Pitfall, ...] = ()
    structure: Structure
    example_answer: str = Field(min_length=2, max_length=20000)
    follow_ups: tuple[str, ...] = ()
    references: tuple[str, ...] = ()

    @field_validator("region", mode="before")
    @classmethod
    def _region_is_a_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [value]
        return value

    @field_validator("region")
    @classmethod
    def _region_codes(cls, region: tuple[str, ...]) -> tuple[str, ...]:
        import re

        for code in region:
            if not re.match(REGION, code):
                raise ValueError(f"region codes are two capital letters such as BR, ES, EU, US; got {code!r}")
        return region

    @field_validator("key_points", "pitfalls")
    @classmethod
    def _ids_unique_within_question(
        cls, items: tuple[KeyPoint, ...] | tuple[Pitfall, ...], info: ValidationInfo
    ) -> tuple[KeyPoint, ...] | tuple[Pitfall, ...]:
        # A field validator (not a model validator) so the error is reported against the list's own field.
        label = "key point" if info.field_name == "key_points" else "pitfall"
        seen: set[str] = set()
        for item in items:
            if item.id in seen:
                raise ValueError(f"{label} id {item.id!r} appears twice in this question; give each {label} its own id")
            seen.add(item.id)
        return items

    @property
    def role_title(self) -> str:
        return KNOWN_ROLES.get(self.role, self.role.replace("-", " ").title())

    def total_weight(self) -> float:
        return sum(kp.weight for kp in self.key_points)


class Pack(_Strict):
    """A named set of questions loaded from one YAML file."""

    id: str = Field(pattern=SLUG, max_length=80)
    title: str = ""
    description: str = ""
    version: str = "1"
    questions: tuple[Question, ...] = ()
