"""Sign-up, sign-in, sign-out, sessions, cookies, password rules and sign-in throttling (RELIABILITY S1-S5)."""
# ruff: noqa: F811 - pytest fixtures are imported from test_web_support and taken as arguments

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from argon2 import extract_parameters
from starlette.testclient import TestClient
from test_web_support import (  # noqa: F401 - fixtures
    PASSWORD,
    app,
    browser,
    client,
    csrf_token,
    make_app,
    page,
    post_form,
    real_grader,
    sign_in,
    sign_up,
    signed_up,
    user_id,
)

from coach.storage import repository
from coach.web import auth


def session_cookie(response) -> SimpleCookie:
    cookies = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookies.load(header)
    return cookies


def test_the_first_account_is_the_admin_and_the_second_is_not(app, client):
    assert sign_up(client, "first@example.org").status_code == 303
    with browser(app) as other:
        assert sign_up(other, "second@example.org").status_code == 303
    db = app.state.services.db
    assert repository.get_user(db, user_id=user_id(app, "first@example.org")).is_admin
    assert not repository.get_user(db, user_id=user_id(app, "second@example.org")).is_admin


def test_sign_up_signs_the_new_user_in(client):
    response = sign_up(client)
    assert response.headers["location"] == "/?welcome=1"
    dashboard = client.get(response.headers["location"])
    assert page(dashboard).find("h1").get_text(strip=True) == "Welcome, Ada"


@pytest.mark.parametrize(
    ("password", "reason"),
    [("short1!", "at least 8"), ("password1", "common"), ("iloveyou2", "common"), ("x" * 129, "at most 128")],
)
def test_sign_up_refuses_weak_or_oversized_passwords(client, password, reason):
    response = sign_up(client, password=password)
    assert response.status_code == 422
    assert reason in page(response).find(id="form-error").get_text()


def test_sign_up_refuses_a_password_equal_to_the_email(client):
    response = sign_up(client, email="someone@example.org", password="someone@example.org")
    assert response.status_code == 422


@pytest.mark.parametrize(
    "password", ["a" * 64 + "Z", "é" * 40 + " with spaces 🎉 " + "x" * 70, "  leading and trailing  "]
)
def test_long_and_unicode_passwords_work_exactly_as_typed(app, client, password):
    assert sign_up(client, password=password).status_code == 303
    with browser(app) as other:
        assert sign_in(other, password=password).status_code == 303
        assert sign_in(other, password=password.strip() + "?").status_code == 401


def test_closed_sign_up_refuses_new_accounts_but_not_the_first(app, client):
    app.state.services.settings.signup_open = False
    assert sign_up(client, "admin@example.org").status_code == 303  # nobody could ever sign up otherwise
    with browser(app) as other:
        token = csrf_token(other, "/sign-in")
        data = {"csrf_token": token, "email": "late@example.org", "password": PASSWORD}
        response = other.post("/sign-up", data=data)
        assert response.status_code == 403
        assert "closed" in page(response).get_text()
    assert repository.find_user_by_email(app.state.services.db, email="late@example.org") is None


def test_sign_in_with_a_wrong_password_or_unknown_email_gives_the_same_answer(app, client):
    signed_up(client)
    with browser(app) as other:
        wrong = sign_in(other, password="not the password")
        unknown = sign_in(other, email="nobody@example.org")
    assert wrong.status_code == unknown.status_code == 401
    assert page(wrong).find(id="form-error").get_text() == page(unknown).find(id="form-error").get_text()


def test_an_unknown_email_still_costs_one_password_check(app, client):
    passwords = app.state.services.passwords
    before = passwords.verify_calls
    sign_in(client, email="nobody@example.org")
    assert passwords.verify_calls == before + 1


def test_a_huge_password_is_refused_without_hashing_it(app, client):
    signed_up(client)
    passwords = app.state.services.passwords
    before = passwords.verify_calls
    with browser(app) as other:
        response = sign_in(other, password="x" * 200_000)
    assert response.status_code == 401
    assert passwords.verify_calls == before


def test_sign_in_gives_a_new_session_token_each_time(app, client):
    signed_up(client)
    tokens = set()
    for _ in range(2):
        with browser(app) as other:
            response = sign_in(other)
            assert response.status_code == 303
            tokens.add(session_cookie(response)["coach_session"].value)
    assert len(tokens) == 2
    assert all(len(token) >= 43 for token in tokens)  # 256 bits, base64url


def test_session_cookies_are_http_only_lax_and_site_wide(client):
    response = sign_up(client)
    morsel = session_cookie(response)["coach_session"]
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/"
    assert not morsel["domain"]
    assert not morsel["secure"]  # plain HTTP on localhost; see the HTTPS test below


def test_over_https_cookies_use_the_host_prefix_and_are_secure(make_app):
    app = make_app(https=True)
    with TestClient(app, base_url="https://testserver") as https_client:
        response = sign_up(https_client)
        cookies = session_cookie(response)
        assert "__Host-coach_session" in cookies
        morsel = cookies["__Host-coach_session"]
        assert morsel["secure"] is True and morsel["httponly"] is True and morsel["path"] == "/"
        assert not morsel["domain"]
        assert "max-age=63072000" in response.headers["strict-transport-security"]


def test_sign_out_deletes_the_server_session_so_the_old_cookie_is_dead(app, client):
    response = sign_up(client)
    old = session_cookie(response)["coach_session"].value
    signed_out = post_form(client, "/sign-out", from_page="/")
    assert signed_out.status_code == 303
    assert signed_out.headers["clear-site-data"] == '"cache", "cookies", "storage"'
    assert repository.find_auth_session(app.state.services.db, token_hash=repository.hash_token(old)) is None
    with browser(app) as replay:
        replay.cookies.set("coach_session", old)
        assert replay.get("/history", follow_redirects=False).status_code == 303


def test_signed_out_pages_redirect_to_sign_in_and_come_back(client):
    response = client.get("/history", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fhistory"
    signed_up(client)
    back = sign_in(client, next="/history")
    assert back.headers["location"] == "/history"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_sign_in_never_redirects_to_another_site(app, client, target):
    signed_up(client)
    with browser(app) as other:
        response = sign_in(other, next=target)
    assert response.headers["location"] == "/"


def test_an_idle_session_ends(app, client):
    from datetime import timedelta

    from coach.storage.tables import utcnow

    response = sign_up(client)
    token = session_cookie(response)["coach_session"].value
    db = app.state.services.db
    session, _user = repository.find_auth_session(db, token_hash=repository.hash_token(token))
    repository.touch_auth_session(db, session_id=session.id, expires_at=utcnow() - timedelta(seconds=1))
    assert client.get("/history", follow_redirects=False).status_code == 303


def test_sign_in_is_throttled_per_account_without_calling_the_password_hash(app, client):
    signed_up(client)
    passwords = app.state.services.passwords
    with browser(app) as attacker:
        for _ in range(auth.SIGN_IN_PER_ACCOUNT.count):
            assert sign_in(attacker, password="guess guess guess").status_code == 401
        calls = passwords.verify_calls
        throttled = sign_in(attacker, password="guess guess guess")
        assert throttled.status_code == 429
        assert 0 < int(throttled.headers["retry-after"]) <= 24 * 3600
        assert "Too many attempts" in page(throttled).get_text()
        # Even the right password is refused while throttled, and the KDF is not run at all.
        assert sign_in(attacker, password=PASSWORD).status_code == 429
        assert passwords.verify_calls == calls


def test_the_account_budget_comes_back_after_its_window(app, client):
    from datetime import timedelta

    from coach.storage.tables import utcnow

    signed_up(client)
    db = app.state.services.db
    key = auth.SIGN_IN_PER_ACCOUNT.key("ada@example.org")
    repository.hit_rate_limit(db, key=key, window=timedelta(days=1), now=utcnow() - timedelta(days=2))
    for _ in range(auth.SIGN_IN_PER_ACCOUNT.count):
        repository.hit_rate_limit(db, key=key, window=timedelta(days=1), now=utcnow() - timedelta(days=2))
    with browser(app) as later:
        assert sign_in(later).status_code == 303  # the old window has passed: no permanent lockout


def test_sign_in_is_throttled_per_address_across_accounts(app, client, monkeypatch):
    monkeypatch.setattr(auth, "SIGN_IN_PER_ADDRESS", auth.Limit("sign-in:address", 5, auth.SIGN_IN_PER_ADDRESS.window))
    with browser(app) as sprayer:
        for n in range(5):
            assert sign_in(sprayer, email=f"user{n}@example.org").status_code == 401
        response = sign_in(sprayer, email="user99@example.org")
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) <= 3600


def test_the_address_budget_is_large_enough_for_a_classroom_behind_one_address():
    assert auth.SIGN_IN_PER_ADDRESS.count >= 300
    assert auth.SIGN_IN_PER_ACCOUNT.count <= 20


def test_a_client_supplied_forwarded_for_header_does_not_change_the_bucket(app, client):
    sign_in(client, email="someone@example.org")
    client.post(
        "/sign-in",
        data={"csrf_token": csrf_token(client), "email": "x@example.org", "password": "whatever pass"},
        headers={"x-forwarded-for": "203.0.113.9"},
    )
    db = app.state.services.db
    assert repository.find_rate_limit(db, key=auth.SIGN_IN_PER_ADDRESS.key("testclient")).count == 2
    assert repository.find_rate_limit(db, key=auth.SIGN_IN_PER_ADDRESS.key("203.0.113.9")) is None


def test_a_trusted_proxy_s_forwarded_for_header_is_believed(make_app):
    app = make_app(trusted_proxies="127.0.0.1, 10.0.0.0/8")
    with TestClient(app, base_url="http://testserver", client=("127.0.0.1", 50000)) as proxied:
        proxied.post(
            "/sign-in",
            data={"csrf_token": csrf_token(proxied), "email": "x@example.org", "password": "whatever pass"},
            headers={"x-forwarded-for": "198.51.100.7, 10.1.2.3"},
        )
    key = auth.SIGN_IN_PER_ADDRESS.key("198.51.100.7")
    assert repository.find_rate_limit(app.state.services.db, key=key).count == 1


def test_stored_passwords_are_argon2id_hashes(app, client):
    signed_up(client)
    user = repository.find_user_by_email(app.state.services.db, email="ada@example.org")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_production_password_hashing_meets_the_asvs_minimum():
    hasher = auth.password_hasher("production")
    parameters = extract_parameters(hasher.hash("a password to hash"))
    assert parameters.type.name == "ID"
    assert parameters.memory_cost >= 19 * 1024  # KiB
    assert parameters.time_cost >= 2
    assert parameters.parallelism == 1


def test_the_web_app_hashes_with_production_parameters_unless_told_otherwise(tmp_path):
    from coach.settings import Settings

    assert Settings(home=tmp_path).password_hash_cost == "production"


def test_a_user_who_signs_in_with_an_old_hash_gets_it_upgraded(app, client):
    signed_up(client)
    db = app.state.services.db
    weak = auth.password_hasher("test").hash(PASSWORD)
    repository.set_user_password(db, user_id=user_id(app, "ada@example.org"), password_hash=weak)
    app.state.services.passwords = auth.Passwords(auth.password_hasher("production"))
    with browser(app) as other:
        assert sign_in(other).status_code == 303
    stored = repository.find_user_by_email(db, email="ada@example.org").password_hash
    assert extract_parameters(stored).memory_cost == 19 * 1024


def test_a_disabled_account_cannot_sign_in_and_loses_its_sessions(app, client):
    signed_up(client)
    db = app.state.services.db
    repository.set_user_disabled(db, user_id=user_id(app, "ada@example.org"), disabled=True)
    assert client.get("/history", follow_redirects=False).status_code == 303
    with browser(app) as other:
        assert sign_in(other).status_code == 401


def test_logs_record_auth_events_but_never_passwords_emails_or_answers(app, client, caplog):
    import logging

    from test_web_support import graded_attempt

    canary_password = "canary-password-7d1f2a"
    canary_answer = "canary answer 93be: " + "I would run a bias audit and document it in a model card. " * 3
    caplog.set_level(logging.DEBUG)
    assert sign_up(client, email="canary@example.org", password=canary_password).status_code == 303
    graded_attempt(app, client, answer=canary_answer)
    post_form(client, "/sign-out", from_page="/")
    with browser(app) as other:
        sign_in(other, email="canary@example.org", password="wrong password here")
        sign_in(other, email="canary@example.org", password=canary_password)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert canary_password not in logged and "canary answer" not in logged and "canary@example.org" not in logged
    assert "sign-in: user 1 from 'testclient'" in logged
    assert "sign-in failed from 'testclient'" in logged
    assert "sign-out: user 1" in logged
