"""The JSON API under /api/v1 with personal access tokens, and `coach serve`."""
# ruff: noqa: F811 - pytest fixtures are imported from test_web_support and taken as arguments

from __future__ import annotations

import threading

import pytest
from test_web_support import (
    ANSWER,
    GOOD_QUESTION,
    app,  # noqa: F401
    client,  # noqa: F401
    make_app,  # noqa: F401
    page,
    post_form,
    real_grader,  # noqa: F401
    signed_up,
)

from coach.storage import repository


@pytest.fixture
def headers(client):
    """Authorization headers for a signed-up user's new token (made through the account page)."""
    signed_up(client)
    token = page(post_form(client, "/account/tokens", {"name": "tests"})).find(id="new-token")["value"]
    client.cookies.clear()  # the API must work without any cookie
    return {"authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "path", ["/api/v1/bank", f"/api/v1/bank/{GOOD_QUESTION}", "/api/v1/attempts", "/api/v1/export"]
)
def test_the_api_needs_a_token(client, path):
    for value in [None, "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz"]:
        response = client.get(path, headers={"authorization": value} if value else {})
        assert response.status_code == 401, (path, value)
        assert response.headers["www-authenticate"] == "Bearer"
        assert "token" in response.json()["detail"]


def test_the_bank_can_be_listed_and_filtered(app, client, headers):
    everything = client.get("/api/v1/bank", headers=headers).json()
    assert len(everything) == len(app.state.services.bank)
    advanced = client.get("/api/v1/bank?level=advanced", headers=headers).json()
    assert advanced and all(q["level"] == "advanced" for q in advanced)
    found = client.get("/api/v1/bank?q=retinal+photos", headers=headers).json()
    assert found[0]["id"] == "ethics-br-retinopathy-screening-review"


def test_one_question_comes_with_its_guidance(app, client, headers):
    question = client.get(f"/api/v1/bank/{GOOD_QUESTION}", headers=headers).json()
    assert question["key_points"] and question["example_answer"]
    assert client.get("/api/v1/bank/nope", headers=headers).status_code == 404


def test_grading_stores_the_attempt_and_returns_the_grade(app, client, headers):
    body = {"question_id": GOOD_QUESTION, "answer": ANSWER, "idempotency_key": "api-key-0001"}
    response = client.post("/api/v1/grade", json=body, headers=headers)
    assert response.status_code == 200, response.text
    attempt = response.json()
    assert attempt["status"] == "graded"
    assert 1 <= attempt["score"] <= 5
    assert attempt["grade"]["key_points"]
    assert response.headers["location"].endswith(f"/api/v1/attempts/{attempt['id']}")
    again = client.post("/api/v1/grade", json=body, headers=headers).json()
    assert again["id"] == attempt["id"]  # a retry with the same key stores nothing new
    assert len(repository.list_attempts(app.state.services.db, user_id=1)) == 1


def test_answers_still_queued_when_the_api_stops_waiting_are_graded_later(app, client, headers, monkeypatch):
    from coach.web.routes import api

    monkeypatch.setattr(api, "GRADE_WAIT_SECONDS", 0.2)
    worker = app.state.services.worker
    grader = worker._load_grader()
    original = grader.grade
    release = threading.Event()
    monkeypatch.setattr(grader, "grade", lambda *a, **kw: release.wait(60) and original(*a, **kw))
    try:
        # The first is held in the grader, the second waits in the queue behind it: both come back 202.
        answers = [
            client.post(
                "/api/v1/grade", json={"question_id": GOOD_QUESTION, "answer": f"{ANSWER} ({n})"}, headers=headers
            )
            for n in range(2)
        ]
        assert [a.status_code for a in answers] == [202, 202]
    finally:
        release.set()
    worker.wait_idle(timeout=120)
    # Giving up waiting used to cancel the queued job: the second answer stayed 'stored' until a restart.
    statuses = [
        repository.get_attempt(app.state.services.db, user_id=1, attempt_id=a.json()["id"]).status for a in answers
    ]
    assert statuses == ["graded", "graded"] and worker.pending == 0


def test_grading_an_unusable_answer_is_a_422_with_the_reason(client, headers):
    response = client.post("/api/v1/grade", json={"question_id": GOOD_QUESTION, "answer": " "}, headers=headers)
    assert response.status_code == 422
    assert "empty" in response.json()["detail"]
    unknown = client.post("/api/v1/grade", json={"question_id": "nope", "answer": ANSWER}, headers=headers)
    assert unknown.status_code == 404


def test_attempts_can_be_listed_read_and_exported(client, headers):
    graded = client.post("/api/v1/grade", json={"question_id": GOOD_QUESTION, "answer": ANSWER}, headers=headers).json()
    listed = client.get("/api/v1/attempts", headers=headers).json()
    assert [a["id"] for a in listed] == [graded["id"]]
    one = client.get(f"/api/v1/attempts/{graded['id']}", headers=headers).json()
    assert one["answer"] == ANSWER
    export = client.get("/api/v1/export", headers=headers).json()
    assert export["format"] == "interview-coach-export"
    assert [a["id"] for a in export["attempts"]] == [graded["id"]]


def test_api_errors_are_json(client, headers):
    response = client.get("/api/v1/attempts/" + "0" * 32, headers=headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert "No attempt" in response.json()["detail"]


def test_the_api_needs_no_csrf_token_because_it_never_reads_cookies(client, headers):
    response = client.post(
        "/api/v1/grade",
        json={"question_id": GOOD_QUESTION, "answer": ANSWER},
        headers={**headers, "sec-fetch-site": "cross-site", "origin": "http://evil.example"},
    )
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


# --- coach serve ----------------------------------------------------------------------------------


def never_serve(monkeypatch):
    """If a refusal is missing, fail instead of starting a server that would never return."""
    import uvicorn

    def refuse(*_args, **_kwargs):
        raise AssertionError("coach serve started a server it should have refused to start")

    monkeypatch.setattr(uvicorn, "run", refuse)


def test_coach_serve_get_prints_a_response_for_smoke_checks(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from coach.cli import app as cli

    monkeypatch.setenv("COACH_HOME", str(tmp_path / "serve-home"))
    result = CliRunner().invoke(cli, ["serve", "--get", "/healthz"])
    assert result.exit_code == 0, result.output
    assert '{"status":"ok"}' in result.output
    failing = CliRunner().invoke(cli, ["serve", "--get", "/no-such-page"])
    assert failing.exit_code == 1


def test_coach_serve_refuses_a_network_address_without_a_secret_key(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from coach.cli import app as cli

    monkeypatch.setenv("COACH_HOME", str(tmp_path / "serve-home"))
    monkeypatch.delenv("COACH_SECRET_KEY", raising=False)
    never_serve(monkeypatch)
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"])  # noqa: S104 - the case being refused
    assert result.exit_code == 2
    assert "COACH_SECRET_KEY" in result.output


def test_coach_serve_refuses_test_password_hashing_on_a_network_address(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from coach.cli import app as cli

    monkeypatch.setenv("COACH_HOME", str(tmp_path / "serve-home"))
    monkeypatch.setenv("COACH_SECRET_KEY", "k" * 64)
    monkeypatch.setenv("COACH_PASSWORD_HASH_COST", "test")
    never_serve(monkeypatch)
    result = CliRunner().invoke(cli, ["serve", "--host", "192.0.2.10"])
    assert result.exit_code == 2
    assert "tests only" in result.output


def test_the_generated_secret_key_is_kept_private_and_reused(tmp_path):
    from coach.settings import Settings
    from coach.web.config import resolve_secret_key

    settings = Settings(home=tmp_path / "home")
    first = resolve_secret_key(settings)
    assert len(first) >= 50
    assert resolve_secret_key(settings) == first
    assert (tmp_path / "home" / "secret_key").stat().st_mode & 0o777 == 0o600
