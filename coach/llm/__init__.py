"""Optional LLM features over a ChatProvider: coach feedback, the conversational interviewer, drafting.

Pure core: no web, CLI or storage imports. Every function takes the provider (or None) and returns a
result that is safe to show whatever the model did; failures come back as data, never as exceptions.
"""

from coach.llm.drafting import Draft, draft_answer, outline
from coach.llm.feedback import PASS_MARK, CoachFeedback, coach_feedback
from coach.llm.interviewer import Rephrasing, rephrase_follow_up

__all__ = [
    "PASS_MARK",
    "CoachFeedback",
    "Draft",
    "Rephrasing",
    "coach_feedback",
    "draft_answer",
    "outline",
    "rephrase_follow_up",
]
