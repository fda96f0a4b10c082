"""Mock interviews: plan the questions, ask them, follow up on gaps, and keep every step in storage."""

from coach.interview.followups import FollowUp, choose_follow_up, grade_reply, probe_for, reduced_question
from coach.interview.jobs import JobMatch, JobProfile, check_job_description, extract_job_profile, match_question
from coach.interview.planner import History, Plan, PlanItem, PlanRequest, QuestionHistory, plan_session
from coach.interview.session import Ask, Interview, Outcome, RegradeSummary, load_history, regrade_attempts

__all__ = [
    "Ask",
    "FollowUp",
    "History",
    "Interview",
    "JobMatch",
    "JobProfile",
    "Outcome",
    "Plan",
    "PlanItem",
    "PlanRequest",
    "QuestionHistory",
    "RegradeSummary",
    "check_job_description",
    "choose_follow_up",
    "extract_job_profile",
    "grade_reply",
    "load_history",
    "match_question",
    "plan_session",
    "probe_for",
    "reduced_question",
    "regrade_attempts",
]
