"""Headers on every response, size limits, what production hides, and what the logs hold (RELIABILITY S11-S14).

The crawls walk `app.routes`, so routes added later are covered without editing this file.
"""
# ruff: noqa: F811 - pytest fixtures are imported from the modules below and taken as arguments

from __future__ import annotations

import logging
import re

import pytest
from starlette.testclient import TestClient
from test_web_access import fill, world  # noqa: F401 - fixture
from test_web_pages import get_routes
from test_web_security import ONE_MIB, assert_security_headers
from test_web_support import (  # noqa: F401 - fixtures
    ANSWER,
    GOOD_QUESTION,
    PASSWORD,
    app,
    browser,
    client,
    csrf_token,
    graded_attempt,
    make_app,
    page,
    post_form,
    real_grader,
    sign_in,
    sign_up,
    signed_up,
)

from coach.web.render import STATIC_DIR

# --- S11: headers ------------------------------------------------------------------------------------


def test_s11_every_get_route_error_and_static_file_carries_the_headers(app, client, world):
    ada = world["ada"]
    responses = {}
    for path in get_routes(app):
        headers = ada["bearer"] if path.startswith("/api/") else {}
        for who, ids in (("own", ada), ("other's", world["bob"])):
            responses[f"{path} ({who})"] = client.get(fill(path, ids), headers=headers, follow_redirects=False)
    with browser(app) as visitor:
        for path in get_routes(app):
            responses[f"{path} (visitor)"] = visitor.get(fill(path, ada), follow_redirects=False)
    for file in sorted(STATIC_DIR.rglob("*")):
        if file.is_file():
            path = "/static/" + file.relative_to(STATIC_DIR).as_posix()
            responses[path] = client.get(path)
    responses["404"] = client.get("/no/such/page")
    responses["404 static"] = client.get("/static/no-such-file.js")
    responses["405"] = client.put("/history")
    responses["403 csrf"] = client.post("/account/tokens", data={"name": "x"})
    responses["403 cross-site"] = client.post("/sign-out", headers={"sec-fetch-site": "cross-site"})
    responses["413"] = client.post("/sign-in", content=b"x" * (ONE_MIB + 1))
    responses["422"] = post_form(client, f"/practice/{GOOD_QUESTION}", {"answer": " ", "idempotency_key": "k" * 16})
    responses["401 htmx"] = browser(app).post(f"/practice/{GOOD_QUESTION}/draft", headers={"hx-request": "1"})
    responses["401 api"] = client.get("/api/v1/attempts")
    for name, response in responses.items():
        assert_security_headers(response, "/static/" if name.startswith(("/static/", "404 static")) else name)
        is_html = response.headers.get("content-type", "").startswith("text/html")
        if is_html and not name.startswith("/static/") and "<body" in response.text:
            body = page(response).body
            assert body is not None and body.get("hx-history") == "false", name  # no htmx snapshots in localStorage
    print(
        f"S11: {len(responses)} responses (every GET route x owner/other/visitor, errors, static), all with the headers"
    )


def test_s11_the_csp_has_every_directive_the_plan_asks_for_and_nothing_inline(client):
    csp = client.get("/").headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert not [value for value in directives.values() if "unsafe" in value or "*" in value]


def test_s11_signing_out_and_deleting_the_account_clear_the_browser(app, client):
    signed_up(client)
    out = post_form(client, "/sign-out", from_page="/")
    assert out.headers["clear-site-data"] == '"cache", "cookies", "storage"'
    assert sign_in(client).status_code == 303
    gone = post_form(client, "/account/delete", {"password": PASSWORD})
    assert gone.headers["clear-site-data"] == '"cache", "cookies", "storage"'


def test_s11_hsts_is_a_year_or_more_over_https_and_absent_otherwise(client, make_app):
    assert "strict-transport-security" not in client.get("/").headers
    secure = make_app("secure", https=True)
    with TestClient(secure, base_url="https://testserver") as https_client:
        for path in ["/", "/sign-in", "/static/app.css", "/nothing-here"]:
            value = https_client.get(path).headers["strict-transport-security"]
            assert int(re.search(r"max-age=(\d+)", value).group(1)) >= 31_536_000, path


def test_s11_over_https_an_http_origin_on_the_same_host_is_cross_site(make_app):
    secure = make_app("secure", https=True)
    with TestClient(secure, base_url="https://testserver") as https_client:
        signed_up(https_client)
        token = csrf_token(https_client, "/account")
        sent = {"csrf_token": token, "name": "x"}
        assert (
            https_client.post("/account/tokens", data=sent, headers={"origin": "http://testserver"}).status_code == 403
        )
        assert (
            https_client.post("/account/tokens", data=sent, headers={"origin": "https://testserver"}).status_code == 201
        )


# --- S12: size limits --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [ONE_MIB + 1, 2 * ONE_MIB])
def test_s12_bodies_over_one_mib_are_refused_before_any_handler_runs(app, client, size):
    signed_up(client)
    calls = app.state.services.passwords.verify_calls
    token = csrf_token(client)
    body = f"csrf_token={token}&email=ada%40example.org&password=x&pad=".encode() + b"x" * size
    response = client.post("/sign-in", content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert app.state.services.passwords.verify_calls == calls


def test_s12_two_mib_sent_in_chunks_without_a_length_is_refused(app, client):
    def chunks():
        for _ in range(32):
            yield b"y" * (64 * 1024)

    response = client.post("/sign-up", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


@pytest.mark.parametrize("kind", ["urlencoded", "multipart"])
def test_s12_more_than_a_thousand_form_fields_are_refused(app, client, kind):
    signed_up(client)
    token = csrf_token(client, "/account")
    fields = {f"f{n}": "1" for n in range(2000)}
    if kind == "urlencoded":
        response = client.post("/account/tokens", data={"csrf_token": token, "name": "x", **fields})
    else:
        files = {"upload": ("a.txt", b"x", "text/plain")}
        response = client.post("/account/tokens", data={"csrf_token": token, "name": "x", **fields}, files=files)
    assert 400 <= response.status_code < 500, response.status_code
    assert response.status_code != 201
    assert len(client.get("/account").text) and page(client.get("/account")).find(id="new-token") is None


def test_s12_an_over_long_answer_is_refused_with_the_text_kept_in_practice_and_interviews(app, client):
    from test_web_support import submit_answer

    signed_up(client)
    long_answer = ("I would start with an impact assessment and a bias audit by group. " * 300)[:20_001]
    practice = submit_answer(client, answer=long_answer)
    assert practice.status_code == 422
    assert "20,000" in page(practice).find(id="answer-error").get_text()
    assert page(practice).find("textarea", attrs={"name": "answer"}).get_text() == long_answer
    started = post_form(client, "/interviews", {"count": "1"}, from_page="/interviews/new")
    session = started.headers["location"]
    answered = post_form(client, f"{session}/answer", {"answer": long_answer}, from_page=session)
    assert answered.status_code == 422
    assert page(answered).find("textarea", attrs={"name": "answer"}).get_text() == long_answer
    api_token = page(post_form(client, "/account/tokens", {"name": "t"})).find(id="new-token")["value"]
    api = client.post(
        "/api/v1/grade",
        json={"question_id": GOOD_QUESTION, "answer": long_answer},
        headers={"authorization": f"Bearer {api_token}"},
    )
    assert api.status_code == 422 and "20,000" in api.text


# --- S13: what production hides ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/docs",
        "/redoc",
        "/openapi.json",
        "/api/openapi.json",
        "/docs/oauth2-redirect",
        "/.git/config",
        "/.git/HEAD",
        "/.env",
        "/static/../coach.db",
        "/static/..%2f..%2fsettings.py",
        "/static/%2e%2e/%2e%2e/settings.py",
        "/coach.db",
        "/secret_key",
    ],
)
def test_s13_production_serves_no_docs_schema_repository_or_data_files(app, client, path):
    response = client.get(path)
    assert response.status_code == 404, path
    assert "[core]" not in response.text and "ref:" not in response.text and "openapi" not in response.text.lower()


def test_s13_an_unhandled_error_shows_an_incident_id_and_no_traceback(app, client, monkeypatch):
    from coach.storage import repository

    signed_up(client)

    def explode(*_args, **_kwargs):
        raise RuntimeError("internal detail /etc/passwd")

    monkeypatch.setattr(repository, "list_attempts", explode)
    for path in ["/history", "/account"]:
        response = client.get(path)
        assert response.status_code == 500, path
        assert re.search(r"error [0-9a-f]{8}", response.text)
        assert (
            "Traceback" not in response.text
            and "/etc/passwd" not in response.text
            and "RuntimeError" not in response.text
        )


# --- S14: logs ---------------------------------------------------------------------------------------


def test_s14_the_journey_logs_auth_events_in_utc_and_never_the_canaries(app, client, caplog, monkeypatch):
    from coach.web.logs import LOG_FORMAT, OneLineUTCFormatter

    canary_password = "canary-pass-5f3e9a1c"
    canary_answer = "zebracanary41 " + ANSWER
    caplog.set_level(logging.DEBUG)
    assert sign_up(client, email="canary@example.org", password=canary_password).status_code == 303
    graded_attempt(app, client, answer=canary_answer)
    post_form(client, f"/practice/{GOOD_QUESTION}/draft", {"answer": canary_answer}, from_page="/")
    data = {"current_password": canary_password, "new_password": canary_password + "-2"}
    assert post_form(client, "/account/password", data).status_code == 303
    post_form(client, "/sign-out", from_page="/")
    with browser(app) as other:
        sign_in(other, email="canary@example.org", password=canary_password)  # the old one: fails
        sign_in(other, email="canary@example.org", password=canary_password + "-2")
        # CR/LF in fields a client controls: a forged second log line must not appear.
        forged = "x\r\n2099-01-01T00:00:00.000Z INFO coach.web.auth: sign-in: user 1 from '10.0.0.1'"
        sign_in(other, email=forged, password=forged)
        from coach.storage import repository

        monkeypatch.setattr(repository, "get_attempt", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
        other.get("/attempts/abc%0d%0a2099-01-01T00:00:00.000Z%20INFO%20forged")
    formatter = OneLineUTCFormatter(LOG_FORMAT)
    lines = [formatter.format(record) for record in caplog.records]
    joined = "\n".join(lines)
    assert canary_password not in joined and "zebracanary41" not in joined and "canary@example.org" not in joined
    # One line per event (tracebacks aside), starting with a UTC time.
    for record, line in zip(caplog.records, lines, strict=True):
        first = line.split("\n", 1)[0] if record.exc_info else line
        assert "\n" not in first and "\r" not in first, line
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", line), line
    assert not [line for line in joined.splitlines() if line.startswith("2099-")]
    auth_lines = [line for line in lines if " coach.web.auth: " in line]
    assert any(re.search(r"sign-in: user \d+ from 'testclient'", line) for line in auth_lines)
    assert sum("sign-in failed from 'testclient'" in line for line in auth_lines) >= 2
    assert any("password changed: user" in line for line in auth_lines)
    assert any("sign-out: user" in line for line in auth_lines)
    print(f"S14: {len(lines)} log records from the journey, 0 canaries, {len(auth_lines)} auth events in UTC")


def test_s14_serve_installs_the_coach_log_handler(tmp_path):
    import logging.config

    from coach.web.logs import log_config

    config = log_config()
    assert config["loggers"]["coach"]["level"] == "INFO"
    logging.config.dictConfig(config)
    try:
        assert logging.getLogger("coach.web.auth").isEnabledFor(logging.INFO)
        assert logging.getLogger("coach").handlers
    finally:
        logging.getLogger("coach").handlers.clear()
        logging.getLogger("coach").propagate = True
        logging.getLogger("coach").setLevel(logging.NOTSET)
