"""`coach practice --ai-coach`: labelled LLM feedback and follow-up wording in the terminal, against a
scripted endpoint on 127.0.0.1; a hanging endpoint costs a timeout, never the session."""

from __future__ import annotations

import pytest
from _grading_fixtures import grader  # noqa: F401 - the one session-wide default grader
from fakes import FakeLLM, Reply, chat_json
from test_cli_practice import ANSWER, REPLY, ROLE, answers_file, flat, history, invoke, test_pack, wide_console  # noqa: F401

pytestmark = pytest.mark.usefixtures("grader", "wide_console", "test_pack")

REPHRASED = "Thanks. Who makes the final call on launching, and by when?"


def scripted(request):
    if "Planned follow-up" in request.message("system"):
        return chat_json({"question": REPHRASED})
    return chat_json(
        {"feedback": "Name the decision owner earlier.", "strengths": ["Clear risks"], "suggested_score": 4}
    )


@pytest.fixture
def fake(monkeypatch):
    server = FakeLLM(script=scripted)
    monkeypatch.setenv("COACH_LLM_BASE_URL", server.base_url)
    monkeypatch.setenv("COACH_LLM_TIMEOUT", "1")
    yield server
    server.close()


def test_the_ai_coach_needs_an_endpoint(tmp_path, monkeypatch):
    monkeypatch.delenv("COACH_LLM_BASE_URL", raising=False)
    result = invoke("practice", *ROLE, "--ai-coach", "--answers", answers_file(tmp_path, ANSWER))
    assert result.exit_code == 2
    assert "COACH_LLM_BASE_URL" in flat(result.output)


def test_practice_shows_labelled_ai_feedback_and_the_rephrased_follow_up(tmp_path, fake, monkeypatch):
    # The planner breaks ties with a jitter seeded by the day; on this day the launch question (which ANSWER
    # leaves a point open on, so a follow-up is asked and answered with REPLY) comes first.
    from datetime import UTC, datetime

    monkeypatch.setattr("coach.storage.tables.utcnow", lambda: datetime(2026, 11, 23, 12, tzinfo=UTC))
    path = answers_file(tmp_path, ANSWER, REPLY, ANSWER)
    result = invoke(
        "practice", *ROLE, "--category", "scenario", "--category", "technical", "--ai-coach", "--answers", path
    )
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert f"AI interviewer (LLM): {REPHRASED}" in out
    assert "AI coach (LLM) - not the score of record" in out and "Name the decision owner earlier." in out
    scores = [a["score"] for a in history()[0]["attempts"]]
    assert all(s is not None for s in scores)  # grades of record, stored as without the AI coach
    assert len(fake.requests) >= 3


def test_without_the_flag_nothing_is_sent_even_with_an_endpoint_configured(tmp_path, fake):
    result = invoke("practice", *ROLE, "--category", "scenario", "--answers", answers_file(tmp_path, ANSWER, REPLY))
    assert result.exit_code == 0, result.output
    assert "AI coach" not in result.output
    assert fake.connections == 0


def test_a_hanging_endpoint_costs_a_timeout_not_the_session(tmp_path, fake):
    fake.script = lambda r: Reply(hang=True)
    result = invoke(
        "practice", *ROLE, "--category", "scenario", "--ai-coach", "--answers", answers_file(tmp_path, ANSWER, REPLY)
    )
    assert result.exit_code == 0, result.output
    assert "LLM feedback unavailable" in flat(result.output) and "Session report" in result.output
    assert history()[0]["status"] == "finished"
