"""Every page renders, for a visitor, a member and an admin; pages are readable without JavaScript."""
# ruff: noqa: F811 - pytest fixtures are imported from test_web_support and taken as arguments

from __future__ import annotations

import pytest
from test_web_support import (  # noqa: F401 - fixtures
    GOOD_QUESTION,
    app,
    app_routes,
    browser,
    client,
    csrf_token,
    graded_attempt,
    make_app,
    page,
    real_grader,
    signed_up,
)

from coach.storage import repository


def get_routes(app) -> list[str]:
    return [path for path, methods in app_routes(app) if "GET" in methods]


def fill(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"no test value for a parameter of {path}; add one to `ids`"
    return path


@pytest.fixture
def member(app, client):
    """A signed-in admin with one graded attempt and a started mock interview; returns the ids routes take."""
    signed_up(client)
    attempt_id = graded_attempt(app, client)
    token = csrf_token(client, "/interviews/new")
    started = client.post("/interviews", data={"csrf_token": token, "count": "1"}, follow_redirects=False)
    session_id = started.headers["location"].rsplit("/", 1)[-1]
    return {"question_id": GOOD_QUESTION, "attempt_id": attempt_id, "session_id": session_id}


def test_every_get_route_renders_for_a_signed_in_admin(app, client, member):
    for path in get_routes(app):
        if path.startswith("/api/"):
            continue
        response = client.get(fill(path, member), follow_redirects=False)
        assert response.status_code in (200, 204, 303), f"{path}: {response.status_code}"
        if response.headers.get("content-type", "").startswith("text/html"):
            assert page(response).find("main") is not None or path.endswith("/status"), path


def test_every_html_page_redirects_visitors_to_sign_in_except_the_public_ones(app, client):
    public = {"/", "/sign-in", "/sign-up", "/healthz", "/readyz"}
    ids = {"question_id": GOOD_QUESTION, "attempt_id": "0" * 32, "session_id": "0" * 32}
    for path in get_routes(app):
        if path.startswith("/api/"):
            continue
        response = client.get(fill(path, ids), follow_redirects=False)
        if path in public:
            assert response.status_code in (200, 503), path
        else:
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/sign-in?next="), path


def test_the_welcome_page_invites_visitors_to_sign_up(client):
    links = {a["href"] for a in page(client.get("/")).find_all("a")}
    assert {"/sign-up", "/sign-in"} <= links


def test_a_new_user_sees_an_empty_state_and_presets_on_the_dashboard(client):
    signed_up(client)
    html = page(client.get("/"))
    assert "Start with one question" in html.get_text()
    presets = [a["href"] for a in html.select(".preset")]
    assert "/practice?level=beginner" in presets
    assert len(presets) >= 3


def test_the_dashboard_lists_recent_attempts_and_progress(app, client, member):
    html = page(client.get("/"))
    assert f"/attempts/{member['attempt_id']}" in {a["href"] for a in html.find_all("a")}
    stats = [li.select_one(".stat-value").get_text() for li in html.select(".stat")]
    assert stats[0] == "1"  # questions practised


def test_due_reviews_show_on_the_dashboard(app, client):
    from datetime import timedelta

    from coach.storage.tables import utcnow

    signed_up(client)
    uid = repository.find_user_by_email(app.state.services.db, email="ada@example.org").id
    repository.upsert_review(
        app.state.services.db,
        user_id=uid,
        question_id=GOOD_QUESTION,
        card={},
        due_at=utcnow() - timedelta(hours=1),
        last_rating=2,
    )
    due = page(client.get("/")).find(id="due-title").find_parent("section")
    assert f"/practice/{GOOD_QUESTION}" in {a["href"] for a in due.find_all("a")}


def test_the_bank_filters_by_level_and_searches_by_words(app, client):
    signed_up(client)
    beginner = page(client.get("/bank?level=beginner"))
    levels = {badge.get_text() for badge in beginner.select(".question-card .badge[class*=level-]")}
    assert levels == {"Beginner"}
    found = page(client.get("/bank?q=retinal+photos+diabetic"))
    assert found.select(".question-link")[0]["href"] == "/bank/ethics-br-retinopathy-screening-review"


def test_the_question_page_keeps_guidance_hidden_until_asked(app, client):
    signed_up(client)
    html = page(client.get(f"/bank/{GOOD_QUESTION}"))
    question = app.state.services.bank.get(GOOD_QUESTION)
    details = html.select("details.reveal")
    assert details and not any(d.has_attr("open") for d in details)
    guidance = next(d for d in details if "guidance" in d.summary.get_text())
    assert question.key_points[0].text in guidance.get_text()
    example = next(d for d in details if "example" in d.summary.get_text())
    assert question.example_answer.split("\n\n")[0].strip() in example.get_text()


def test_an_unknown_question_is_a_404_page(client):
    signed_up(client)
    response = client.get("/bank/no-such-question")
    assert response.status_code == 404
    assert "No question 'no-such-question'" in page(response).get_text()


def test_an_unknown_address_gets_the_error_page(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert page(response).find("h1").get_text() == "Not found"


def test_practice_without_a_question_opens_one_matching_the_filters(app, client):
    signed_up(client)
    response = client.get("/practice?level=advanced", follow_redirects=False)
    question_id = response.headers["location"].rsplit("/", 1)[-1]
    assert app.state.services.bank.get(question_id).level == "advanced"


def test_history_lists_attempts_newest_first(app, client, member):
    html = page(client.get("/history"))
    rows = html.select("tbody tr")
    assert len(rows) == 1
    assert rows[0].find("a")["href"] == f"/attempts/{member['attempt_id']}"


def test_pages_use_only_local_assets_and_no_inline_script(app, client, member):
    for path in ["/", "/bank", f"/practice/{GOOD_QUESTION}", f"/attempts/{member['attempt_id']}", "/account"]:
        html = page(client.get(path))
        for script in html.find_all("script"):
            assert script.get("src", "").startswith("/static/"), path
            assert not script.string, f"inline script on {path}"
        for link in html.find_all("link", href=True):
            assert link["href"].startswith("/static/"), path
        assert not html.find_all(style=True), f"inline style on {path} (the CSP would block it)"
        assert not [tag for tag in html.find_all(True) if any(a.startswith("on") for a in tag.attrs)], path


def test_static_assets_are_served(client):
    for path in ["/static/app.css", "/static/app.js", "/static/vendor/htmx-2.0.11.min.js", "/static/favicon.svg"]:
        assert client.get(path).status_code == 200, path


def test_htmx_is_configured_without_eval_and_without_history_snapshots(client):
    import json

    html = page(client.get("/"))
    config = json.loads(html.find("meta", attrs={"name": "htmx-config"})["content"])
    assert config["allowEval"] is False and config["allowScriptTags"] is False
    assert config["selfRequestsOnly"] is True and config["includeIndicatorStyles"] is False
    assert config["historyCacheSize"] == 0
    assert html.body["hx-history"] == "false"


def test_forms_have_labels_for_every_visible_field(app, client, member):
    for path in ["/sign-in", "/account", f"/practice/{GOOD_QUESTION}", "/bank", "/admin"]:
        html = page(client.get(path))
        labelled = {label["for"] for label in html.find_all("label", attrs={"for": True})}
        for field in html.find_all(["input", "textarea", "select"]):
            if field.get("type") in ("hidden", "submit") or field.has_attr("hidden"):
                continue
            assert field.get("id") in labelled, f"{path}: {field}"


def test_the_page_has_a_skip_link_and_a_main_landmark(client):
    html = page(client.get("/sign-in"))
    assert html.find("a", class_="skip-link")["href"] == "#main"
    assert html.find("main")["id"] == "main"


def test_health_answers_at_once_and_readiness_waits_for_the_grader(app, client):
    assert client.get("/healthz").json() == {"status": "ok"}
    app.state.services.worker.wait_idle(timeout=60)
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"grader": True, "database": True}


def test_readiness_is_503_until_the_grader_is_loaded(app):
    # Without the lifespan the worker is never started, as in `coach serve --get /readyz`.
    fresh_client = browser(app)
    response = fresh_client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["grader"] is False


def test_api_documentation_is_hidden_in_production(client):
    for path in ["/api/docs", "/api/openapi.json", "/docs", "/redoc", "/openapi.json"]:
        assert client.get(path).status_code == 404, path


def test_api_documentation_is_served_in_development_mode(make_app):
    app = make_app(mode="development")
    with browser(app) as dev:
        schema = dev.get("/api/openapi.json")
        assert schema.status_code == 200
        assert "/api/v1/grade" in schema.json()["paths"]
        assert "/sign-in" not in schema.json()["paths"]
        # No Swagger UI: it loads its scripts from a CDN, which the CSP (rightly) blocks.
        assert dev.get("/api/docs").status_code == 404
