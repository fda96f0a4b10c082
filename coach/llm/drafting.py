"""Drafting help: turn the user's own notes into an answer in the question's structure.

With an LLM, the draft is written from the notes only; then every number and every capitalised name in it
must come from the notes (or the question and its key points): a draft that brings in anything else is
refused, because it would be a made-up story. Without an LLM, or when the draft is refused, the same
feature returns a structured outline: the sections the question expects, the key points to cover and the
notes themselves, with nothing invented.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from coach.bank.schema import Question
from coach.errors import ProviderError
from coach.llm.guard import Fence, StrictOutput, ask_json, clean_output, clean_untrusted, normalise_words
from coach.providers.base import ChatProvider

LABEL = "Draft built from your notes"
MAX_NOTES_CHARS = 5000

STAR = (
    ("Situation", "Where and when: the product, the team, what was at stake."),
    ("Task", "What you were responsible for."),
    ("Action", "What you did, step by step, and why."),
    ("Result", "What came of it, measured if you can, and what you learned."),
)


class DraftSection(StrictOutput):
    heading: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    text: Annotated[str, StringConstraints(min_length=1, max_length=1500)]


class DraftOutput(StrictOutput):
    sections: Annotated[list[DraftSection], Field(min_length=1, max_length=6)]


class Section(BaseModel):
    heading: str
    text: str
    bullets: list[str] = []


class Draft(BaseModel):
    source: Literal["llm", "outline"]
    label: str = LABEL
    structure: str
    sections: list[Section]
    unsupported: list[str] = []  # facts the model brought in that are not in the notes (why it was refused)
    error_kind: str | None = None
    error: str | None = None

    def as_text(self) -> str:
        parts = [self.label.upper(), ""]
        for section in self.sections:
            parts.append(section.heading)
            if section.text:
                parts.append(section.text)
            parts += [f"- {b}" for b in section.bullets]
            parts.append("")
        return "\n".join(parts).strip()


def note_lines(notes: str) -> list[str]:
    cleaned = clean_untrusted(notes, limit=MAX_NOTES_CHARS)
    return [line.strip(" -*•\t") for line in cleaned.splitlines() if line.strip(" -*•\t")]


def outline(question: Question, notes: str) -> Draft:
    """The deterministic outline: expected sections, key points to cover, and the notes as given."""
    key_points = [kp.text for kp in sorted(question.key_points, key=lambda kp: -kp.weight)]
    sections: list[Section]
    if question.structure == "star":
        sections = [Section(heading=h, text=hint) for h, hint in STAR]
    elif question.structure == "framework":
        sections = [
            Section(heading="Frame", text="Say what is at stake and for whom."),
            Section(heading="Approach", text="Walk through the steps you would take, in order."),
            Section(heading="Close", text="Name the trade-off you would accept and how you would check it worked."),
        ]
    else:
        sections = [Section(heading="Answer", text="Lead with your main point, then support it.")]
    sections.append(Section(heading="Points to cover", text="", bullets=key_points))
    lines = note_lines(notes)
    if lines:
        sections.append(Section(heading="Your notes", text="", bullets=lines))
    return Draft(source="outline", structure=question.structure, sections=sections)


def build_messages(question: Question, notes: str, fence: Fence) -> tuple[str, str]:
    shape = {
        "star": "four sections headed Situation, Task, Action, Result",
        "framework": "three sections headed Frame, Approach, Close",
    }.get(question.structure, "one section headed Answer")
    points = "\n".join(f"- {kp.text}" for kp in question.key_points)
    system = (
        "You help a candidate prepare an interview answer from their own notes. Write a first-person draft in "
        f"{shape}. Use only facts from the notes: add no names, numbers, dates, places, organisations or "
        "events that are not in them; where the notes lack something, write [add: what is missing] instead.\n"
        f"Question: {question.text}\n"
        f"Points a strong answer covers:\n{points}\n"
        'Reply with one JSON object only: {"sections": [{"heading": str, "text": str}]}.\n' + fence.system_note
    )
    user = "The candidate's notes:\n" + fence.wrap("NOTES", clean_untrusted(notes, limit=MAX_NOTES_CHARS))
    return system, user


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CAPITALISED = re.compile(r"\b[A-Z][\w'-]*")
_COMMON_CAPS = frozenset(
    "I I'm I've I'd AI ML LLM Situation Task Action Result Frame Approach Close Answer Add".lower().split()
)


def unsupported_facts(draft_text: str, sources: str) -> list[str]:
    """Numbers and capitalised names in the draft that the notes (or question material) do not contain."""
    known = f" {normalise_words(sources)} "
    found: list[str] = []
    for number in _NUMBER.findall(draft_text):
        if f" {normalise_words(number)} " not in known and number not in sources:
            found.append(number)
    for match in _CAPITALISED.finditer(draft_text):
        before = draft_text[: match.start()].rstrip(" \t\"'(")
        if not before or before[-1] in ".!?:\n[-":
            continue  # a capital that starts a sentence or a line says nothing
        name = match.group(0)
        words = [w for w in normalise_words(name).split() if w not in _COMMON_CAPS]
        if words and any(f" {w} " not in known for w in words):
            found.append(name)
    return list(dict.fromkeys(found))


def draft_answer(
    provider: ChatProvider | None, question: Question, notes: str, *, user_key: str, max_tokens: int = 600
) -> Draft:
    """A draft from the notes (LLM) or, without one or when the draft invents facts, the outline."""
    if provider is None:
        return outline(question, notes)
    if not note_lines(notes):
        return outline(question, notes).model_copy(
            update={"error_kind": "no_notes", "error": "Write some notes first: a draft is built from them."}
        )
    fence = Fence.new()
    system, user = build_messages(question, notes, fence)
    try:
        output = ask_json(
            provider,
            system=system,
            user=user,
            schema=DraftOutput,
            fence=fence,
            user_key=user_key,
            max_tokens=max_tokens,
        )
    except ProviderError as error:
        return outline(question, notes).model_copy(update={"error_kind": error.kind, "error": error.message})
    sections = [
        Section(heading=clean_output(s.heading, limit=60), text=clean_output(s.text, limit=1500))
        for s in output.sections
    ]
    text = "\n".join(f"{s.heading}\n{s.text}" for s in sections)
    sources = " ".join([notes, question.text, *(kp.text for kp in question.key_points)])
    unsupported = unsupported_facts(text, sources)
    if unsupported:
        return outline(question, notes).model_copy(
            update={
                "unsupported": unsupported,
                "error_kind": "unsupported_facts",
                "error": "The AI draft added facts that are not in your notes ("
                + ", ".join(unsupported[:5])
                + "), so it was set aside; here is the outline instead.",
            }
        )
    return Draft(source="llm", structure=question.structure, sections=sections)
