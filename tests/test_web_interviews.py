"""Mock interviews in the browser: planning, answering, follow-ups, drafts, the report, and owners only."""
# ruff: noqa: F811 - pytest fixtures are imported from test_web_support and taken as arguments

from __future__ import annotations

import uuid

from test_web_support import (
    ANSWER,
    app,  # noqa: F401
    app_routes,
    browser,
    client,  # noqa: F401
    csrf_token,
    make_app,  # noqa: F401
    page,
    post_form,
    real_grader,  # noqa: F401
    signed_up,
)

from coach.storage import repository


def start(client, **form: str) -> str:
    """Start an interview from the form; returns its session id."""
    data = {"role": "responsible-ai-pm", "level": "intermediate", "count": "2", "follow_ups": "1", **form}
    response = post_form(client, "/interviews", data, from_page="/interviews/new")
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[-1]


def answer(client, session_id: str, text: str = ANSWER):
    return post_form(
        client, f"/interviews/{session_id}/answer", {"answer": text}, from_page=f"/interviews/{session_id}"
    )


def test_the_new_interview_form_is_prefilled_from_a_preset(client):
    signed_up(client)
    html = page(client.get("/interviews/new?role=responsible-ai-pm&level=advanced&count=3"))
    assert html.find("option", attrs={"value": "responsible-ai-pm", "selected": True}) is not None
    assert html.find("option", attrs={"value": "advanced", "selected": True}) is not None
    assert html.find("input", attrs={"name": "count"})["value"] == "3"


def test_starting_an_interview_plans_it_and_asks_the_first_question(app, client):
    signed_up(client)
    session_id = start(client)
    row = repository.get_session(app.state.services.db, user_id=1, session_id=session_id)
    assert len(row.plan) == 2 and row.status == "active"
    html = page(client.get(f"/interviews/{session_id}"))
    first = app.state.services.bank.get(row.plan[0]["question_id"])
    assert html.find("h1").get_text(strip=True) == first.text
    assert "Question 1 of 2" in html.get_text()
    assert html.find("textarea", attrs={"name": "answer"})["hx-post"] == f"/interviews/{session_id}/draft"


def test_an_impossible_plan_is_refused_with_the_reason(client):
    signed_up(client)
    response = post_form(client, "/interviews", {"role": "no-such-role", "count": "2"}, from_page="/interviews/new")
    assert response.status_code == 422
    assert "Unknown role" in page(response).find(id="form-error").get_text()


def test_answering_grades_and_then_follows_up_or_moves_on(app, client):
    signed_up(client)
    session_id = start(client)
    response = answer(client, session_id)
    assert response.status_code == 303
    attempt_id = response.headers["location"].split("last=")[1]
    attempt = repository.get_attempt(app.state.services.db, user_id=1, attempt_id=attempt_id)
    assert attempt.status == "graded" and attempt.session_id == session_id
    html = page(client.get(response.headers["location"]))
    assert f"/attempts/{attempt_id}" in {a["href"] for a in html.select(".last-answer a")}
    plan_item = repository.get_session(app.state.services.db, user_id=1, session_id=session_id).plan[0]
    if plan_item.get("follow_up"):
        assert "Follow-up to question 1" in html.get_text()
        assert html.find("h1").get_text(strip=True) == plan_item["follow_up"]["prompt"]
    else:
        assert "Question 2 of 2" in html.get_text()


def test_a_whole_interview_ends_in_a_report_with_charts(app, client):
    signed_up(client)
    session_id = start(client, count="1")
    location = f"/interviews/{session_id}"
    for _ in range(6):
        response = client.get(location, follow_redirects=False)
        if response.status_code == 303:
            break
        answer(client, session_id)
    assert response.headers["location"] == f"/interviews/{session_id}/report"
    assert repository.get_session(app.state.services.db, user_id=1, session_id=session_id).status == "finished"
    report = page(client.get(f"/interviews/{session_id}/report"))
    assert report.select(".charts svg[role=img]")
    assert len(report.select("article.report-question")) == 1
    assert report.select_one("[data-user-content]").get_text() == ANSWER
    listed = page(client.get("/interviews"))
    assert f"/interviews/{session_id}/report" in {a["href"] for a in listed.find_all("a")}


def test_drafts_are_kept_while_answering(app, client):
    signed_up(client)
    session_id = start(client)
    saved = post_form(client, f"/interviews/{session_id}/draft", {"answer": "so far"}, from_page="/")
    assert saved.status_code == 200
    box = page(client.get(f"/interviews/{session_id}")).find("textarea", attrs={"name": "answer"})
    assert box.get_text() == "so far"


def test_an_interview_draft_is_embedded_ahead_of_the_answer(app, client):
    signed_up(client)
    session_id = start(client)
    finished = f"For interview {uuid.uuid4().hex[:8]} I would first map who is harmed."
    post_form(client, f"/interviews/{session_id}/draft", {"answer": finished + " Then I wo"}, from_page="/")
    worker = app.state.services.worker
    assert worker.drafts_idle(timeout=60)
    embedder = worker.grader().embedder
    assert embedder.contains(finished) and not embedder.contains("Then I wo")


def test_an_unusable_answer_is_refused_with_the_text_kept(client):
    signed_up(client)
    session_id = start(client)
    response = answer(client, session_id, "   ")
    assert response.status_code == 422
    html = page(response)
    assert "empty" in html.find(id="answer-error").get_text()


def test_skipping_and_ending_early(app, client):
    signed_up(client)
    session_id = start(client, follow_ups="")
    post_form(client, f"/interviews/{session_id}/skip", from_page=f"/interviews/{session_id}")
    assert "Question 2 of 2" in page(client.get(f"/interviews/{session_id}")).get_text()
    ended = post_form(client, f"/interviews/{session_id}/finish", from_page=f"/interviews/{session_id}")
    assert ended.headers["location"] == f"/interviews/{session_id}/report"
    assert repository.get_session(app.state.services.db, user_id=1, session_id=session_id).status == "finished"


def test_another_user_s_interview_is_404_on_every_route(app, client):
    signed_up(client)
    session_id = start(client)
    routes = [(p, m) for p, m in app_routes(app) if "{session_id}" in p]
    assert len(routes) >= 6
    with browser(app) as other:
        signed_up(other, "bob@example.org")
        for route_path, methods in routes:
            path = route_path.replace("{session_id}", session_id)
            if "GET" in methods:
                assert other.get(path).status_code == 404, path
            else:
                token = csrf_token(other, "/")
                response = other.post(path, data={"csrf_token": token, "answer": ANSWER})
                assert response.status_code == 404, path
    row = repository.get_session(app.state.services.db, user_id=1, session_id=session_id)
    assert row.status == "active" and row.current_index == 0
    assert repository.list_attempts(app.state.services.db, user_id=1) == []


def test_answers_with_markup_render_as_text_in_the_report(app, client):
    from test_web_security import assert_inert

    payload = '<img src=x onerror="window.__xss=1"><script>alert(1)</script>'
    signed_up(client)
    session_id = start(client, follow_ups="")
    answer(client, session_id, f"{ANSWER} {payload}")
    post_form(client, f"/interviews/{session_id}/finish", from_page="/")
    response = client.get(f"/interviews/{session_id}/report")
    assert_inert(response.text, payload)
    assert payload in page(response).select_one("[data-user-content]").get_text()


def test_the_dashboard_offers_to_resume_an_unfinished_interview(client):
    signed_up(client)
    session_id = start(client)
    html = page(client.get("/"))
    assert f"/interviews/{session_id}" in {a["href"] for a in html.select(".resume a")}
