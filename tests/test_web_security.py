"""Headers, CSRF, body limits, stored XSS and other users' ids (RELIABILITY S7, S8, S9, S11, S12)."""
# ruff: noqa: F811 - pytest fixtures are imported from test_web_support and taken as arguments

from __future__ import annotations

import re

import pytest
from test_web_support import (  # noqa: F401 - fixtures
    ANSWER,
    GOOD_QUESTION,
    PASSWORD,
    app,
    app_routes,
    browser,
    client,
    csrf_token,
    graded_attempt,
    make_app,
    page,
    post_form,
    real_grader,
    sign_in,
    signed_up,
    submit_answer,
)

from coach.storage import repository

ONE_MIB = 1024 * 1024


def assert_security_headers(response, path: str) -> None:
    headers = response.headers
    csp = headers["content-security-policy"]
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]:
        assert directive in csp, f"{path}: {directive} missing"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
    assert headers["x-content-type-options"] == "nosniff", path
    assert headers["referrer-policy"] == "same-origin", path
    assert headers["x-frame-options"] == "DENY", path
    if headers.get("content-type", "").startswith("text/"):
        assert "charset=utf-8" in headers["content-type"], path
    expected = "no-cache" if path.startswith("/static/") else "no-store"
    assert headers["cache-control"] == expected, path


def test_every_response_carries_the_security_headers(app, client):
    signed_up(client)
    attempt_id = graded_attempt(app, client)
    responses = {
        path: client.get(path, follow_redirects=False)
        for path in [
            "/",
            "/bank",
            f"/bank/{GOOD_QUESTION}",
            f"/practice/{GOOD_QUESTION}",
            f"/attempts/{attempt_id}",
            f"/attempts/{attempt_id}/status",
            "/history",
            "/account",
            "/account/export",
            "/admin",
            "/healthz",
            "/readyz",
            "/nothing-here",
            "/api/v1/bank",
            "/static/app.css",
            "/static/vendor/htmx-2.0.11.min.js",
        ]
    }
    responses["403 csrf"] = client.post("/account/tokens", data={"name": "x"})
    responses["413"] = client.post("/sign-in", content=b"x" * (ONE_MIB + 1))
    responses["403 cross-site"] = client.post("/sign-in", headers={"sec-fetch-site": "cross-site"})
    for path, response in responses.items():
        assert_security_headers(response, path)


def test_hsts_is_sent_only_over_https(app, client, make_app):
    assert "strict-transport-security" not in client.get("/").headers
    secure = make_app("secure", https=True)
    with browser(secure) as other:
        assert other.get("/").headers["strict-transport-security"].startswith("max-age=63072000")


def test_an_unhandled_error_renders_the_generic_page_with_the_headers(app, client, monkeypatch):
    from coach.web import progress_view

    signed_up(client)

    def explode(*_args, **_kwargs):
        raise RuntimeError("secret detail that must not leak")

    monkeypatch.setattr(progress_view, "dashboard", explode)
    response = client.get("/")
    assert response.status_code == 500
    assert "secret detail" not in response.text and "Traceback" not in response.text
    assert re.search(r"error [0-9a-f]{8}", response.text)
    assert_security_headers(response, "/")


# --- CSRF ------------------------------------------------------------------------------------------


def state_changing_routes(app) -> list[str]:
    return [
        path
        for path, methods in app_routes(app)
        if methods & {"POST", "PUT", "PATCH", "DELETE"} and not path.startswith("/api/")
    ]


def test_every_state_changing_html_route_refuses_a_form_without_the_csrf_token(app, client):
    signed_up(client)
    attempt_id = graded_attempt(app, client)
    token = repository.create_api_token(
        app.state.services.db, user_id=1, name="t", token_hash=repository.hash_token("unused")
    )
    interview = post_form(client, "/interviews", {"count": "1"}, from_page="/interviews/new")
    session_id = interview.headers["location"].rsplit("/", 1)[-1]
    ids = {"question_id": GOOD_QUESTION, "attempt_id": attempt_id, "token_id": str(token.id), "session_id": session_id}
    routes = state_changing_routes(app)
    assert len(routes) >= 14
    for path in routes:
        url = path
        for name, value in ids.items():
            url = url.replace("{" + name + "}", value)
        response = client.post(url, data={"password": PASSWORD, "answer": ANSWER, "name": "x"}, follow_redirects=False)
        assert response.status_code == 403, f"{path} accepted a form without a CSRF token ({response.status_code})"
        wrong = client.post(url, data={"csrf_token": "0" * 64, "password": PASSWORD}, follow_redirects=False)
        assert wrong.status_code == 403, f"{path} accepted a forged CSRF token"
    # Nothing changed: the account, its data and the token are all still there.
    assert repository.find_user_by_email(app.state.services.db, email="ada@example.org") is not None
    assert len(repository.list_attempts(app.state.services.db, user_id=1)) == 1


def test_a_token_from_another_browser_is_refused(app, client):
    signed_up(client)
    with browser(app) as other:
        stolen = csrf_token(other)
    response = client.post("/account/tokens", data={"csrf_token": stolen, "name": "x"})
    assert response.status_code == 403


@pytest.mark.parametrize("site", ["cross-site", "same-site", "cross-origin"])
def test_cross_site_form_posts_are_refused_even_with_a_valid_token(client, site):
    signed_up(client)
    token = csrf_token(client, "/account")
    response = client.post("/account/tokens", data={"csrf_token": token, "name": "x"}, headers={"sec-fetch-site": site})
    assert response.status_code == 403
    assert "another site" in page(response).get_text()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"sec-fetch-site": "same-origin"}, 201),
        ({"sec-fetch-site": "none"}, 201),
        ({"origin": "http://testserver"}, 201),
        ({"origin": "http://evil.example"}, 403),
        ({"origin": "null"}, 403),
        ({}, 201),
    ],
)
def test_fetch_metadata_and_origin_decide_like_the_csrf_cheat_sheet(client, headers, status):
    signed_up(client)
    token = csrf_token(client, "/account")
    response = client.post("/account/tokens", data={"csrf_token": token, "name": "x"}, headers=headers)
    assert response.status_code == status


def test_sign_in_itself_needs_the_csrf_token(client):
    signed_up(client)
    client.cookies.clear()
    response = client.post("/sign-in", data={"email": "ada@example.org", "password": PASSWORD})
    assert response.status_code == 403


def test_htmx_requests_send_the_token_in_a_header(app, client):
    signed_up(client)
    token = page(client.get(f"/practice/{GOOD_QUESTION}")).body["hx-headers"]
    header = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', token).group(1)
    saved = client.post(f"/practice/{GOOD_QUESTION}/draft", data={"answer": "draft"}, headers={"x-csrf-token": header})
    assert saved.status_code == 200
    refused = client.post(f"/practice/{GOOD_QUESTION}/draft", data={"answer": "draft"}, headers={"x-csrf-token": "0"})
    assert refused.status_code == 403


def test_no_get_route_changes_stored_data(app, client):
    from test_web_pages import fill, get_routes

    signed_up(client)
    attempt_id = graded_attempt(app, client)
    db = app.state.services.db
    before = repository.export_user(db, user_id=1)
    tokens = len(repository.list_api_tokens(db, user_id=1))
    for path in get_routes(app):
        if not path.startswith("/api/"):
            client.get(fill(path, {"question_id": GOOD_QUESTION, "attempt_id": attempt_id, "session_id": "0" * 32}))
    after = repository.export_user(db, user_id=1)
    assert after["attempts"] == before["attempts"] and after["drafts"] == before["drafts"]
    assert len(repository.list_api_tokens(db, user_id=1)) == tokens


# --- body size ----------------------------------------------------------------------------------


def test_a_body_over_one_mib_is_refused_with_413(client):
    response = client.post(
        "/sign-in", content=b"a=" + b"x" * ONE_MIB, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    assert "nothing was saved" in page(response).get_text()


def test_a_chunked_body_without_content_length_is_counted_as_read(app, client):
    calls = app.state.services.passwords.verify_calls

    def chunks():
        for _ in range(20):
            yield b"x" * (128 * 1024)

    response = client.post("/sign-in", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert app.state.services.passwords.verify_calls == calls


def test_an_understated_content_length_does_not_get_past_the_limit(make_app):
    import asyncio

    app = make_app()
    sent: list[dict] = []
    body = [{"type": "http.request", "body": b"x" * (600 * 1024), "more_body": True}] * 2 + [
        {"type": "http.request", "body": b"", "more_body": False}
    ]

    async def receive():
        return body.pop(0) if body else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/sign-in",
        "raw_path": b"/sign-in",
        "query_string": b"",
        "headers": [(b"content-length", b"10"), (b"host", b"testserver")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "scheme": "http",
        "root_path": "",
        "http_version": "1.1",
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413


def test_a_body_just_under_the_limit_is_accepted(client):
    response = client.post(
        "/sign-in",
        content=b"email=a%40b.org&password=x&pad=" + b"x" * (ONE_MIB - 100),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 403  # past the size check; refused for the missing CSRF token


def test_an_answer_over_the_cap_is_refused_with_the_text_kept(client):
    signed_up(client)
    long_answer = "This is a sentence about fairness reviews. " * 600  # about 26,000 characters
    response = submit_answer(client, answer=long_answer)
    assert response.status_code == 422
    html = page(response)
    assert "the limit is 20,000" in html.find(id="answer-error").get_text()
    assert html.find("textarea", attrs={"name": "answer"}).get_text() == long_answer


# --- stored XSS -----------------------------------------------------------------------------------

XSS_PAYLOADS = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    '"><svg onload=alert(1)>',
    "</textarea><script>alert(1)</script>",
    '<div hx-get="/account/delete" hx-trigger="load">x</div>',
    '<a href="javascript:alert(1)">click</a>',
    '<button hx-on:click="alert(1)">b</button>',
    "{{ 7*7 }} {% raw %}",
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
]


def _template_hx_attributes() -> set[str]:
    """The hx-* attributes the app's own templates use: anything else on a page came from somewhere else."""
    from coach.web.render import TEMPLATES_DIR

    found: set[str] = set()
    for template in TEMPLATES_DIR.rglob("*.html"):
        found.update(re.findall(r"\b(hx-[a-z:-]+)=", template.read_text(encoding="utf-8")))
    return found


KNOWN_HX = _template_hx_attributes()


def assert_inert(html: str, payload: str) -> None:
    """The payload shows as text: no element, attribute or script it could have created."""
    soup = page_of(html)
    scripts = soup.find_all("script")
    assert all(s.get("src", "").startswith("/static/") and not s.string for s in scripts)
    assert not soup.find_all(["img", "iframe", "object", "embed"])
    # Only the logo and the report's charts (SVG built and escaped by coach.progress.report).
    assert all(svg.find_parent("a", class_="brand") or svg.find_parent(class_="charts") for svg in soup.find_all("svg"))
    for tag in soup.find_all(True):
        assert not any(name.startswith("on") for name in tag.attrs), tag
        assert not [name for name in tag.attrs if name.startswith("hx-") and name not in KNOWN_HX], tag
        assert tag.get("href", "").strip().lower()[:11] != "javascript:", tag
        assert tag.get("hx-get") != "/account/delete"
    for container in soup.select("[data-user-content]"):
        for child in container.find_all(True):
            assert child.name == "mark" and set(child.attrs) <= {"class", "title"}, child
    for quote in soup.find_all(["q", "textarea"]):
        assert not quote.find_all(True), quote


def page_of(html: str):
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser")


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_answers_with_markup_render_as_text_everywhere_they_are_shown(app, client, payload):
    signed_up(client)
    answer = f"{ANSWER} {payload} {ANSWER}"
    attempt_id = graded_attempt(app, client, answer=answer)
    feedback = client.get(f"/attempts/{attempt_id}")
    assert_inert(feedback.text, payload)
    shown = page(feedback).select_one("[data-user-content]").get_text()
    assert payload in shown
    again = client.get(f"/practice/{GOOD_QUESTION}?previous={attempt_id}")
    assert_inert(again.text, payload)
    assert payload in page(again).select_one("[data-user-content]").get_text()
    # The same text as a draft, back in the answer box.
    post_form(client, f"/practice/{GOOD_QUESTION}/draft", {"answer": payload}, from_page="/")
    practice = client.get(f"/practice/{GOOD_QUESTION}")
    assert_inert(practice.text, payload)
    assert page(practice).find("textarea", attrs={"name": "answer"}).get_text() == payload


@pytest.mark.parametrize("payload", XSS_PAYLOADS[:5])
def test_names_and_flag_comments_with_markup_render_as_text(app, client, payload):
    signed_up(client, name=payload)
    attempt_id = graded_attempt(app, client)
    post_form(client, f"/attempts/{attempt_id}/flag", {"comment": payload, "wrong": "1"}, from_page="/")
    for path in ["/", f"/attempts/{attempt_id}", "/account", "/admin"]:
        response = client.get(path)
        assert_inert(response.text, payload)
        assert payload in page(response).get_text()


def test_a_pending_answer_with_markup_stays_text_on_the_sign_in_page(app, client):
    signed_up(client)
    form_token = csrf_token(client, f"/practice/{GOOD_QUESTION}")
    client.cookies.delete("coach_session")
    payload = XSS_PAYLOADS[3]
    response = client.post(
        f"/practice/{GOOD_QUESTION}", data={"csrf_token": form_token, "answer": payload, "idempotency_key": "k" * 16}
    )
    assert response.status_code == 401
    assert_inert(response.text, payload)
    assert page(response).find("textarea", attrs={"name": "pending_answer"}).get_text() == payload


# --- other users' ids -----------------------------------------------------------------------------


@pytest.fixture
def two_users(app, client):
    """Ada (client) and Bob (returned), each with one graded attempt and an API token."""
    signed_up(client, "ada@example.org")
    ada_attempt = graded_attempt(app, client)
    bob = browser(app)
    signed_up(bob, "bob@example.org", name="Bob")
    bob_attempt = graded_attempt(app, bob)
    db = app.state.services.db
    bob_id = repository.find_user_by_email(db, email="bob@example.org").id
    bob_token = repository.create_api_token(
        db, user_id=bob_id, name="bob", token_hash=repository.hash_token("bob-token")
    )
    yield {"ada_attempt": ada_attempt, "bob_attempt": bob_attempt, "bob_token": bob_token.id, "bob": bob}
    bob.close()


def test_another_user_s_attempt_ids_are_404_on_every_route_that_takes_one(app, client, two_users):
    bob_attempt = two_users["bob_attempt"]
    routes = [(p, m) for p, m in app_routes(app) if "{attempt_id}" in p and not p.startswith("/api/")]
    assert len(routes) >= 4
    for route_path, methods in routes:
        path = route_path.replace("{attempt_id}", bob_attempt)
        if "GET" in methods:
            assert client.get(path).status_code == 404, path
        else:
            assert post_form(client, path, {"comment": "mine now"}, from_page="/").status_code == 404, path
    previous = client.get(f"/practice/{GOOD_QUESTION}?previous={bob_attempt}")
    assert previous.status_code == 404
    assert bob_attempt not in client.get("/history").text
    bob_row = repository.get_attempt(app.state.services.db, user_id=2, attempt_id=bob_attempt)
    assert not bob_row.flagged_wrong


def test_an_attempt_id_that_does_not_exist_looks_the_same_as_another_user_s(client, two_users):
    theirs = client.get(f"/attempts/{two_users['bob_attempt']}")
    missing = client.get(f"/attempts/{'f' * 32}")
    assert theirs.status_code == missing.status_code == 404
    assert page(theirs).find("h1").get_text() == page(missing).find("h1").get_text()


def test_another_user_s_api_token_cannot_be_deleted(app, client, two_users):
    response = post_form(client, f"/account/tokens/{two_users['bob_token']}/delete")
    assert response.status_code == 404
    assert len(repository.list_api_tokens(app.state.services.db, user_id=2)) == 1


def test_the_api_does_not_show_another_user_s_attempts(client, two_users):
    headers = {"authorization": "Bearer bob-token"}
    assert client.get(f"/api/v1/attempts/{two_users['ada_attempt']}", headers=headers).status_code == 404
    ids = {a["id"] for a in client.get("/api/v1/attempts", headers=headers).json()}
    assert ids == {two_users["bob_attempt"]}


def test_the_api_ignores_session_cookies(client, two_users):
    # Ada is signed in with a cookie; the API still wants a token.
    assert client.get("/api/v1/attempts").status_code == 401


def test_a_user_id_in_the_form_body_is_ignored(app, client, two_users):
    token = csrf_token(client, f"/practice/{GOOD_QUESTION}")
    data = {"csrf_token": token, "answer": ANSWER, "idempotency_key": "mass-assignment", "user_id": "2"}
    response = client.post(f"/practice/{GOOD_QUESTION}", data=data, follow_redirects=False)
    attempt_id = response.headers["location"].split("/")[-1]
    assert repository.get_attempt(app.state.services.db, user_id=1, attempt_id=attempt_id)
    assert len(repository.list_attempts(app.state.services.db, user_id=2)) == 1
