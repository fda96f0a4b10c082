"""Sign-in throttling, enumeration, password input and sessions with a clock the test moves (RELIABILITY S1-S6).

The app reads time from `services.clock`; these tests replace it with a `Clock` they advance, so a day of
throttling or twelve hours of a session take no wall time.
"""
# ruff: noqa: F811 - pytest fixtures are imported from test_web_support and taken as arguments

from __future__ import annotations

import re
from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from test_web_support import (  # noqa: F401 - fixtures
    ANSWER,
    GOOD_QUESTION,
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
from coach.storage.tables import utcnow
from coach.web import auth


class Clock:
    """The app's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(app) -> Clock:
    clock = Clock()
    app.state.services.clock = clock
    return clock


def cookie_value(response, name: str = "coach_session") -> str | None:
    cookies = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookies.load(header)
    return cookies[name].value if name in cookies else None


def post_sign_in(client, token: str, email: str, password: str, **headers: str):
    data = {"csrf_token": token, "email": email, "password": password}
    return client.post("/sign-in", data=data, headers=headers, follow_redirects=False)


def signed_in_as(client) -> bool:
    return client.get("/history", follow_redirects=False).status_code == 200


# --- S1: one account, 200 wrong passwords -----------------------------------------------------------


def test_s1_two_hundred_wrong_passwords_are_cut_off_at_the_account_budget(app, client, clock):
    signed_up(client)
    passwords = app.state.services.passwords
    with browser(app) as attacker:
        token = csrf_token(attacker)
        before = passwords.verify_calls
        statuses, retry_after = [], []
        for n in range(200):
            response = post_sign_in(attacker, token, "ada@example.org", f"wrong guess number {n}")
            statuses.append(response.status_code)
            if response.status_code == 429:
                retry_after.append(int(response.headers["retry-after"]))
            clock.advance(seconds=10)
        budget = auth.SIGN_IN_PER_ACCOUNT.count
        assert statuses == [401] * budget + [429] * (200 - budget)
        assert passwords.verify_calls - before == budget  # throttled attempts never reach the KDF
        assert all(0 < seconds <= 24 * 3600 for seconds in retry_after)
        # The right password is refused too while the account is throttled, still without hashing.
        assert post_sign_in(attacker, token, "ada@example.org", PASSWORD).status_code == 429
        assert passwords.verify_calls - before == budget
        # No permanent lockout: a day after the first attempt the budget is back.
        clock.advance(hours=24)
        assert post_sign_in(attacker, token, "ada@example.org", PASSWORD).status_code == 303
    print(f"S1: 200 wrong passwords -> {statuses.count(429)} refused with 429, {budget} checked by the KDF")


# --- S2: a classroom behind one address -------------------------------------------------------------


def test_s2_a_classroom_signs_in_from_one_address_but_a_spray_is_cut_off(app, client, clock):
    db = app.state.services.db
    passwords = app.state.services.passwords
    hashed = passwords.hash(PASSWORD)
    emails = [f"student{n}@example.org" for n in range(40)]
    for email in emails:
        repository.create_user(db, email=email, display_name=email, password_hash=hashed, is_admin=False)
    token = csrf_token(client)
    for email in emails:  # 40 people sign in within five minutes
        with browser(app) as student:
            student.cookies.update(client.cookies)
            assert post_sign_in(student, token, email, PASSWORD).status_code == 303, email
        clock.advance(seconds=7)
    # Then a spray from the same address, spread over the 40 accounts (under each account's budget), with
    # a forged X-Forwarded-For on every request: the per-address budget ends it, whatever the header says.
    statuses = []
    for n in range(300):
        forged = f"198.51.100.{n % 250}"
        response = post_sign_in(client, token, emails[n % 40], f"spray {n}", **{"x-forwarded-for": forged})
        statuses.append(response.status_code)
    allowed = auth.SIGN_IN_PER_ADDRESS.count - len(emails)
    assert statuses == [401] * allowed + [429] * (300 - allowed)
    assert all(
        repository.find_rate_limit(db, key=auth.SIGN_IN_PER_ADDRESS.key(f"198.51.100.{n}")) is None for n in range(250)
    )
    print(f"S2: 40/40 classroom sign-ins; spray of 300 -> {statuses.count(429)} refused with 429 (per-address budget)")


# --- S3: enumeration ---------------------------------------------------------------------------------


def test_s3_a_wrong_password_and_an_unknown_email_look_and_cost_the_same(app, client):
    signed_up(client)
    passwords = app.state.services.passwords
    with browser(app) as other:
        token = csrf_token(other)
        calls = passwords.verify_calls
        known = post_sign_in(other, token, "ada@example.org", "not the password at all")
        known_calls = passwords.verify_calls - calls
        calls = passwords.verify_calls
        unknown = post_sign_in(other, token, "nobody@example.org", "not the password at all")
        unknown_calls = passwords.verify_calls - calls
    assert known.status_code == unknown.status_code == 401
    assert known_calls == unknown_calls == 1
    assert sorted(known.headers.keys()) == sorted(unknown.headers.keys())
    for name in ("content-type", "cache-control", "content-security-policy"):
        assert known.headers[name] == unknown.headers[name]
    # The body differs only by the email typed back into the form.
    assert known.text.replace("ada@example.org", "EMAIL") == unknown.text.replace("nobody@example.org", "EMAIL")


# --- S4: password input ------------------------------------------------------------------------------


def test_s4_a_huge_password_is_refused_at_sign_up_and_sign_in_without_hashing(app, client, monkeypatch):
    passwords = app.state.services.passwords
    hashed = []
    original = passwords.hash
    monkeypatch.setattr(passwords, "hash", lambda value: hashed.append(len(value)) or original(value))
    huge = "x" * 1_000_000  # under the 1 MiB body limit, so the route itself must refuse it
    response = sign_up(client, password=huge)
    assert response.status_code == 422
    assert "at most 128" in page(response).find(id="form-error").get_text()
    assert hashed == []
    signed_up(client)
    calls = passwords.verify_calls
    with browser(app) as other:
        assert sign_in(other, password=huge).status_code == 401
    assert passwords.verify_calls == calls


@pytest.mark.parametrize("password", ["p" * 128, "🔐 correct horse 🐎 battery staple ✓", " \t spaces everywhere \t "])
def test_s4_passwords_up_to_128_characters_round_trip_exactly(app, client, password):
    assert sign_up(client, password=password).status_code == 303
    stored = repository.find_user_by_email(app.state.services.db, email="ada@example.org").password_hash
    assert re.fullmatch(r"\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+", stored)
    with browser(app) as other:
        assert sign_in(other, password=password).status_code == 303
    with browser(app) as other:
        assert sign_in(other, password=password[:-1]).status_code == 401  # no truncation


def test_s4_password_fields_allow_paste_and_password_managers(app, client):
    pages = {"/sign-up": "new-password", "/sign-in": "current-password"}
    for path, autocomplete in pages.items():
        html = page(client.get(path))
        field = html.find("input", attrs={"type": "password"})
        assert field["autocomplete"] == autocomplete, path
        assert not [name for name in field.attrs if name.startswith("on")], path
    signed_up(client)
    for field in page(client.get("/account")).find_all("input", attrs={"type": "password"}):
        assert field.get("autocomplete") in {"current-password", "new-password"}, field
        assert not [name for name in field.attrs if name.startswith("on")], field


# --- S5: sessions ------------------------------------------------------------------------------------


def test_s5_each_sign_in_gets_a_fresh_random_token_and_a_planted_one_is_replaced(app, client):
    signed_up(client)
    tokens = []
    for _ in range(10):
        with browser(app) as other:
            other.cookies.set("coach_session", "attacker-chosen-session-value-0123456789")  # fixation attempt
            response = sign_in(other)
            tokens.append(cookie_value(response))
    assert len(set(tokens)) == 10
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43,}", token) for token in tokens)  # >= 256 bits, base64url
    with browser(app) as attacker:
        attacker.cookies.set("coach_session", "attacker-chosen-session-value-0123456789")
        assert not signed_in_as(attacker)


def test_s5_signing_in_again_ends_the_session_the_browser_had(app, client):
    response = sign_up(client)
    first = cookie_value(response)
    assert cookie_value(sign_in(client)) != first
    with browser(app) as replay:
        replay.cookies.set("coach_session", first)
        assert not signed_in_as(replay)


@pytest.mark.parametrize("how", ["sign-out", "delete-account", "password-change", "disabled", "end-others"])
def test_s5_an_old_cookie_replayed_after_the_session_ended_gets_nothing(app, client, how):
    signed_up(client)
    with browser(app) as laptop:
        old = cookie_value(sign_in(laptop))
        assert signed_in_as(laptop)
        if how == "sign-out":
            post_form(laptop, "/sign-out", from_page="/")
        elif how == "delete-account":
            assert post_form(laptop, "/account/delete", {"password": PASSWORD}).status_code == 303
        elif how == "password-change":
            data = {"current_password": PASSWORD, "new_password": "a completely new passphrase"}
            assert post_form(client, "/account/password", data).status_code == 303
        elif how == "disabled":
            repository.set_user_disabled(app.state.services.db, user_id=user_id(app, "ada@example.org"), disabled=True)
        else:
            assert post_form(client, "/account/sessions/end-others").status_code == 303
    with browser(app) as replay:
        replay.cookies.set("coach_session", old)
        assert replay.get("/history", follow_redirects=False).status_code == 303
        assert replay.get("/account/export", follow_redirects=False).status_code == 303
        htmx = replay.post(f"/practice/{GOOD_QUESTION}/draft", data={"answer": "x"}, headers={"hx-request": "true"})
        assert htmx.status_code in (401, 403)
    if how in ("password-change", "end-others"):
        assert signed_in_as(client)  # the browser that asked keeps its session


def test_s5_a_session_ends_after_thirty_idle_minutes(app, client, clock):
    signed_up(client)
    clock.advance(minutes=29)
    assert signed_in_as(client)  # activity moves the idle deadline
    clock.advance(minutes=29)
    assert signed_in_as(client)
    clock.advance(minutes=30, seconds=1)
    assert not signed_in_as(client)


def test_s5_a_busy_session_still_ends_twelve_hours_after_sign_in(app, client, clock):
    signed_up(client)
    for _ in range(35):  # a request every 20 minutes for 11 h 40 min
        clock.advance(minutes=20)
        assert signed_in_as(client)
    clock.advance(minutes=20, seconds=1)
    assert not signed_in_as(client)


def test_s5_the_account_page_lists_sessions_and_offers_to_end_the_others(app, client):
    signed_up(client)
    with browser(app) as laptop:
        sign_in(laptop)
        html = page(client.get("/account"))
        form = html.find("form", attrs={"action": "/account/sessions/end-others"})
        assert form is not None
        assert len(repository.list_auth_sessions(app.state.services.db, user_id=1)) == 2


# --- S6: the session ends while an answer is being written ------------------------------------------


def test_s6_an_interview_answer_sent_after_the_session_ended_is_kept_through_sign_in(app, client, clock):
    signed_up(client)
    started = post_form(client, "/interviews", {"count": "1"}, from_page="/interviews/new")
    session_path = started.headers["location"]
    form_token = csrf_token(client, session_path)
    clock.advance(minutes=45)  # the person wrote for 45 minutes without a request: the session is over
    # Autosave says so without leaving the page (no redirect that would drop the text).
    autosave = client.post(
        f"{session_path}/draft", data={"answer": "half"}, headers={"hx-request": "true", "x-csrf-token": form_token}
    )
    assert autosave.status_code == 401
    assert "hx-redirect" not in autosave.headers
    response = client.post(f"{session_path}/answer", data={"csrf_token": form_token, "answer": ANSWER})
    assert response.status_code == 401
    html = page(response)
    assert html.find("textarea", attrs={"name": "pending_answer"}).get_text() == ANSWER
    pending = html.find("input", attrs={"name": "pending_question"})["value"]
    again = sign_in(client, pending_question=pending, pending_answer=ANSWER)
    assert again.headers["location"] == f"{session_path}?restored=1"
    restored = page(client.get(again.headers["location"]))
    assert restored.find("textarea", attrs={"name": "answer"}).get_text() == ANSWER


def test_s6_a_pending_answer_cannot_be_written_into_another_user_s_interview(app, client):
    signed_up(client)
    started = post_form(client, "/interviews", {"count": "1"}, from_page="/interviews/new")
    session_id = started.headers["location"].rsplit("/", 1)[-1]
    with browser(app) as bob:
        signed_up(bob, "bob@example.org")
        response = sign_in(bob, "bob@example.org", pending_question=f"interview:{session_id}", pending_answer="mine")
        assert response.status_code == 303 and response.headers["location"] == "/"
    page_html = page(client.get(f"/interviews/{session_id}"))
    assert "mine" not in page_html.find("textarea", attrs={"name": "answer"}).get_text()
