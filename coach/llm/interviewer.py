"""The conversational interviewer: the planner chooses what to probe; the LLM only says it more naturally.

The request carries the question, the planner's follow-up (and its topic) and the answer just given;
never the key points or the example answer, so the model cannot hand them out. Its wording is then
checked: it must be a question about the planner's topic, and it must not share phrasing with the
example answer or the key points that the user's own words and the question do not already contain.
Anything else falls back to the planner's wording (RELIABILITY.md J8).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, StringConstraints

from coach.bank.schema import Question
from coach.errors import ProviderError
from coach.grading.text import ENGLISH_STOPWORDS
from coach.interview.followups import FollowUp
from coach.llm.guard import Fence, StrictOutput, ask_json, clean_output, clean_untrusted, normalise_words
from coach.providers.base import ChatProvider

LABEL = "AI interviewer (LLM) - rephrasing the planned follow-up"
SHINGLE = 5  # a run of this many words shared with hidden material counts as revealing it
_STOP = ENGLISH_STOPWORDS | {"tell"}  # the grader's list: content words mean the same thing everywhere


class FollowUpOutput(StrictOutput):
    question: Annotated[str, StringConstraints(min_length=5, max_length=400)]


class Rephrasing(BaseModel):
    source: Literal["llm", "planner"]
    text: str  # what to ask: the model's wording when it passed every check, else the planner's
    planner_text: str
    label: str = LABEL
    error_kind: str | None = None
    error: str | None = None


def build_messages(question: Question, follow_up: FollowUp, answer: str, fence: Fence) -> tuple[str, str]:
    system = (
        "You are a friendly, professional interviewer for a Responsible-AI role. The interview plan says which "
        "follow-up question to ask next. Rephrase it naturally in one or two sentences; you may first react "
        "briefly to something the candidate said. Ask about the same topic only, give no hints, no model "
        "answers and no evaluation, and end with a question mark.\n"
        f"Interview question: {question.text}\n"
        f"Planned follow-up: {follow_up.prompt}\n"
        f"Topic to probe: {follow_up.topic}\n"
        'Reply with one JSON object only: {"question": str}.\n' + fence.system_note
    )
    user = "The candidate's last answer:\n" + fence.wrap("ANSWER", clean_untrusted(answer))
    return system, user


def rephrase_follow_up(
    provider: ChatProvider | None,
    question: Question,
    follow_up: FollowUp,
    answer: str,
    *,
    user_key: str,
    max_tokens: int = 200,
) -> Rephrasing:
    planner = Rephrasing(source="planner", text=follow_up.prompt, planner_text=follow_up.prompt)
    if provider is None:
        return planner.model_copy(update={"error_kind": "disabled", "error": "No LLM endpoint is configured."})
    fence = Fence.new()
    system, user = build_messages(question, follow_up, answer, fence)
    try:
        output = ask_json(
            provider,
            system=system,
            user=user,
            schema=FollowUpOutput,
            fence=fence,
            user_key=user_key,
            max_tokens=max_tokens,
        )
    except ProviderError as error:
        return planner.model_copy(update={"error_kind": error.kind, "error": error.message})
    text = clean_output(output.question, limit=400)
    problem = check_rephrasing(text, question, follow_up, answer)
    if problem:
        return planner.model_copy(update={"error_kind": "bad_output", "error": problem})
    return Rephrasing(source="llm", text=text, planner_text=follow_up.prompt)


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = normalise_words(text).split()
    return {tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def _content(text: str) -> set[str]:
    return {w[:6] for w in normalise_words(text).split() if w not in _STOP and len(w) > 2}


def check_rephrasing(text: str, question: Question, follow_up: FollowUp, answer: str) -> str | None:
    """Why the model's follow-up cannot be shown, or None when it can."""
    if "?" not in text:
        return "the rephrasing is not a question"
    allowed = " ".join([question.text, follow_up.prompt, follow_up.topic, answer])
    hidden = [question.example_answer, *(kp.text for kp in question.key_points)]
    revealed = _shingles(text) & (set().union(*(_shingles(h) for h in hidden)) - _shingles(allowed))
    if revealed:
        return "the rephrasing repeats the example answer or the rubric"
    new_words = _content(text) - _content(allowed)
    for kp in question.key_points:
        words = _content(kp.text) - _content(allowed)
        if len(words) >= 3 and len(words & new_words) >= max(3, int(0.6 * len(words))):
            return "the rephrasing gives away a key point"
    if not _content(text) & _content(follow_up.prompt + " " + follow_up.topic):
        return "the rephrasing is not about the planned topic"
    return None
